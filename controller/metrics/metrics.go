// Package metrics renders the fleet's state as Prometheus metrics at scrape
// time: one Exporter over the fleet, so a room that is gone leaves no stale
// series behind.
//
// Every family is defined once, with the series a room gives it (family.each),
// and WriteText writes them straight out in the text exposition format: the
// scrape path (Handler). At 10,000 rooms the fleet is about 550,000 series,
// and a registry's gather, sort and expfmt encoding of them takes seconds.
// The tests hold a second renderer, a prometheus.Collector over the same
// families (collect_test.go), and check that the two agree.
package metrics

import (
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/wire"
)

// kind says which part of a room's state a family shows.
type kind int

const (
	kindState kind = iota
	kindStateSince
	kindLastReport
	kindAgentInfo
	kindRuleProblem
	kindCheckTook
	kindDevice
	kindFirmwareOK
	kindMeasurement
)

// family is one metric family of the fleet.
type family struct {
	kind    kind
	name    string
	help    string
	labels  []string // in the order each fills them
	counter bool

	check, measurement string  // kindMeasurement: the report's names
	index              int     // kindMeasurement: the measurement's place among its check's (fleet.MeasurementIndex)
	scale              float64 // kindMeasurement: from the agent's unit to the metric's

	order    []int        // label indexes by label name: the exposition's order
	header   []byte       // its # HELP and # TYPE lines
	lastSize atomic.Int64 // bytes of its series at the last WriteText
}

// Exporter exports the fleet (WriteText, Handler).
type Exporter struct {
	fleet    *fleet.Fleet
	families []*family // by name
}

// New returns a collector over the fleet.
func New(f *fleet.Fleet) *Exporter {
	room := []string{"site", "room"}
	with := func(extra ...string) []string { return append(slices.Clone(room), extra...) }
	c := &Exporter{fleet: f, families: []*family{
		{kind: kindState, name: "siaprapat_room_state",
			help:   "Readiness of the room, as a state set: 1 for its current state (ready, degraded, not_ready, offline, unknown), 0 for the others.",
			labels: with("state")},
		{kind: kindStateSince, name: "siaprapat_room_state_since_timestamp_seconds",
			help: "Unix time since which the room has been in its current state.", labels: with()},
		{kind: kindLastReport, name: "siaprapat_room_last_report_timestamp_seconds",
			help: "Unix time the room's newest report was measured.", labels: with()},
		{kind: kindAgentInfo, name: "siaprapat_room_agent_info",
			help:   "The agent of the room's newest report: its version and the standard it judged by.",
			labels: with("agent_version", "standard")},
		{kind: kindRuleProblem, name: "siaprapat_room_rule_problem",
			help:   "One series per cause in the room's newest report, with its verdict (warn, fail, error): a rule of the standard that did not pass, or a check that failed, errored or was not checked without a rule to say so (then rule is the check's name; the API gives the reason). Absent for offline and unknown rooms.",
			labels: with("check", "target", "rule", "verdict")},
		{kind: kindCheckTook, name: "siaprapat_room_check_duration_seconds",
			help: "How long each check of the room's newest report took.", labels: with("check", "target")},
		{kind: kindDevice, name: "siaprapat_peripheral_info",
			help:   "A USB device in the room's newest report: where it is plugged, its id, name, profiled model and kind, and firmware. Absent for offline and unknown rooms.",
			labels: with("path", "id", "name", "model", "kind", "firmware")},
		{kind: kindFirmwareOK, name: "siaprapat_peripheral_firmware_ok",
			help:   "1 when a profiled device's firmware is neither known bad nor below its profile's minimum, 0 when it is; absent when its profile gives no firmware figures.",
			labels: with("path", "id")},
	}}
	for _, m := range wire.Measurements {
		name, help, scale := m.Name, m.Help, 1.0
		if base, ok := strings.CutSuffix(name, "_bits_per_second"); ok {
			// Prometheus's base unit is the byte: agents measure bits per
			// second, as links are sold; the metric says bytes.
			name, help, scale = base+"_bytes_per_second", help+" In bytes per second (the agent measures bits per second; this is that / 8).", 1.0/8
		} else if base, ok := strings.CutSuffix(name, "_bits"); ok {
			// A bit depth (sample_bits), not an amount of data: named so,
			// since a _bits metric would be asked to be in bytes.
			name = base + "_bit_depth"
		}
		c.families = append(c.families, &family{kind: kindMeasurement, name: "siaprapat_" + m.Check + "_" + name,
			help:   help + " From the room's newest report; absent for offline and unknown rooms.",
			labels: with("target"), counter: m.Counter(), check: m.Check, measurement: m.Name, scale: scale,
			index: fleet.MeasurementIndex(m.Check, m.Name)})
	}
	slices.SortFunc(c.families, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	for _, f := range c.families {
		f.order = make([]int, len(f.labels))
		for i := range f.order {
			f.order[i] = i
		}
		slices.SortFunc(f.order, func(a, b int) int { return strings.Compare(f.labels[a], f.labels[b]) })
		typ := "gauge"
		if f.counter {
			typ = "counter"
		}
		f.header = []byte("# HELP " + f.name + " " + helpEscaper.Replace(f.help) + "\n# TYPE " + f.name + " " + typ + "\n")
	}
	return c
}

// each calls emit for every series the room gives the family, with its
// value and its label values (in labels, which it overwrites).
func (f *family) each(v *fleet.View, labels []string, emit func(float64, []string)) {
	labels[0], labels[1] = v.Site, v.Room.Room
	switch f.kind {
	case kindState:
		for _, s := range fleet.States {
			labels[2] = string(s)
			emit(boolValue(s == v.State), labels)
		}
		return
	case kindStateSince:
		emit(unix(v.Since), labels)
		return
	}
	rep := v.Report
	if rep == nil {
		return
	}
	switch f.kind {
	case kindLastReport:
		emit(unix(rep.MeasuredAt), labels)
		return
	case kindAgentInfo:
		labels[2], labels[3] = rep.AgentVersion(), rep.Standard()
		emit(1, labels)
		return
	}
	if v.State == fleet.Offline || v.State == fleet.Unknown {
		return
	}
	switch f.kind {
	case kindDevice, kindFirmwareOK:
		f.devices(rep.Devices, labels, emit)
		return
	case kindRuleProblem:
		problems(rep.Cut(), labels, emit)
		return
	}
	for i := range rep.Checks {
		cr := &rep.Checks[i]
		if f.kind == kindMeasurement && cr.Check() != f.check || repeatedTarget(rep.Checks, i) {
			continue // the same target twice would be a duplicate series
		}
		switch f.kind {
		case kindCheckTook:
			labels[2], labels[3] = cr.Check(), cr.Target()
			emit(cr.DurationSeconds, labels)
		case kindMeasurement:
			// A measurement not in the catalogue is kept in the report, not exported.
			if val, ok := rep.Value(i, f.index); ok {
				labels[2] = cr.Target()
				emit(val*f.scale, labels)
			}
		}
	}
}

// problems renders the causes in a report (readiness.Problems), one series
// each: a rule that did not pass by its name, a check that decided its
// verdict itself by the check's name. A check, target and rule seen before
// would be a duplicate series: only the first counts.
func problems(rep *wire.Report, labels []string, emit func(float64, []string)) {
	type series struct{ check, target, rule string }
	var seen []series
	for c, r := range readiness.Problems(rep) {
		s := series{c.Check, c.Target, c.Check}
		verdict := c.Verdict
		if r != nil {
			s.rule, verdict = r.Rule, r.Verdict
		}
		if slices.Contains(seen, s) {
			continue
		}
		seen = append(seen, s)
		labels[2], labels[3], labels[4], labels[5] = s.check, s.target, s.rule, string(verdict)
		emit(1, labels)
	}
}

// devices renders a report's device list: one series per port.
func (f *family) devices(devices []fleet.Device, labels []string, emit func(float64, []string)) {
	for i := range devices {
		d := devices[i].Peripheral()
		if slices.ContainsFunc(devices[:i], func(e fleet.Device) bool { return e.Path() == d.Path }) {
			continue
		}
		labels[2], labels[3] = d.Path, d.ID
		if f.kind == kindDevice {
			labels[4], labels[5], labels[6], labels[7] = d.Name, d.Model, d.Kind, d.Firmware
			emit(1, labels)
			continue
		}
		switch d.FirmwareStatus {
		case wire.FirmwareOK, wire.FirmwareBelowRecommended:
			emit(1, labels)
		case wire.FirmwareBelowMinimum, wire.FirmwareKnownBad:
			emit(0, labels)
		}
	}
}

// repeatedTarget reports whether a check result before i has the same
// check and target: only the first counts.
func repeatedTarget(checks []fleet.Check, i int) bool {
	for j := range i {
		if checks[j].Check() == checks[i].Check() && checks[j].Target() == checks[i].Target() {
			return true
		}
	}
	return false
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
