// Package readiness says why a room is not ready. It is the one place the
// causes are computed: the alerts, the API (a room's problems, a check's
// causes), the controller's check command and /metrics all show what it
// gives, each cause with its words in Bahasa Indonesia and English.
package readiness

import (
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// Kind says what a cause is about.
type Kind string

const (
	KindRule        Kind = "rule"        // a rule of the standard warned, failed or could not be judged
	KindCheck       Kind = "check"       // a check failed or could not run, with no rule to judge ("no camera found")
	KindNotChecked  Kind = "not_checked" // the standard has rules for a check the report lacks
	KindOffline     Kind = "offline"     // the room's agent said goodbye, or its last will fired
	KindStale       Kind = "stale"       // no report newer than the standard's freshness window
	KindNoAgent     Kind = "no_agent"    // no agent has ever reported for the room
	KindRemoved     Kind = "removed"     // the room's agent was removed (revoked)
	KindUnanswered  Kind = "unanswered"  // a check sent to the agent got no answer, or the agent could not run it
	KindUnexplained Kind = "unexplained" // the agent judged the room not ready and said nothing more
)

// Cause is one reason a room is not ready (verdict fail or error) or only
// degraded (warn).
type Cause struct {
	Kind     Kind         `json:"kind"`
	Check    string       `json:"check,omitempty"`
	Target   string       `json:"target,omitempty"`
	Rule     string       `json:"rule,omitempty"`
	Verdict  wire.Verdict `json:"verdict"`
	Code     string       `json:"code,omitempty"`     // the check's own code, e.g. no_device
	Observed *float64     `json:"observed,omitempty"` // the rule's measurement, where measured
	Want     string       `json:"want,omitempty"`     // the rule's passing range
	// Reason is the detail as the agent (or the controller) gave it, in English.
	Reason string `json:"reason,omitempty"`
	// Text and TextID are the cause in words for people, in English and in
	// Bahasa Indonesia: "Upload 1.9 Mbit/s, at least 3.2".
	Text   string `json:"text"`
	TextID string `json:"text_id"`
	// Since is when the evidence was taken: the report's measured_at, the
	// agent's offline time, when a check was sent. A recovery must be
	// measured after it.
	Since time.Time `json:"since,omitzero"`
}

// Blocking reports whether the cause makes the room not ready (fail or
// error); a warning only degrades it.
func (c Cause) Blocking() bool { return c.Verdict == wire.Fail || c.Verdict == wire.Error }

// Key identifies a cause without its figures: the same rule failing with
// another value is the same cause.
func (c Cause) Key() string {
	return string(c.Kind) + "|" + c.Check + "|" + c.Target + "|" + c.Rule + "|" + string(c.Verdict)
}

// Fingerprint identifies a list of causes regardless of order and figures:
// an alert changes only when it does.
func Fingerprint(causes []Cause) string {
	keys := make([]string, 0, len(causes))
	for _, c := range causes {
		keys = append(keys, c.Key())
	}
	slices.Sort(keys)
	return strings.Join(slices.Compact(keys), "\n")
}

// Blocking returns the causes that make the room not ready.
func Blocking(causes []Cause) []Cause {
	var out []Cause
	for _, c := range causes {
		if c.Blocking() {
			out = append(out, c)
		}
	}
	return out
}

// Context is what the words of a cause need beyond its facts: the
// standard (the limits a rule's words quote; may be nil), the room's zone
// (times are shown in it; WIB when nil) and the present (a time on another
// day also gets its date).
type Context struct {
	Standard *standard.Standard
	Loc      *time.Location
	Now      time.Time
}

// Problems yields, in report order, each check result of the report that
// did not pass and, for a check judged by rules, each rule that did not
// pass; the rule is nil for a check that decided its verdict itself (it
// failed, errored or warned without rules, or was not checked). Skipped and
// passing checks yield nothing.
func Problems(rep *wire.Report) iter.Seq2[*wire.CheckResult, *wire.RuleResult] {
	return func(yield func(*wire.CheckResult, *wire.RuleResult) bool) {
		if rep == nil {
			return
		}
		for i := range rep.Checks {
			c := &rep.Checks[i]
			if len(c.Rules) == 0 {
				if problem(c.Verdict) && !yield(c, nil) {
					return
				}
				continue
			}
			for j := range c.Rules {
				if problem(c.Rules[j].Verdict) && !yield(c, &c.Rules[j]) {
					return
				}
			}
			if c.Verdict == wire.Error || c.Verdict == wire.Fail {
				// A check whose rules passed but which failed anyway
				// (only a hand-made report can say so) still counts.
				if !slices.ContainsFunc(c.Rules, func(r wire.RuleResult) bool { return problem(r.Verdict) }) && !yield(c, nil) {
					return
				}
			}
		}
	}
}

// Verdict is the room's readiness by a report, from the same problems its
// causes come from: not ready on any fail or error, degraded on warnings
// only, else ready.
func Verdict(rep *wire.Report) wire.RoomVerdict {
	worst := wire.Pass
	for c, r := range Problems(rep) {
		v := c.Verdict
		if r != nil {
			v = r.Verdict
		}
		worst = wire.Worst(worst, v)
	}
	switch worst {
	case wire.Warn:
		return wire.Degraded
	case wire.Fail, wire.Error:
		return wire.NotReady
	}
	return wire.Ready
}

func problem(v wire.Verdict) bool {
	return v == wire.Warn || v == wire.Fail || v == wire.Error
}

// OfReport lists why a report's room is not ready or degraded: its rules
// that did not pass, and its checks that failed, errored or were not
// checked without a rule to say so.
func OfReport(rep *wire.Report, at Context) []Cause {
	var out []Cause
	if rep == nil {
		return nil
	}
	since := rep.MeasuredAt
	for c, r := range Problems(rep) {
		var cause Cause
		if r != nil {
			cause = Cause{Kind: KindRule, Check: c.Check, Target: c.Target, Rule: r.Rule, Verdict: r.Verdict,
				Observed: r.Observed, Want: r.Want, Reason: r.Reason}
			cause.Text, cause.TextID = ruleWords(c, r, at.Standard)
		} else {
			cause = Cause{Kind: KindCheck, Check: c.Check, Target: c.Target, Verdict: c.Verdict, Code: c.Code, Reason: c.Reason}
			if c.Code == wire.CodeNotChecked {
				cause.Kind = KindNotChecked
			}
			cause.Text, cause.TextID = checkWords(c)
		}
		cause.Since = since
		out = append(out, cause)
	}
	if len(out) == 0 && rep.Verdict == wire.NotReady {
		out = append(out, Cause{Kind: KindUnexplained, Verdict: wire.Fail, Since: since,
			Text:   "the agent judged the room not ready without saying why",
			TextID: "agen menilai ruang belum siap tanpa menyebut sebabnya"})
	}
	return out
}

// OfRoom lists why a room is not ready, or degraded, as the fleet sees it:
// v is its view (nil when the fleet does not know the room), removedAt
// when its agent was removed (zero if it was not).
func OfRoom(v *fleet.View, removedAt time.Time, at Context) []Cause {
	if v == nil {
		if !removedAt.IsZero() {
			en, id := clock(removedAt, at)
			return []Cause{{Kind: KindRemoved, Verdict: wire.Error, Since: removedAt,
				Text:   "the room's agent was removed at " + en,
				TextID: "agen ruang ini dihapus pada " + id}}
		}
		return []Cause{{Kind: KindNoAgent, Verdict: wire.Error,
			Text:   "no agent has ever reported for this room",
			TextID: "belum pernah ada agen yang melapor untuk ruang ini"}}
	}
	switch v.State {
	case fleet.Offline:
		en, id := clock(v.Since, at)
		return []Cause{{Kind: KindOffline, Verdict: wire.Error, Since: v.Since,
			Text:   "the room's agent is offline since " + en,
			TextID: "agen ruang tidak terhubung (offline) sejak " + id}}
	case fleet.Unknown:
		if v.Report == nil {
			en, id := clock(v.Since, at)
			return []Cause{{Kind: KindStale, Verdict: wire.Error, Since: v.Since,
				Text:   "the room's agent has sent no report yet (known since " + en + ")",
				TextID: "agen ruang belum mengirim laporan (dikenal sejak " + id + ")"}}
		}
		en, id := clock(v.Report.MeasuredAt, at)
		return []Cause{{Kind: KindStale, Verdict: wire.Error, Since: v.Report.MeasuredAt,
			Text:   "no recent report from the room's agent: the newest was measured at " + en,
			TextID: "tidak ada laporan baru dari agen ruang: yang terakhir diukur pada " + id}}
	}
	// The fleet keeps of a report what gives causes (Newest.Cut).
	return OfReport(v.Report.Cut(), at)
}

// OfCommand lists why a check sent to an agent found the room not ready:
// the report's causes when the agent answered, else why it did not.
func OfCommand(c commands.Check, at Context) []Cause {
	switch c.Status {
	case commands.Pending:
		return nil
	case commands.Done:
		return OfReport(c.Report, at)
	case commands.Offline:
		return []Cause{{Kind: KindOffline, Verdict: wire.Error, Reason: c.Reason, Since: c.IssuedAt,
			Text:   "the room's agent is offline: the check was not sent",
			TextID: "agen ruang tidak terhubung (offline): pemeriksaan tidak dikirim"}}
	case commands.Timeout:
		d := c.Deadline.Sub(c.IssuedAt).Round(time.Second)
		return []Cause{{Kind: KindUnanswered, Verdict: wire.Error, Reason: c.Reason, Since: c.IssuedAt,
			Text:   "the room's agent did not answer the check within " + durationEN(d),
			TextID: "agen ruang tidak menjawab pemeriksaan dalam " + durationID(d)}}
	}
	return []Cause{{Kind: KindUnanswered, Verdict: wire.Error, Reason: c.Reason, Since: c.IssuedAt,
		Text:   "the room's agent could not run the check: " + c.Reason,
		TextID: "agen ruang tidak dapat menjalankan pemeriksaan: " + c.Reason}}
}

// NotChecked returns a result for each check the standard has rules for
// that the report lacks, with the standard's verdict for it and code
// not_checked, so that a room is never silently ready for checks nobody ran.
func NotChecked(std *standard.Standard, rep *wire.Report) []wire.CheckResult {
	if std == nil {
		return nil
	}
	var out []wire.CheckResult
	for _, check := range std.Expected() {
		if slices.ContainsFunc(rep.Checks, func(c wire.CheckResult) bool { return c.Check == check }) {
			continue
		}
		v := std.NotChecked
		if v == "" {
			v = wire.Warn
		}
		out = append(out, wire.CheckResult{Check: check, Target: check, Verdict: v, Code: wire.CodeNotChecked,
			Reason: "not checked: the report has no " + check + " check (the agent runs without it, or was asked for other checks)"})
	}
	return out
}
