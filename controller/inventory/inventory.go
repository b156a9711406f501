// Package inventory knows what each room should have (a YAML file of
// expected devices per room) and judges the devices an agent reports
// against it: a camera unplugged, a speakerphone swapped for another model.
package inventory

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/siaprapat/siaprapat/agent/report"
	"github.com/siaprapat/siaprapat/internal/yamlstrict"
)

// Schema is the schema identifier of a rooms file.
const Schema = "siaprapat.rooms/v1"

// Config is the rooms file.
type Config struct {
	Schema string `yaml:"schema"`
	Rooms  []Room `yaml:"rooms"`

	byRoom map[string][]Expect
}

// Room lists what one room should have.
type Room struct {
	Site    string   `yaml:"site"`
	Room    string   `yaml:"room"`
	Devices []Expect `yaml:"devices"`
}

// Expect is one kind of device a room should have: any model of the kind,
// or one model (the hardware profile's model name).
type Expect struct {
	Kind  string `yaml:"kind"`
	Model string `yaml:"model"`
	Count int    `yaml:"count"` // default 1
}

// Load reads and validates a rooms file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rooms file: %w", err)
	}
	var c Config
	if err := yamlstrict.Decode(path, data, &c, map[string]string{
		"inventory.Config": "the rooms file", "inventory.Room": "a room", "inventory.Expect": "a device",
	}); err != nil {
		return nil, err
	}
	if err := c.validate(path); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) validate(file string) error {
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s: field %s: %s", file, field, fmt.Sprintf(format, args...)))
	}
	if c.Schema != Schema {
		bad("schema", "%q is not supported; want %s", c.Schema, Schema)
	}
	c.byRoom = map[string][]Expect{}
	for i := range c.Rooms {
		r := &c.Rooms[i]
		at := fmt.Sprintf("rooms[%d]", i)
		if err := report.CheckName("site", r.Site); err != nil {
			bad(at+".site", "%v", err)
		}
		if err := report.CheckName("room", r.Room); err != nil {
			bad(at+".room", "%v", err)
		}
		k := r.Site + "/" + r.Room
		if _, dup := c.byRoom[k]; dup {
			bad(at, "room %s is listed twice", k)
		}
		for j := range r.Devices {
			d := &r.Devices[j]
			dat := fmt.Sprintf("%s.devices[%d]", at, j)
			if !slices.Contains(report.DeviceKinds, d.Kind) {
				bad(dat+".kind", "%q is not a kind; want one of %s", d.Kind, strings.Join(report.DeviceKinds, ", "))
			}
			if d.Count == 0 {
				d.Count = 1
			}
			if d.Count < 1 || d.Count > 16 {
				bad(dat+".count", "%d is out of range; want 1 to 16", d.Count)
			}
		}
		c.byRoom[k] = r.Devices
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// For returns what a room should have; nil when the file does not list it.
func (c *Config) For(site, room string) []Expect {
	if c == nil {
		return nil
	}
	return c.byRoom[site+"/"+room]
}

func (e Expect) String() string {
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
func Judge(expect []Expect, rep *report.Report) []report.CheckResult {
	if len(expect) == 0 {
		return nil
	}
	ran := false
	for _, c := range rep.Checks {
		ran = ran || c.Check == report.CheckPeripherals && c.Verdict != report.Skipped && c.Verdict != report.Error
	}
	if !ran {
		return []report.CheckResult{{
			Check: report.CheckInventory, Target: "room", Verdict: report.Skipped,
			Reason: "the agent's report has no device list (its peripherals check did not run)",
		}}
	}
	used := make([]bool, len(rep.Peripherals))
	results := make([]report.CheckResult, 0, len(expect))
	// Exact models first, so that "any webcam" cannot take the one
	// "webcam Logitech C920" needs.
	order := make([]int, len(expect))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return boolInt(expect[a].Model == "") - boolInt(expect[b].Model == "")
	})
	byIndex := make([]report.CheckResult, len(expect))
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

func judgeOne(e Expect, devices []report.Peripheral, used []bool) report.CheckResult {
	res := report.CheckResult{Check: report.CheckInventory, Target: e.String()}
	present := 0
	for i, d := range devices {
		if present < e.Count && !used[i] && d.Kind == e.Kind && (e.Model == "" || d.Model == e.Model) {
			used[i] = true
			present++
		}
	}
	res.Measurements = map[string]float64{"devices_expected": float64(e.Count), "devices_present": float64(present)}
	rule := report.RuleResult{Verdict: report.Pass, Want: fmt.Sprintf("%d %s", e.Count, e.String())}
	if present < e.Count {
		rule.Verdict = report.Fail
		rule.Reason = fmt.Sprintf("%s: expected %d, found %d", e.String(), e.Count, present)
		if stand := standIns(e, devices, used); len(stand) > 0 {
			rule.Reason += "; in its place: " + strings.Join(stand, ", ")
		} else {
			rule.Reason += " (unplugged?)"
		}
	}
	res.Rules = []report.RuleResult{rule}
	res.Verdict = rule.Verdict
	return res
}

// standIns names the unclaimed devices that could be the expected one
// swapped: another model of the kind, or an unprofiled device with the
// same kind of interface.
func standIns(e Expect, devices []report.Peripheral, used []bool) []string {
	var out []string
	for i, d := range devices {
		if used[i] {
			continue
		}
		switch {
		case d.Kind == e.Kind:
			out = append(out, fmt.Sprintf("%s (%s) at %s", d.Name, d.ID, d.Path))
		case d.Kind == "" && (slices.Contains(report.VideoKinds, e.Kind) && slices.Contains(d.Interfaces, "video") ||
			slices.Contains(report.AudioKinds, e.Kind) && slices.Contains(d.Interfaces, "audio")):
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
