// Package standard loads, validates and evaluates a readiness standard: YAML
// data naming, for each check, the measurements that matter and the limits
// at which they warn or fail.
package standard

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	firmwareprofiles "github.com/siaprapat/siaprapat/firmware-profiles"
	"github.com/siaprapat/siaprapat/internal/yamlstrict"
	"github.com/siaprapat/siaprapat/wire"
)

// Schema is the schema identifier standards must declare.
const Schema = "siaprapat.standard/v1"

// Limits on the freshness window.
const (
	MinFreshness = time.Second
	MaxFreshness = 24 * time.Hour
)

// Standard is a readiness standard.
type Standard struct {
	Schema      string        `yaml:"schema"`
	Name        string        `yaml:"name"`
	Version     string        `yaml:"version"`
	Description string        `yaml:"description"`
	Freshness   time.Duration `yaml:"freshness"` // a room with no newer report is "unknown"
	// NotChecked is the verdict of a check the standard has rules for but a
	// report lacks (an agent run with --only, or a check asked for alone):
	// warn (the default: the room is degraded, never silently ready), fail,
	// or pass.
	NotChecked wire.Verdict `yaml:"not_checked"`
	Rules      []Rule       `yaml:"rules"`

	file string // where it was loaded from, for messages
}

// Rule judges one measurement of one check. The measurement passes unless it
// crosses a warn or fail limit; fail wins over warn.
type Rule struct {
	Name        string   `yaml:"name"`
	Check       string   `yaml:"check"`
	Measurement string   `yaml:"measurement"`
	Nominal     *float64 `yaml:"nominal"` // the value a check asks the device for, where it asks
	WarnBelow   *float64 `yaml:"warn_below"`
	FailBelow   *float64 `yaml:"fail_below"`
	WarnAbove   *float64 `yaml:"warn_above"`
	FailAbove   *float64 `yaml:"fail_above"`
	Source      string   `yaml:"source"` // where the figures come from: [source] ... or [judgement]
	// Optional rules do not apply where their measurement is absent (a
	// device whose profile gives no minimum firmware); others are an error then.
	Optional bool `yaml:"optional"`

	line int
}

// String names the standard as "name version".
func (s *Standard) String() string { return s.Name + " " + s.Version }

// File is the path the standard was loaded from.
func (s *Standard) File() string { return s.file }

// RulesFor returns the rules of one check, in file order.
func (s *Standard) RulesFor(check string) []Rule {
	var out []Rule
	for _, r := range s.Rules {
		if r.Check == check {
			out = append(out, r)
		}
	}
	return out
}

// Expected lists the checks the standard has rules for, in rule order: a
// report without one of them has not checked everything the standard asks.
func (s *Standard) Expected() []string {
	var out []string
	for _, r := range s.Rules {
		if !slices.Contains(out, r.Check) {
			out = append(out, r.Check)
		}
	}
	return out
}

// Rule returns the named rule.
func (s *Standard) Rule(name string) (Rule, bool) {
	for _, r := range s.Rules {
		if r.Name == name {
			return r, true
		}
	}
	return Rule{}, false
}

// Default returns the standard embedded in the binary.
func Default() (*Standard, error) {
	return LoadFS(firmwareprofiles.FS(), firmwareprofiles.DefaultStandard)
}

// Load reads a standard from a file; an empty path means the embedded default.
func Load(path string) (*Standard, error) {
	if path == "" {
		return Default()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read standard: %w", err)
	}
	return Parse(path, data)
}

// LoadFS reads a standard from a file system.
func LoadFS(fsys fs.FS, name string) (*Standard, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read standard: %w", err)
	}
	return Parse(name, data)
}

// Parse decodes and validates a standard. Unknown fields, bad values and
// out-of-range thresholds are errors of the form "FILE:LINE: message".
func Parse(file string, data []byte) (*Standard, error) {
	var s Standard
	if err := yamlstrict.Decode(file, data, &s, map[string]string{"standard.Rule": "a rule", "standard.Standard": "the standard"}); err != nil {
		return nil, err
	}
	s.file = file
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil {
		s.attachLines(&root)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// attachLines records the line of each rule for validation messages.
func (s *Standard) attachLines(root *yaml.Node) {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "rules" || top.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for j, item := range top.Content[i+1].Content {
			if j < len(s.Rules) {
				s.Rules[j].line = item.Line
			}
		}
	}
}

var ruleName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Validate checks the standard's fields and ranges. Messages name the file,
// the line where known, the rule and the field.
func (s *Standard) Validate() error {
	var errs []string
	top := func(field, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s: field %s: %s", s.file, field, fmt.Sprintf(format, args...)))
	}
	if s.Schema != Schema {
		top("schema", "%q is not supported; want %s", s.Schema, Schema)
	}
	if s.Name == "" {
		top("name", "missing")
	}
	if s.Version == "" {
		top("version", "missing")
	}
	if s.Freshness < MinFreshness || s.Freshness > MaxFreshness {
		top("freshness", "%v is out of range; want %v to %v", s.Freshness, MinFreshness, MaxFreshness)
	}
	switch s.NotChecked {
	case "":
		s.NotChecked = wire.Warn
	case wire.Pass, wire.Warn, wire.Fail:
	default:
		top("not_checked", "%q is not a verdict for a check a report lacks; want warn (degraded), fail (not ready) or pass", s.NotChecked)
	}
	if len(s.Rules) == 0 {
		top("rules", "no rules")
	}
	seen := map[string]int{}
	for i := range s.Rules {
		r := &s.Rules[i]
		at := fmt.Sprintf("%s: rules[%d]", s.file, i)
		if r.line > 0 {
			at = fmt.Sprintf("%s:%d: rule %s", s.file, r.line, strconv.Quote(r.Name))
		}
		bad := func(field, format string, args ...any) {
			errs = append(errs, fmt.Sprintf("%s: field %s: %s", at, field, fmt.Sprintf(format, args...)))
		}
		if !ruleName.MatchString(r.Name) {
			bad("name", "%q is not a rule name (lower case letters, digits and '_', up to 64)", r.Name)
		} else if prev, dup := seen[r.Name]; dup {
			bad("name", "duplicate of rules[%d]", prev)
		} else {
			seen[r.Name] = i
		}
		if !wire.KnownCheck(r.Check) {
			bad("check", "%q is not a check; want one of %s", r.Check, strings.Join(wire.Checks, ", "))
			continue
		}
		if _, ok := wire.LookupMeasurement(r.Check, r.Measurement); !ok {
			bad("measurement", "%q is not a measurement of check %s; want one of %s", r.Measurement, r.Check, strings.Join(measurementNames(r.Check), ", "))
			continue
		}
		if r.WarnBelow == nil && r.FailBelow == nil && r.WarnAbove == nil && r.FailAbove == nil {
			bad("fail_below", "the rule has no limit; set at least one of warn_below, fail_below, warn_above, fail_above")
		}
		lo, hi, desc := rangeOf(r.Measurement)
		for _, f := range []struct {
			name string
			v    *float64
		}{{"nominal", r.Nominal}, {"warn_below", r.WarnBelow}, {"fail_below", r.FailBelow}, {"warn_above", r.WarnAbove}, {"fail_above", r.FailAbove}} {
			if f.v != nil && (math.IsNaN(*f.v) || math.IsInf(*f.v, 0)) {
				bad(f.name, "%v is not a number a measurement can be compared with", *f.v)
				continue
			}
			if f.v != nil && (*f.v < lo || *f.v > hi) {
				bad(f.name, "%v is out of range for %s", *f.v, desc)
			}
		}
		if r.WarnBelow != nil && r.FailBelow != nil && *r.FailBelow > *r.WarnBelow {
			bad("fail_below", "%v is above warn_below %v; a value must warn before it fails", *r.FailBelow, *r.WarnBelow)
		}
		if r.WarnAbove != nil && r.FailAbove != nil && *r.FailAbove < *r.WarnAbove {
			bad("fail_above", "%v is below warn_above %v; a value must warn before it fails", *r.FailAbove, *r.WarnAbove)
		}
		if below, above := first(r.WarnBelow, r.FailBelow), first(r.WarnAbove, r.FailAbove); below != nil && above != nil && *below >= *above {
			bad("warn_above", "the passing range is empty: below-limit %v is not under above-limit %v", *below, *above)
		}
		if !strings.HasPrefix(r.Source, "[source]") && !strings.HasPrefix(r.Source, "[judgement]") {
			bad("source", "must say where the figures come from, starting with [source] or [judgement]")
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// first returns the first limit that is set. With warn checked to lie inside
// fail, the warn limit (else the fail limit) bounds the passing range.
func first(limits ...*float64) *float64 {
	for _, l := range limits {
		if l != nil {
			return l
		}
	}
	return nil
}
