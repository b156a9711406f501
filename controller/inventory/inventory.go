// Package inventory judges the devices an agent reports against what the
// room should have (from the rooms file): a camera unplugged, a
// speakerphone swapped for another model.
package inventory

import (
	"fmt"
	"slices"
	"strings"

	"github.com/siaprapat/siaprapat/controller/rooms"
	"github.com/siaprapat/siaprapat/wire"
)

// label names an expectation: "webcam", "speakerphone Jabra Speak 510".
func label(e rooms.Expect) string {
	s := e.Kind
	if e.Model != "" {
		s += " " + e.Model
	}
	return s
}

// Judge compares a report's devices with what the room should have and
// returns one inventory result per expected kind. It returns nil when the
// room expects nothing, and a skipped result when the report lists no
// devices because the agent did not run its peripherals check.
func Judge(expect []rooms.Expect, rep *wire.Report) []wire.CheckResult {
	if len(expect) == 0 {
		return nil
	}
	ran := false
	for _, c := range rep.Checks {
		ran = ran || c.Check == wire.CheckPeripherals && c.Verdict != wire.Skipped && c.Verdict != wire.Error
	}
	if !ran {
		return []wire.CheckResult{{
			Check: wire.CheckInventory, Target: "room", Verdict: wire.Skipped,
			Reason: "the agent's report has no device list (its peripherals check did not run)",
		}}
	}
	used := make([]bool, len(rep.Peripherals))
	results := make([]wire.CheckResult, 0, len(expect))
	// Exact models first, so that "any webcam" cannot take the one
	// "webcam Logitech C920" needs.
	order := make([]int, len(expect))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return boolInt(expect[a].Model == "") - boolInt(expect[b].Model == "")
	})
	byIndex := make([]wire.CheckResult, len(expect))
	for _, i := range order {
		byIndex[i] = judgeOne(expect[i], rep.Peripherals, used)
	}
	names := map[string]int{}
	for _, r := range byIndex {
		// Rule names are unique within the room: expect_webcam, expect_webcam_2...
		base := "expect_" + r.Target[:strings.IndexByte(r.Target+" ", ' ')]
		names[base]++
		if n := names[base]; n > 1 {
			base = fmt.Sprintf("%s_%d", base, n)
		}
		r.Rules[0].Rule = base
		results = append(results, r)
	}
	return results
}

func judgeOne(e rooms.Expect, devices []wire.Peripheral, used []bool) wire.CheckResult {
	res := wire.CheckResult{Check: wire.CheckInventory, Target: label(e)}
	present := 0
	for i, d := range devices {
		if present < e.Count && !used[i] && d.Kind == e.Kind && (e.Model == "" || d.Model == e.Model) {
			used[i] = true
			present++
		}
	}
	res.Measurements = map[string]float64{"devices_expected": float64(e.Count), "devices_present": float64(present)}
	rule := wire.RuleResult{Verdict: wire.Pass, Want: fmt.Sprintf("%d %s", e.Count, label(e))}
	if present < e.Count {
		rule.Verdict = wire.Fail
		rule.Reason = fmt.Sprintf("%s: expected %d, found %d", label(e), e.Count, present)
		if stand := standIns(e, devices, used); len(stand) > 0 {
			rule.Reason += "; in its place: " + strings.Join(stand, ", ")
		} else {
			rule.Reason += " (unplugged?)"
		}
	}
	res.Rules = []wire.RuleResult{rule}
	res.Verdict = rule.Verdict
	return res
}

// standIns names the unclaimed devices that could be the expected one
// swapped: another model of the kind, or an unprofiled device with the
// same kind of interface.
func standIns(e rooms.Expect, devices []wire.Peripheral, used []bool) []string {
	var out []string
	for i, d := range devices {
		if used[i] {
			continue
		}
		switch {
		case d.Kind == e.Kind:
			out = append(out, fmt.Sprintf("%s (%s) at %s", d.Name, d.ID, d.Path))
		case d.Kind == "" && (slices.Contains(wire.VideoKinds, e.Kind) && slices.Contains(d.Interfaces, "video") ||
			slices.Contains(wire.AudioKinds, e.Kind) && slices.Contains(d.Interfaces, "audio")):
			out = append(out, fmt.Sprintf("an unknown model, %s (%s) at %s", d.Name, d.ID, d.Path))
		}
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
