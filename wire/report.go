// Package report is the wire format shared by the agent and the controller:
// the Report an agent publishes, its checks and rule verdicts, the MQTT topics
// they travel on, and the decoder that guards the controller against bad input.
package wire

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Schema is the schema identifier of the reports this package writes.
// Decoders accept any minor revision of major version 1.
const Schema = "siaprapat.report/v1"

// MaxBytes is the largest encoded report accepted on the wire. A host report
// is about 2 KiB; the limit leaves room for many cameras, microphones and
// peripherals while keeping a hostile payload from costing the controller memory.
const MaxBytes = 256 << 10

// Verdict is the outcome of one rule or one check.
type Verdict string

const (
	Pass    Verdict = "pass"
	Warn    Verdict = "warn"
	Fail    Verdict = "fail"
	Error   Verdict = "error"   // could not measure; the reason says why
	Skipped Verdict = "skipped" // not applicable here or not run now (device in use, no such hardware)
)

// Codes of a check that decided its own verdict (CheckResult.Code).
const (
	CodeNoDevice      = "no_device"      // no device of the check's kind at all ("no camera found")
	CodeDeviceMissing = "device_missing" // the device asked for (--camera-device, a named microphone) is absent
	CodeInUse         = "in_use"         // the device is held by another program (a meeting): not opened
	CodeTimeout       = "timeout"        // the check did not finish within its deadline
	CodeNotChecked    = "not_checked"    // the standard has rules for this check but the report lacks it (set by the controller)
	CodeNoSoundServer = "no_sound_server"
	CodeNotConfigured = "not_configured" // the check has nothing to test against (no probe URL)
	CodeHeldBack      = "held_back"      // a meeting in the room held an intrusive check back (figures repeated, if any)
	CodeLinkBusy      = "link_busy"      // the link was busy: the network test was not started (figures repeated, if any)
)

// RoomVerdict is the readiness of a room according to one report.
type RoomVerdict string

const (
	Ready    RoomVerdict = "ready"     // every rule passed
	Degraded RoomVerdict = "degraded"  // warnings only
	NotReady RoomVerdict = "not_ready" // any fail or error
)

// Report is what an agent publishes after running its checks.
type Report struct {
	Schema       string        `json:"schema"`
	ID           string        `json:"id"`
	Site         string        `json:"site"`
	Room         string        `json:"room"`
	AgentVersion string        `json:"agent_version"`
	MeasuredAt   time.Time     `json:"measured_at"`
	Standard     string        `json:"standard,omitempty"` // name and version of the standard that judged it
	Verdict      RoomVerdict   `json:"verdict"`
	Checks       []CheckResult `json:"checks"`
	Peripherals  []Peripheral  `json:"peripherals,omitempty"` // the USB devices, when the peripherals check ran
}

// CheckResult is one check of one target (the host, one camera, one microphone...).
type CheckResult struct {
	Check   string  `json:"check"`
	Target  string  `json:"target"`
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason,omitempty"`
	// Code says, for a check that decided its verdict itself (failed,
	// errored or skipped without rules), what happened in a word the
	// controller can put in people's languages: one of the Code constants,
	// or empty when only Reason says. Unknown codes are kept, not refused.
	Code            string             `json:"code,omitempty"`
	DurationSeconds float64            `json:"duration_seconds"`
	Measurements    map[string]float64 `json:"measurements,omitempty"`
	Rules           []RuleResult       `json:"rules,omitempty"`
}

// RuleResult is the verdict of one rule of the standard on one check.
type RuleResult struct {
	Rule     string   `json:"rule"`
	Verdict  Verdict  `json:"verdict"`
	Observed *float64 `json:"observed,omitempty"` // absent when the measurement is missing
	Want     string   `json:"want"`
	Reason   string   `json:"reason,omitempty"`
}

// NewID returns a fresh random report id (128 bits, hex).
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; a time-based id keeps
		// reports flowing if it ever did.
		return "t" + hex.EncodeToString([]byte(time.Now().UTC().Format(time.RFC3339Nano)))
	}
	return hex.EncodeToString(b[:])
}

// severity orders verdicts from best to worst for aggregation.
func severity(v Verdict) int {
	switch v {
	case Skipped:
		return 0
	case Pass:
		return 1
	case Warn:
		return 2
	case Fail:
		return 3
	case Error:
		return 4
	}
	return 4 // an unknown verdict is treated as the worst
}

// Worst returns the worst of the verdicts, or Skipped when there are none.
func Worst(vs ...Verdict) Verdict {
	w := Skipped
	for _, v := range vs {
		if severity(v) > severity(w) {
			w = v
		}
	}
	return w
}

// RoomVerdictOf aggregates check verdicts into the room's readiness:
// ready when all pass, degraded on warnings only, not ready on any fail or error.
// Skipped checks do not count.
func RoomVerdictOf(checks []CheckResult) RoomVerdict {
	w := Skipped
	for _, c := range checks {
		w = Worst(w, c.Verdict)
	}
	switch w {
	case Warn:
		return Degraded
	case Fail, Error:
		return NotReady
	}
	return Ready
}

// Finish sets the check's verdict from its rules when the check itself did
// not already decide (error or skipped).
func (c *CheckResult) Finish() {
	if c.Verdict == Error || c.Verdict == Skipped {
		return
	}
	v := Pass
	for _, r := range c.Rules {
		v = Worst(v, r.Verdict)
	}
	c.Verdict = v
}
