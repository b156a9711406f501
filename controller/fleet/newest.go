package fleet

import (
	"maps"
	"slices"
	"time"
	"unique"

	"github.com/siaprapat/siaprapat/wire"
)

// Newest is what the fleet keeps of a room's newest report: what its
// state, its causes, its metrics and the planner read, and no more. The
// whole report stays in the store (Fleet.NewestReport reads it back).
//
// It is a few hundred bytes where the decoded report is several KiB: the
// catalogue's measurements are a flat list of numbers, names a room shares
// with others (checks, devices, versions) are interned, and of the checks
// and rules only those that did not pass are kept whole, for the causes.
// A Newest is never changed once made: views share it.
type Newest struct {
	ID         string
	MeasuredAt time.Time
	Verdict    wire.RoomVerdict
	Checks     []Check  // every check result, in report order
	Devices    []Device // the report's peripherals

	// values are the catalogue's measurements of each check, in catalogue
	// order; Check.first says where a check's start.
	values []float64

	agentVersion, standard unique.Handle[string]
	// cut is the report as readiness reads it (ID, MeasuredAt, Verdict and
	// the checks that did not pass, whole); nil when it would say nothing.
	cut *wire.Report
}

// Check is one check result of the newest report, without its rules.
type Check struct {
	DurationSeconds float64

	name, target, code, verdict unique.Handle[string]
	first, count                uint16 // where the check's measurements are in Newest.values
	present                     uint32 // which of them the report has (bit m for the m-th); at most 32 a check (maxCatalogued)
}

// Device is one peripheral of the newest report: what its metrics show.
type Device struct {
	path, id, name, model, kind, firmware, status unique.Handle[string]
}

// AgentVersion is the version of the agent that sent the report.
func (n *Newest) AgentVersion() string { return n.agentVersion.Value() }

// Standard is the name and version of the standard that judged the report.
func (n *Newest) Standard() string { return n.standard.Value() }

// Cut is the report as readiness reads it: its id, measured_at and verdict,
// and, whole, each check that did not pass or has a rule that did not
// pass; readiness.Problems and readiness.OfReport give the same for it as
// for the whole report. It is nil when the report gives no cause (ready or
// degraded with nothing to say). It is shared: do not change it.
func (n *Newest) Cut() *wire.Report {
	if n == nil {
		return nil
	}
	return n.cut
}

// Check is the check's name.
func (c *Check) Check() string { return c.name.Value() }

// Target is the check's target (the host, one camera...).
func (c *Check) Target() string { return c.target.Value() }

// Code is the check's own code (wire.CodeNoDevice...), or empty.
func (c *Check) Code() string { return c.code.Value() }

// Verdict is the check's verdict.
func (c *Check) Verdict() wire.Verdict { return wire.Verdict(c.verdict.Value()) }

// Value is the measurement at index m of its catalogue (MeasurementIndex)
// of the report's check at index c, and whether the report has it.
func (n *Newest) Value(c, m int) (float64, bool) {
	check := &n.Checks[c]
	if m < 0 || m >= int(check.count) || check.present&(1<<m) == 0 {
		return 0, false
	}
	return n.values[int(check.first)+m], true
}

// Peripheral is the device as the report lists it, with the fields its
// metrics show (path, id, name, model, kind, firmware and its status).
func (d *Device) Peripheral() wire.Peripheral {
	return wire.Peripheral{Path: d.path.Value(), ID: d.id.Value(), Name: d.name.Value(), Model: d.model.Value(),
		Kind: d.kind.Value(), Firmware: d.firmware.Value(), FirmwareStatus: d.status.Value()}
}

// Path is where the device is plugged.
func (d *Device) Path() string { return d.path.Value() }

// maxCatalogued bounds the catalogued measurements of one check (a bit
// each in Check.present).
const maxCatalogued = 32

// catalogue lists, for each check, the names of its catalogued
// measurements (wire.Measurements) in catalogue order.
var catalogue = func() map[string][]string {
	out := map[string][]string{}
	for _, m := range wire.Measurements {
		out[m.Check] = append(out[m.Check], m.Name)
	}
	return out
}()

// MeasurementIndex is the position of a catalogued measurement among its
// check's (for Check.Value), or -1 when the catalogue lacks it.
func MeasurementIndex(check, name string) int {
	return slices.Index(catalogue[check], name)
}

// newNewest cuts a report down to what the fleet keeps.
func newNewest(rep *wire.Report) *Newest {
	n := &Newest{ID: rep.ID, MeasuredAt: rep.MeasuredAt, Verdict: roomVerdict(rep.Verdict),
		agentVersion: unique.Make(rep.AgentVersion), standard: unique.Make(rep.Standard)}
	total := 0
	for i := range rep.Checks {
		total += len(catalogue[rep.Checks[i].Check])
	}
	n.values = make([]float64, total)
	at := 0
	n.Checks = make([]Check, len(rep.Checks))
	var problems []wire.CheckResult
	for i := range rep.Checks {
		c := &rep.Checks[i]
		n.Checks[i] = Check{DurationSeconds: c.DurationSeconds, name: unique.Make(c.Check), target: unique.Make(c.Target),
			code: unique.Make(c.Code), verdict: unique.Make(string(c.Verdict)), first: uint16(at), count: uint16(len(catalogue[c.Check]))}
		for m, name := range catalogue[c.Check] {
			if v, ok := c.Measurements[name]; ok {
				n.values[at] = v
				n.Checks[i].present |= 1 << m
			}
			at++
		}
		if cut, ok := cutCheck(c); ok {
			problems = append(problems, cut)
		}
	}
	if len(rep.Peripherals) > 0 {
		n.Devices = make([]Device, len(rep.Peripherals))
		for i := range rep.Peripherals {
			p := &rep.Peripherals[i]
			n.Devices[i] = Device{path: unique.Make(p.Path), id: unique.Make(p.ID), name: unique.Make(p.Name), model: unique.Make(p.Model),
				kind: unique.Make(p.Kind), firmware: unique.Make(p.Firmware), status: unique.Make(p.FirmwareStatus)}
		}
	}
	if len(problems) > 0 || n.Verdict != wire.Ready && n.Verdict != wire.Degraded {
		n.cut = &wire.Report{ID: n.ID, Site: rep.Site, Room: rep.Room, MeasuredAt: n.MeasuredAt, Verdict: n.Verdict,
			Checks: slices.Clip(problems)}
	}
	return n
}

// cutCheck returns what readiness reads of a check result (see Cut), and
// whether it reads anything: the check when it did not pass (by itself, or
// by one of its rules), with only the rules that did not pass. Readiness
// gives no cause for the rest. The cut is a copy: the fleet keeps nothing
// of the decoded report.
func cutCheck(c *wire.CheckResult) (wire.CheckResult, bool) {
	var rules []wire.RuleResult
	for i := range c.Rules {
		if r := &c.Rules[i]; !passed(r.Verdict) {
			rule := *r
			if r.Observed != nil {
				v := *r.Observed
				rule.Observed = &v
			}
			rules = append(rules, rule)
		}
	}
	switch {
	case len(rules) > 0:
	case len(c.Rules) == 0 && !passed(c.Verdict):
		// A check that decided its verdict itself.
	case len(c.Rules) > 0 && (c.Verdict == wire.Fail || c.Verdict == wire.Error):
		// Its rules passed, but it failed anyway.
	default:
		return wire.CheckResult{}, false
	}
	out := wire.CheckResult{Check: c.Check, Target: c.Target, Verdict: c.Verdict, Reason: c.Reason, Code: c.Code, Rules: rules}
	if c.Check == wire.CheckInventory {
		// Readiness words an inventory rule with its check's counts.
		out.Measurements = maps.Clone(c.Measurements)
	}
	return out, true
}

func passed(v wire.Verdict) bool { return v == wire.Pass || v == wire.Skipped }

func roomVerdict(v wire.RoomVerdict) wire.RoomVerdict {
	for _, c := range [...]wire.RoomVerdict{wire.Ready, wire.Degraded, wire.NotReady} {
		if v == c {
			return c
		}
	}
	return v
}
