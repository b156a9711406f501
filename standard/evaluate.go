package standard

import (
	"fmt"
	"math"
	"strings"

	"github.com/siaprapat/siaprapat/wire"
)

// Evaluate judges a check result with the standard's rules for its check,
// appending one RuleResult per rule and setting the check's verdict. A check
// that could not run (error) or did not apply (skipped) keeps its verdict and
// gets no rule results. A rule whose measurement is missing is an error.
func (s *Standard) Evaluate(c *wire.CheckResult) {
	if c.Verdict == wire.Error || c.Verdict == wire.Skipped {
		return
	}
	if c.Verdict == wire.Fail && len(c.Measurements) == 0 {
		// The check failed before it could measure ("no camera found"):
		// its reason says why, and the rules have nothing to judge.
		return
	}
	for _, r := range s.Rules {
		if r.Check != c.Check {
			continue
		}
		if _, measured := c.Measurements[r.Measurement]; !measured && r.Optional {
			continue
		}
		c.Rules = append(c.Rules, r.Judge(c.Measurements))
	}
	c.Finish()
}

// Judge applies the rule to a set of measurements.
func (r Rule) Judge(measurements map[string]float64) wire.RuleResult {
	res := wire.RuleResult{Rule: r.Name, Want: r.Want()}
	v, ok := measurements[r.Measurement]
	if !ok {
		res.Verdict = wire.Error
		res.Reason = r.Measurement + " was not measured"
		return res
	}
	res.Observed = &v
	res.Verdict = wire.Pass
	q := func(x float64) string { return Format(r.Measurement, x) }
	if wire.IsFlag(r.Measurement) {
		// A yes/no flag: an upper limit at 0 means "must be no", a lower
		// limit at 1 means "must be yes".
		switch {
		case r.FailAbove != nil && v > *r.FailAbove:
			res.Verdict, res.Reason = wire.Fail, r.Measurement+" is yes"
		case r.FailBelow != nil && v < *r.FailBelow:
			res.Verdict, res.Reason = wire.Fail, r.Measurement+" is no"
		case r.WarnAbove != nil && v > *r.WarnAbove:
			res.Verdict, res.Reason = wire.Warn, r.Measurement+" is yes"
		case r.WarnBelow != nil && v < *r.WarnBelow:
			res.Verdict, res.Reason = wire.Warn, r.Measurement+" is no"
		}
		return res
	}
	switch {
	case r.FailBelow != nil && v < *r.FailBelow:
		res.Verdict, res.Reason = wire.Fail, fmt.Sprintf("%s %s is below the fail limit %s", r.Measurement, q(v), q(*r.FailBelow))
	case r.FailAbove != nil && v > *r.FailAbove:
		res.Verdict, res.Reason = wire.Fail, fmt.Sprintf("%s %s is above the fail limit %s", r.Measurement, q(v), q(*r.FailAbove))
	case r.WarnBelow != nil && v < *r.WarnBelow:
		res.Verdict, res.Reason = wire.Warn, fmt.Sprintf("%s %s is below the warn limit %s", r.Measurement, q(v), q(*r.WarnBelow))
	case r.WarnAbove != nil && v > *r.WarnAbove:
		res.Verdict, res.Reason = wire.Warn, fmt.Sprintf("%s %s is above the warn limit %s", r.Measurement, q(v), q(*r.WarnAbove))
	}
	return res
}

// Want describes the passing range, with the fail limits where they differ:
// ">= 10 Mbit/s (fail below 4 Mbit/s)", "<= 100 ms (fail above 300 ms)".
func (r Rule) Want() string {
	q := func(x float64) string { return Format(r.Measurement, x) }
	if wire.IsFlag(r.Measurement) {
		if r.FailBelow != nil || r.WarnBelow != nil {
			return "yes"
		}
		return "no"
	}
	var parts, fails []string
	low, high := first(r.WarnBelow, r.FailBelow), first(r.WarnAbove, r.FailAbove)
	switch {
	case low != nil && high != nil:
		parts = append(parts, q(*low)+" to "+q(*high))
	case low != nil:
		parts = append(parts, ">= "+q(*low))
	case high != nil:
		parts = append(parts, "<= "+q(*high))
	}
	if r.WarnBelow != nil && r.FailBelow != nil {
		fails = append(fails, "fail below "+q(*r.FailBelow))
	}
	if r.WarnAbove != nil && r.FailAbove != nil {
		fails = append(fails, "fail above "+q(*r.FailAbove))
	}
	if len(fails) > 0 {
		parts = append(parts, "("+strings.Join(fails, ", ")+")")
	}
	return strings.Join(parts, " ")
}

// rangeOf gives the values a limit on a measurement may take, by its unit.
func rangeOf(measurement string) (lo, hi float64, desc string) {
	switch {
	case strings.HasSuffix(measurement, "_ratio"):
		return 0, 1, "a ratio (0 to 1)"
	case strings.HasSuffix(measurement, "_dbfs"):
		return -200, 0, "a level in dBFS (-200 to 0)"
	case strings.HasSuffix(measurement, "_celsius"):
		return -50, 150, "a temperature in degrees Celsius (-50 to 150)"
	}
	return 0, math.Inf(1), "a quantity that is never negative (0 or more)"
}

func measurementNames(check string) []string {
	var out []string
	for _, m := range wire.Measurements {
		if m.Check == check {
			out = append(out, m.Name)
		}
	}
	return out
}
