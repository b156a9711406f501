package wire

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// decodeTwoPass is Decode as it was before it read the schema and the report
// in one parse: the schema alone, then the report, checked with regular
// expressions. FuzzDecode_SameAsTwoPass holds Decode to it, error messages
// included; delete both when Decode is meant to behave differently.
func decodeTwoPass(data []byte) (*Report, error) {
	if len(data) > MaxBytes {
		return nil, &DecodeError{Reason: ReasonOversized, Msg: fmt.Sprintf("payload is %d bytes, the limit is %d", len(data), MaxBytes)}
	}
	if len(data) == 0 {
		return nil, &DecodeError{Reason: ReasonMalformed, Msg: "payload is empty"}
	}
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, malformed(err)
	}
	if head.Schema == nil || *head.Schema == "" {
		return nil, &DecodeError{Reason: ReasonSchema, Field: "schema", Msg: "missing; want " + Schema}
	}
	m := schemaPattern.FindStringSubmatch(*head.Schema)
	if m == nil {
		return nil, &DecodeError{Reason: ReasonSchema, Field: "schema", Msg: fmt.Sprintf("%q is not a siaprapat report schema; want %s", *head.Schema, Schema)}
	}
	if major, _ := strconv.Atoi(m[1]); major != 1 {
		return nil, &DecodeError{Reason: ReasonSchema, Field: "schema", Msg: fmt.Sprintf("major version %d is not supported; this build reads %s", major, Schema)}
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, malformed(err)
	}
	if err := validateWithPatterns(&r); err != nil {
		return nil, err
	}
	return &r, nil
}

func validateWithPatterns(r *Report) error {
	switch {
	case r.ID == "":
		return invalid("id", "missing")
	case !namePattern.MatchString(r.ID):
		return invalid("id", "%q is not a valid id: 1 to 64 letters, digits, '.', '_' or '-'", truncate(r.ID))
	}
	for _, f := range []struct{ field, v string }{{"site", r.Site}, {"room", r.Room}} {
		if f.v == "" {
			return invalid(f.field, "%v", fmt.Errorf("%s is empty", f.field))
		}
		if !namePattern.MatchString(f.v) {
			return invalid(f.field, "%v", fmt.Errorf("%s %q is not a valid name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", f.field, f.v))
		}
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
	for i, c := range r.Checks {
		at := fmt.Sprintf("checks[%d]", i)
		if !measurementPattern.MatchString(c.Check) {
			return invalid(at+".check", "%q is not a check name (lower case letters, digits and '_')", truncate(c.Check))
		}
		if !validVerdict(c.Verdict) {
			return invalid(at+".verdict", "%q is not one of pass, warn, fail, error, skipped", truncate(string(c.Verdict)))
		}
		if c.Target == "" || len(c.Target) > 128 {
			return invalid(at+".target", "%q: want 1 to 128 bytes", truncate(c.Target))
		}
		if len(c.Measurements) > MaxPerCheck || len(c.Rules) > MaxPerCheck {
			return invalid(at, "%d measurements and %d rules; at most %d each", len(c.Measurements), len(c.Rules), MaxPerCheck)
		}
		if c.DurationSeconds < 0 || math.IsNaN(c.DurationSeconds) {
			return invalid(at+".duration_seconds", "%v is negative", c.DurationSeconds)
		}
		// Which of several bad names is named depends on the map's order:
		// FuzzDecode_SameAsTwoPass compares such errors by their reason.
		for name := range c.Measurements {
			if !measurementPattern.MatchString(name) {
				return invalid(fmt.Sprintf("%s.measurements[%q]", at, truncate(name)), "not a measurement name (lower case letters, digits and '_', ending in its unit)")
			}
		}
		for j, rule := range c.Rules {
			ra := fmt.Sprintf("%s.rules[%d]", at, j)
			if rule.Rule == "" {
				return invalid(ra+".rule", "missing")
			}
			if !measurementPattern.MatchString(rule.Rule) {
				return invalid(ra+".rule", "%q is not a rule name (lower case letters, digits and '_')", truncate(rule.Rule))
			}
			if !validVerdict(rule.Verdict) {
				return invalid(ra+".verdict", "%q is not one of pass, warn, fail, error, skipped", truncate(string(rule.Verdict)))
			}
		}
	}
	if len(r.Peripherals) > MaxPeripherals {
		return invalid("peripherals", "%d devices; at most %d", len(r.Peripherals), MaxPeripherals)
	}
	for i, p := range r.Peripherals {
		at := fmt.Sprintf("peripherals[%d]", i)
		if !usbIDPattern.MatchString(p.ID) {
			return invalid(at+".id", "%q is not a vendor:product id in lower-case hex", truncate(p.ID))
		}
		if p.Path == "" || len(p.Path) > 64 {
			return invalid(at+".path", "%q: want 1 to 64 bytes", truncate(p.Path))
		}
		// Decode names the first of several overlong fields in this
		// order; the map Validate ranged over named any of them.
		for _, f := range []struct{ field, v string }{{"name", p.Name}, {"model", p.Model}, {"kind", p.Kind}, {"manufacturer", p.Manufacturer},
			{"product", p.Product}, {"serial", p.Serial}, {"bcd_device", p.BCDDevice}, {"firmware", p.Firmware}, {"firmware_reason", p.FirmwareReason}} {
			if len(f.v) > 256 {
				return invalid(at+"."+f.field, "longer than 256 bytes")
			}
		}
		switch p.FirmwareStatus {
		case FirmwareOK, FirmwareBelowRecommended, FirmwareBelowMinimum, FirmwareKnownBad, FirmwareUnknown:
		default:
			return invalid(at+".firmware_status", "%q is not one of ok, below_recommended, below_minimum, known_bad, unknown", truncate(p.FirmwareStatus))
		}
		if len(p.Interfaces) > 32 {
			return invalid(at+".interfaces", "%d interfaces; at most 32", len(p.Interfaces))
		}
	}
	return nil
}

// twoPassSeeds are payloads where reading the schema and the report in one
// parse could go wrong: duplicate and case-folded keys, a null schema,
// errors before and after the schema.
var twoPassSeeds = []string{
	`null`, `{}`, `[]`, `"x"`, `1`, `{"schema":null}`, `{"schema":5}`, `{"schema":{}}`,
	`{"schema":"siaprapat.report/v1","schema":null}`,
	`{"schema":null,"schema":"siaprapat.report/v1","id":"x","site":"s","room":"r","measured_at":"2026-01-01T00:00:00Z","verdict":"ready"}`,
	`{"schema":"siaprapat.report/v1","SCHEMA":"siaprapat.report/v2","id":"x","site":"s","room":"r","measured_at":"2026-01-01T00:00:00Z","verdict":"ready"}`,
	`{"ſchema":"siaprapat.report/v1","id":"x","site":"s","room":"r","measured_at":"2026-01-01T00:00:00Z","verdict":"ready"}`,
	`{"Schema":"siaprapat.report/v1.7","Report":{"schema":"x"},"id":"x","site":"s","room":"r","measured_at":"2026-01-01T00:00:00Z","verdict":"ready","checks":null}`,
	`{"verdict":5,"schema":5}`,
	`{"verdict":5,"schema":"siaprapat.report/v2"}`,
	`{"measured_at":"yesterday","schema":"siaprapat.report/v2"}`,
	`{"measured_at":5,"schema":"siaprapat.report/v1"}`,
	`{"schema":"siaprapat.report/v1","measured_at":"yesterday","verdict":5}`,
	`{"schema":"siaprapat.report/v1","verdict":5,"measured_at":"yesterday"}`,
	`{"schema":"siaprapat.report/v1","checks":[{"measurements":{"fps":"x"}}],"verdict":7}`,
	`{"schema":"siaprapat.report/v1","checks":[{"duration_seconds":1e400}]}`,
	`{"schema":"siaprapat.report/v1","peripherals":[{"id":"046d:085e","path":"1-2","firmware_status":"ok","interfaces":{}}]}`,
	`{"schema":"siaprapat.report/v1","id":"x","site":"s","room":"r","measured_at":"2026-01-01T00:00:00Z","verdict":"ready","peripherals":[{"id":"046d:085e","path":"1-2","firmware_status":"ok"},{"id":"046D:085e"}]}`,
	`{"schema":"siaprapat.report/v1","id":"x","site":"s","room":"r","measured_at":"2026-01-01T00:00:00Z","verdict":"ready","checks":[{"check":"host","target":"t","verdict":"pass"},{"check":"host","target":"t","verdict":"pass","rules":[{"rule":"a"},{"rule":"b","verdict":"pass"}]}]}`,
	`{"schema":"siaprapat.report/v1"} x`, `{"schema":"siaprapat.report/v1"`, "\xff",
}

// FuzzDecode_SameAsTwoPass: Decode accepts what decodeTwoPass accepts, the
// same report, and rejects the rest with the same error.
func FuzzDecode_SameAsTwoPass(f *testing.F) {
	good, _ := validReport().Encode()
	f.Add(good)
	for _, s := range twoPassSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gotErr := Decode(data)
		want, wantErr := decodeTwoPass(data)
		switch {
		case (gotErr == nil) != (wantErr == nil):
			t.Fatalf("Decode: %v; two passes: %v", gotErr, wantErr)
		case gotErr != nil:
			g, w := gotErr.(*DecodeError), wantErr.(*DecodeError)
			if *g != *w && !(g.Reason == w.Reason && strings.Contains(w.Field, ".measurements[")) {
				t.Fatalf("Decode: %v; two passes: %v", gotErr, wantErr)
			}
		case !reflect.DeepEqual(got, want):
			t.Fatalf("Decode:\n%+v\ntwo passes:\n%+v", got, want)
		}
	})
}

func TestDecode_SameAsTwoPassOnTrickyPayloads(t *testing.T) {
	for _, s := range twoPassSeeds {
		got, gotErr := Decode([]byte(s))
		want, wantErr := decodeTwoPass([]byte(s))
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\nDecode: %+v, %v\ntwo passes: %+v, %v", s, got, gotErr, want, wantErr)
		}
	}
}
