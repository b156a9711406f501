package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func validReport() *Report {
	obs := 8.2e9
	return &Report{
		Schema: Schema, ID: "0123456789abcdef", Site: "kalbar", Room: "pontianak-r1",
		AgentVersion: "1.0.0", MeasuredAt: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
		Verdict: Ready,
		Checks: []CheckResult{{
			Check: CheckHost, Target: "pc-1", Verdict: Pass, DurationSeconds: 1.2,
			Measurements: map[string]float64{"memory_total_bytes": 8.2e9},
			Rules:        []RuleResult{{Rule: "host_memory_total", Verdict: Pass, Observed: &obs, Want: ">= 7.5 GB"}},
		}},
	}
}

func TestReport_EncodeDecodeRoundTrip(t *testing.T) {
	r := validReport()
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `\u003e`) {
		t.Errorf("encoded report escapes '>': %s", b)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := got.Encode()
	if string(again) != string(b) {
		t.Errorf("round trip changed the report:\n%s\n%s", b, again)
	}
}

// mutate encodes the valid report as a JSON object, applies f to it and
// returns the payload.
func mutate(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	b, err := json.Marshal(validReport())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func check0(m map[string]any) map[string]any { return m["checks"].([]any)[0].(map[string]any) }

func TestDecode_RejectsBadPayloads(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
		want    string
		reason  string
	}{
		{"garbage", []byte("hello, broker"), "report rejected (malformed): not valid JSON at byte 1: invalid character 'h' looking for beginning of value", ReasonMalformed},
		{"empty", []byte(""), "report rejected (malformed): payload is empty", ReasonMalformed},
		{"array", []byte("[1,2]"), "report rejected (malformed): got JSON array, want an object", ReasonMalformed},
		{"oversized", []byte(`{"schema":"siaprapat.report/v1","pad":"` + strings.Repeat("x", MaxBytes) + `"}`), "report rejected (oversized): payload is 262185 bytes, the limit is 262144", ReasonOversized},
		{"no schema", mutate(t, func(m map[string]any) { delete(m, "schema") }), "report rejected (schema): field schema: missing; want siaprapat.report/v1", ReasonSchema},
		{"major version 2", mutate(t, func(m map[string]any) { m["schema"] = "siaprapat.report/v2" }), "report rejected (schema): field schema: major version 2 is not supported; this build reads siaprapat.report/v1", ReasonSchema},
		{"foreign schema", mutate(t, func(m map[string]any) { m["schema"] = "other/v1" }), `report rejected (schema): field schema: "other/v1" is not a siaprapat report schema; want siaprapat.report/v1`, ReasonSchema},
		{"missing id", mutate(t, func(m map[string]any) { delete(m, "id") }), "report rejected (invalid): field id: missing", ReasonInvalid},
		{"bad id", mutate(t, func(m map[string]any) { m["id"] = "a b" }), `report rejected (invalid): field id: "a b" is not a valid id: 1 to 64 letters, digits, '.', '_' or '-'`, ReasonInvalid},
		{"missing site", mutate(t, func(m map[string]any) { m["site"] = "" }), "report rejected (invalid): field site: site is empty", ReasonInvalid},
		{"room with slash", mutate(t, func(m map[string]any) { m["room"] = "r1/x" }), `report rejected (invalid): field room: room "r1/x" is not a valid name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`, ReasonInvalid},
		{"room with wildcard", mutate(t, func(m map[string]any) { m["room"] = "+" }), `report rejected (invalid): field room: room "+" is not a valid name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`, ReasonInvalid},
		{"no time", mutate(t, func(m map[string]any) { delete(m, "measured_at") }), "report rejected (invalid): field measured_at: missing; want an RFC 3339 time", ReasonInvalid},
		{"bad time", mutate(t, func(m map[string]any) { m["measured_at"] = "yesterday" }), `report rejected (malformed): field measured_at: "yesterday" is not an RFC 3339 time`, ReasonMalformed},
		{"bad verdict", mutate(t, func(m map[string]any) { m["verdict"] = "fine" }), `report rejected (invalid): field verdict: "fine" is not one of ready, degraded, not_ready`, ReasonInvalid},
		{"measurement of wrong type", mutate(t, func(m map[string]any) {
			check0(m)["measurements"] = map[string]any{"fps": "thirty"}
		}), "report rejected (malformed): field checks.measurements: got JSON string, want float64", ReasonMalformed},
		{"bad measurement name", mutate(t, func(m map[string]any) {
			check0(m)["measurements"] = map[string]any{"FPS!": 30}
		}), `report rejected (invalid): field checks[0].measurements["FPS!"]: not a measurement name (lower case letters, digits and '_', ending in its unit)`, ReasonInvalid},
		{"bad check verdict", mutate(t, func(m map[string]any) { check0(m)["verdict"] = "ok" }), `report rejected (invalid): field checks[0].verdict: "ok" is not one of pass, warn, fail, error, skipped`, ReasonInvalid},
		{"negative duration", mutate(t, func(m map[string]any) { check0(m)["duration_seconds"] = -1 }), "report rejected (invalid): field checks[0].duration_seconds: -1 is negative", ReasonInvalid},
		{"bad code", mutate(t, func(m map[string]any) { check0(m)["code"] = "No Camera" }), `report rejected (invalid): field checks[0].code: "No Camera" is not a code (lower case letters, digits and '_', up to 32)`, ReasonInvalid},
		{"check without target", mutate(t, func(m map[string]any) { delete(check0(m), "target") }), `report rejected (invalid): field checks[0].target: "": want 1 to 128 bytes`, ReasonInvalid},
		{"bad rule name", mutate(t, func(m map[string]any) {
			check0(m)["rules"] = []any{map[string]any{"rule": "Host CPU", "verdict": "pass"}}
		}), `report rejected (invalid): field checks[0].rules[0].rule: "Host CPU" is not a rule name (lower case letters, digits and '_')`, ReasonInvalid},
		{"too many checks", mutate(t, func(m map[string]any) {
			var cs []any
			for range MaxChecks + 1 {
				cs = append(cs, check0(m))
			}
			m["checks"] = cs
		}), "report rejected (invalid): field checks: 65 checks; at most 64", ReasonInvalid},
		{"rule without name", mutate(t, func(m map[string]any) {
			check0(m)["rules"] = []any{map[string]any{"verdict": "pass"}}
		}), "report rejected (invalid): field checks[0].rules[0].rule: missing", ReasonInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.payload)
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason != tc.reason {
				t.Errorf("reason = %v, want %s", de, tc.reason)
			}
		})
	}
}

func TestDecode_AcceptsNewerMinorVersionAndUnknownFields(t *testing.T) {
	p := mutate(t, func(m map[string]any) {
		m["schema"] = "siaprapat.report/v1.3"
		m["added_later"] = map[string]any{"x": 1}
	})
	if _, err := Decode(p); err != nil {
		t.Fatal(err)
	}
}

func TestEncode_RejectsNaN(t *testing.T) {
	r := validReport()
	r.Checks[0].Measurements["fps"] = nan()
	_, err := r.Encode()
	if err == nil || err.Error() != "encode report: checks[0] (host) measurement fps is NaN" {
		t.Fatalf("err = %v", err)
	}
}

func TestRoomVerdictOf(t *testing.T) {
	c := func(v ...Verdict) []CheckResult {
		var out []CheckResult
		for _, x := range v {
			out = append(out, CheckResult{Verdict: x})
		}
		return out
	}
	for _, tc := range []struct {
		checks []CheckResult
		want   RoomVerdict
	}{
		{c(Pass, Pass), Ready},
		{c(Pass, Skipped), Ready},
		{c(Pass, Warn), Degraded},
		{c(Warn, Fail), NotReady},
		{c(Pass, Error), NotReady},
		{nil, Ready},
	} {
		if got := RoomVerdictOf(tc.checks); got != tc.want {
			t.Errorf("RoomVerdictOf(%v) = %s, want %s", tc.checks, got, tc.want)
		}
	}
}

func TestParseTopic(t *testing.T) {
	for _, tc := range []struct {
		topic            string
		site, room, kind string
		ok               bool
	}{
		{"siaprapat/v1/kalbar/r1/report", "kalbar", "r1", "report", true},
		{"siaprapat/v1/kalbar/r1/status", "kalbar", "r1", "status", true},
		{"siaprapat/v1/kalbar/r1", "", "", "", false},
		{"siaprapat/v2/kalbar/r1/report", "", "", "", false},
		{"siaprapat/v1/kal bar/r1/report", "", "", "", false},
		{"siaprapat/v1/kalbar/r1/report/extra", "", "", "", false},
	} {
		site, room, kind, ok := ParseTopic(tc.topic)
		if site != tc.site || room != tc.room || kind != tc.kind || ok != tc.ok {
			t.Errorf("ParseTopic(%q) = %q %q %q %v", tc.topic, site, room, kind, ok)
		}
	}
	if got := Topic("a", "b", KindReport); got != "siaprapat/v1/a/b/report" {
		t.Errorf("Topic = %s", got)
	}
}

func TestBrokerURL(t *testing.T) {
	for raw, want := range map[string]string{
		"mqtt://localhost":      "mqtt://localhost:1883",
		"tcp://10.0.0.1:1884":   "tcp://10.0.0.1:1884",
		"mqtts://broker.local":  "mqtts://broker.local:8883",
		"ssl://broker.local:99": "ssl://broker.local:99",
	} {
		u, err := BrokerURL(raw)
		if err != nil || u.String() != want {
			t.Errorf("BrokerURL(%q) = %v, %v; want %s", raw, u, err, want)
		}
	}
	for raw, want := range map[string]string{
		"http://x":  `broker URL "http://x": scheme "http" is not supported; use mqtt://, tcp://, mqtts://, ssl:// or tls://`,
		"mqtt://":   `broker URL "mqtt://": no host`,
		"localhost": `broker URL "localhost": scheme "" is not supported; use mqtt://, tcp://, mqtts://, ssl:// or tls://`,
	} {
		if _, err := BrokerURL(raw); err == nil || err.Error() != want {
			t.Errorf("BrokerURL(%q) error = %v, want %s", raw, err, want)
		}
	}
}

func TestCommandAndResult_RoundTripAndRejects(t *testing.T) {
	cmd := Command{Schema: CommandSchema, ID: "c1", Kind: CommandCheck, Checks: []string{"host"}, Deadline: time.Now().UTC().Truncate(time.Second)}
	b, _ := cmd.Encode()
	got, err := DecodeCommand(b)
	if err != nil || got.ID != "c1" || !got.Deadline.Equal(cmd.Deadline) {
		t.Fatalf("command round trip: %+v, %v", got, err)
	}
	for payload, want := range map[string]string{
		`{"schema":"siaprapat.command/v1","id":"c1","kind":"reboot","deadline":"2026-01-01T00:00:00Z"}`: `report rejected (invalid): field kind: "reboot" is not a command this agent knows (check)`,
		`{"schema":"siaprapat.command/v1","id":"c1","kind":"check"}`:                                    "report rejected (invalid): field deadline: missing",
		`{"schema":"x","id":"c1"}`: `report rejected (schema): field schema: "x"; want siaprapat.command/v1`,
	} {
		if _, err := DecodeCommand([]byte(payload)); err == nil || err.Error() != want {
			t.Errorf("DecodeCommand(%s) = %v, want %s", payload, err, want)
		}
	}
	res := Result{Schema: ResultSchema, CommandID: "c1", Report: validReport()}
	b, err = res.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeResult(b)
	if err != nil || back.Report.ID != validReport().ID {
		t.Fatalf("result round trip: %+v, %v", back, err)
	}
	bad := strings.Replace(string(b), `"site":"kalbar"`, `"site":"kal bar"`, 1)
	if _, err := DecodeResult([]byte(bad)); err == nil || !strings.Contains(err.Error(), "field report.site") {
		t.Errorf("bad report inside a result: %v", err)
	}
	if _, err := DecodeResult([]byte(`{"schema":"siaprapat.result/v1","command_id":"c1"}`)); err == nil ||
		err.Error() != "report rejected (invalid): field report: missing, and no error says why" {
		t.Errorf("empty result: %v", err)
	}
}

func TestBrokerAt_TakesTheSchemeAndPortGivenAtTheHost(t *testing.T) {
	for _, tc := range []struct{ given, host, want string }{
		{"mqtt://10.0.0.5:1891", "ctl.example", "mqtt://ctl.example:1891"},
		{"mqtts://:8884", "10.1.2.3", "mqtts://10.1.2.3:8884"},
		{"mqtts://x", "h", "mqtts://h:8883"},
		{"", "h", "mqtt://h:1883"},
		{"gopher://x:1", "h", "mqtt://h:1883"},
		{"mqtt://:1883", "fe80::1", "mqtt://[fe80::1]:1883"},
	} {
		if got := BrokerAt(tc.given, tc.host); got != tc.want {
			t.Errorf("BrokerAt(%q, %q) = %q, want %q", tc.given, tc.host, got, tc.want)
		}
	}
}
