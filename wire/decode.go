package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Reasons a payload is rejected. They are the values of the controller's
// siaprapat_reports_rejected_total{reason} label, so the set is closed.
const (
	ReasonOversized = "oversized" // larger than MaxBytes
	ReasonMalformed = "malformed" // not JSON, or JSON of the wrong shape
	ReasonSchema    = "schema"    // missing or unknown major schema version
	ReasonInvalid   = "invalid"   // a field is missing or out of its allowed values
)

// Bounds on a report's parts; each target, rule and measurement becomes
// Prometheus series, so their number per room is bounded.
const (
	MaxChecks   = 64
	MaxPerCheck = 128
)

// Reasons lists every rejection reason Decode can give.
var Reasons = []string{ReasonOversized, ReasonMalformed, ReasonSchema, ReasonInvalid}

// DecodeError says why a payload was rejected and which field was wrong.
type DecodeError struct {
	Reason string // one of Reasons
	Field  string // JSON path of the offending field, empty when the whole payload is at fault
	Msg    string
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("report rejected (%s): %s", e.Reason, e.Msg)
	}
	return fmt.Sprintf("report rejected (%s): field %s: %s", e.Reason, e.Field, e.Msg)
}

// ValidName reports whether s may be used as a site or room name (and so as
// one MQTT topic level): 1 to 64 letters, digits, '.', '_' or '-', starting
// with a letter or digit.
func ValidName(s string) bool { return validName(s) }

// CheckName reports an error when s is not a valid site or room name.
func CheckName(field, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", field)
	}
	if !ValidName(s) {
		return fmt.Errorf("%s %q is not a valid name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", field, s)
	}
	return nil
}

// Decode parses and validates a report payload. Every error is a *DecodeError
// naming the reason and the field. Unknown fields are ignored, so that a newer
// agent of the same major schema version is still understood.
func Decode(data []byte) (*Report, error) {
	if len(data) > MaxBytes {
		return nil, &DecodeError{Reason: ReasonOversized, Msg: fmt.Sprintf("payload is %d bytes, the limit is %d", len(data), MaxBytes)}
	}
	if len(data) == 0 {
		return nil, &DecodeError{Reason: ReasonMalformed, Msg: "payload is empty"}
	}
	// One parse reads the schema and the report together, with the
	// encoding/json v1 semantics of go-json-experiment/json (the upstream of
	// encoding/json/v2), which parses a report in about half the time.
	var w wireReport
	if err := jsonv1.Unmarshal(data, &w); err != nil {
		return decodeFailed(data)
	}
	if err := checkSchema(w.Schema); err != nil {
		return nil, err
	}
	r := &w.Report
	r.Schema = *w.Schema
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// wireReport is a Report as Decode parses it. Its Schema hides the
// Report's: a pointer, so that a schema given as null (even after a string,
// as the last of duplicate keys) is told from a string.
type wireReport struct {
	Report
	Schema *string `json:"schema"`
}

// decodeFailed decodes a payload that did not parse as a wireReport as
// Decode always did, with encoding/json, to explain why: the schema alone
// first, so that a future major version is rejected for what it is, not for
// a field whose shape changed, then the report. Its errors and field paths
// are encoding/json's, which the controller's logs and tests have always
// shown. Only payloads that are not reports pay for it; were one a report
// after all, it would be decoded and validated here just the same.
func decodeFailed(data []byte) (*Report, error) {
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, malformed(err)
	}
	if err := checkSchema(head.Schema); err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, malformed(err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// checkSchema accepts any minor revision of major version 1.
func checkSchema(schema *string) error {
	if schema == nil || *schema == "" {
		return &DecodeError{Reason: ReasonSchema, Field: "schema", Msg: "missing; want " + Schema}
	}
	major, ok := schemaMajor(*schema)
	if !ok {
		return &DecodeError{Reason: ReasonSchema, Field: "schema", Msg: fmt.Sprintf("%q is not a siaprapat report schema; want %s", *schema, Schema)}
	}
	if major != 1 {
		return &DecodeError{Reason: ReasonSchema, Field: "schema", Msg: fmt.Sprintf("major version %d is not supported; this build reads %s", major, Schema)}
	}
	return nil
}

func malformed(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tpe *time.ParseError
	switch {
	case errors.As(err, &typ) && typ.Field == "":
		return &DecodeError{Reason: ReasonMalformed, Msg: fmt.Sprintf("got JSON %s, want an object", typ.Value)}
	case errors.As(err, &typ):
		return &DecodeError{Reason: ReasonMalformed, Field: typ.Field, Msg: fmt.Sprintf("got JSON %s, want %s", typ.Value, typ.Type)}
	case errors.As(err, &tpe):
		// measured_at is the report's only time.
		return &DecodeError{Reason: ReasonMalformed, Field: "measured_at", Msg: fmt.Sprintf("%q is not an RFC 3339 time", truncate(tpe.Value))}
	case errors.As(err, &syn):
		return &DecodeError{Reason: ReasonMalformed, Msg: fmt.Sprintf("not valid JSON at byte %d: %v", syn.Offset, err)}
	}
	return &DecodeError{Reason: ReasonMalformed, Msg: err.Error()}
}

func invalid(field, format string, args ...any) error {
	return &DecodeError{Reason: ReasonInvalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks every field of a report, returning a *DecodeError for the first bad one.
func (r *Report) Validate() error {
	switch {
	case r.ID == "":
		return invalid("id", "missing")
	case !validName(r.ID):
		return invalid("id", "%q is not a valid id: 1 to 64 letters, digits, '.', '_' or '-'", truncate(r.ID))
	}
	if err := CheckName("site", r.Site); err != nil {
		return invalid("site", "%v", err)
	}
	if err := CheckName("room", r.Room); err != nil {
		return invalid("room", "%v", err)
	}
	if len(r.AgentVersion) > 64 {
		return invalid("agent_version", "longer than 64 characters")
	}
	if r.MeasuredAt.IsZero() {
		return invalid("measured_at", "missing; want an RFC 3339 time")
	}
	switch r.Verdict {
	case Ready, Degraded, NotReady:
	default:
		return invalid("verdict", "%q is not one of ready, degraded, not_ready", truncate(string(r.Verdict)))
	}
	if len(r.Checks) > MaxChecks {
		return invalid("checks", "%d checks; at most %d", len(r.Checks), MaxChecks)
	}
	for i := range r.Checks {
		if err := r.Checks[i].validate(i); err != nil {
			return err
		}
	}
	return validatePeripherals(r.Peripherals)
}

// validate checks the i-th check of a report. The field's path is only
// built for an error: Decode validates every check of every report.
func (c *CheckResult) validate(i int) error {
	at := func() string { return indexed("checks", i) }
	if !validMeasurementName(c.Check) {
		return invalid(at()+".check", "%q is not a check name (lower case letters, digits and '_')", truncate(c.Check))
	}
	if !validVerdict(c.Verdict) {
		return invalid(at()+".verdict", "%q is not one of pass, warn, fail, error, skipped", truncate(string(c.Verdict)))
	}
	if c.Target == "" || len(c.Target) > 128 {
		return invalid(at()+".target", "%q: want 1 to 128 bytes", truncate(c.Target))
	}
	if len(c.Measurements) > MaxPerCheck || len(c.Rules) > MaxPerCheck {
		return invalid(at(), "%d measurements and %d rules; at most %d each", len(c.Measurements), len(c.Rules), MaxPerCheck)
	}
	if len(c.Code) > 32 || (c.Code != "" && !validMeasurementName(c.Code)) {
		return invalid(at()+".code", "%q is not a code (lower case letters, digits and '_', up to 32)", truncate(c.Code))
	}
	if c.DurationSeconds < 0 || math.IsNaN(c.DurationSeconds) {
		return invalid(at()+".duration_seconds", "%v is negative", c.DurationSeconds)
	}
	for name := range c.Measurements {
		if !validMeasurementName(name) {
			return invalid(fmt.Sprintf("%s.measurements[%q]", at(), truncate(name)), "not a measurement name (lower case letters, digits and '_', ending in its unit)")
		}
	}
	for j := range c.Rules {
		rule := &c.Rules[j]
		ra := func() string { return indexed(at()+".rules", j) }
		if rule.Rule == "" {
			return invalid(ra()+".rule", "missing")
		}
		if !validMeasurementName(rule.Rule) {
			return invalid(ra()+".rule", "%q is not a rule name (lower case letters, digits and '_')", truncate(rule.Rule))
		}
		if !validVerdict(rule.Verdict) {
			return invalid(ra()+".verdict", "%q is not one of pass, warn, fail, error, skipped", truncate(string(rule.Verdict)))
		}
	}
	return nil
}

func validVerdict(v Verdict) bool {
	switch v {
	case Pass, Warn, Fail, Error, Skipped:
		return true
	}
	return false
}

// indexed returns the path of the i-th element of a list: checks[2].
func indexed(list string, i int) string { return list + "[" + strconv.Itoa(i) + "]" }

// truncate keeps error messages short when the input is hostile.
func truncate(s string) string {
	if len(s) > 80 {
		return strings.ToValidUTF8(s[:80], "") + "..."
	}
	return s
}
