package standard

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siaprapat/siaprapat/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestDefault_LoadsAndCoversEverySourcedRule(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	// Every rule of shared/STANDARD-SOURCES.md, by its measurement.
	for _, m := range []string{
		"width_pixels", "height_pixels", "fps", "first_frame_seconds",
		"sample_rate_hertz", "sample_bits", "loopback_level_dbfs", "noise_floor_dbfs", "clip_ratio",
		"download_bits_per_second", "upload_bits_per_second", "rtt_seconds", "jitter_seconds", "loss_ratio",
		"memory_total_bytes", "disk_total_bytes", "cpu_used_ratio", "memory_available_bytes", "disk_free_bytes", "disk_free_ratio",
	} {
		found := false
		for _, r := range s.Rules {
			found = found || r.Measurement == m
		}
		if !found {
			t.Errorf("default standard has no rule on %s", m)
		}
	}
	if s.Freshness.Minutes() != 3 {
		t.Errorf("freshness = %v", s.Freshness)
	}
}

// TestDefault_EveryThresholdNamesItsSource checks the YAML itself: each
// threshold line carries a comment saying [source] or [judgement], or the
// comment block just above it does.
func TestDefault_EveryThresholdNamesItsSource(t *testing.T) {
	data, err := os.ReadFile("../firmware-profiles/standards/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		field := strings.TrimSpace(strings.SplitN(l, ":", 2)[0])
		switch field {
		case "warn_below", "fail_below", "warn_above", "fail_above", "nominal":
		default:
			continue
		}
		sourced := strings.Contains(l, "[source]") || strings.Contains(l, "[judgement]")
		for j := i - 1; !sourced && j >= 0 && strings.HasPrefix(strings.TrimSpace(lines[j]), "#"); j-- {
			sourced = strings.Contains(lines[j], "[source]") || strings.Contains(lines[j], "[judgement]")
		}
		if !sourced {
			t.Errorf("default.yaml:%d: %q has no [source] or [judgement] comment", i+1, strings.TrimSpace(l))
		}
	}
}

func TestLoad_InvalidFilesSayFileLineAndField(t *testing.T) {
	cases := map[string]string{
		"invalid-empty.yaml":         "testdata/invalid-empty.yaml: the file is empty",
		"invalid-unknown-field.yaml": `testdata/invalid-unknown-field.yaml:9: unknown field "fial_below" in a rule`,
		"invalid-top-field.yaml":     `testdata/invalid-top-field.yaml:4: unknown field "freshnes" in the standard`,
		"invalid-syntax.yaml":        "testdata/invalid-syntax.yaml:3: did not find expected ',' or ']'",
		"invalid-type.yaml":          "testdata/invalid-type.yaml:9: cannot unmarshal !!str `lots` into float64",
		"invalid-ranges.yaml": `testdata/invalid-ranges.yaml:6: rule "loss": field warn_above: 3 is out of range for a ratio (0 to 1)
testdata/invalid-ranges.yaml:6: rule "loss": field fail_above: 0.03 is below warn_above 3; a value must warn before it fails
testdata/invalid-ranges.yaml:12: rule "upload": field fail_below: 5e+06 is above warn_below 3e+06; a value must warn before it fails`,
		"invalid-unknown-measurement.yaml": `testdata/invalid-unknown-measurement.yaml:6: rule "cpu": field measurement: "cpu_use_ratio" is not a measurement of check host; want one of cpu_used_ratio, load1_per_cpu_ratio, logical_cpus, memory_total_bytes, memory_available_bytes, disk_total_bytes, disk_free_bytes, disk_free_ratio, uptime_seconds, temperature_max_celsius, nic_links_up, nic_links_down, nic_errors_total, nic_drops_total, clock_offset_seconds, spool_repairs
testdata/invalid-unknown-measurement.yaml:11: rule "smell": field check: "nose" is not a check; want one of host, camera, audio, network, peripherals`,
		"invalid-header.yaml": `testdata/invalid-header.yaml: field schema: "siaprapat.standard/v9" is not supported; want siaprapat.standard/v1
testdata/invalid-header.yaml: field name: missing
testdata/invalid-header.yaml: field freshness: 48h0m0s is out of range; want 1s to 24h0m0s
testdata/invalid-header.yaml:6: rule "cpu": field source: must say where the figures come from, starting with [source] or [judgement]
testdata/invalid-header.yaml:11: rule "cpu": field name: duplicate of rules[0]
testdata/invalid-header.yaml:11: rule "cpu": field fail_below: the rule has no limit; set at least one of warn_below, fail_below, warn_above, fail_above`,
		"invalid-nan.yaml": `testdata/invalid-nan.yaml:6: rule "cpu": field fail_above: NaN is not a number a measurement can be compared with
testdata/invalid-nan.yaml:11: rule "upload": field fail_below: -Inf is not a number a measurement can be compared with`,
		"invalid-not-checked.yaml": `testdata/invalid-not-checked.yaml: field not_checked: "ignore" is not a verdict for a check a report lacks; want warn (degraded), fail (not ready) or pass`,
		"invalid-empty-band.yaml":  `testdata/invalid-empty-band.yaml:6: rule "level": field warn_above: the passing range is empty: below-limit -13 is not under above-limit -25`,
	}
	files, _ := filepath.Glob("testdata/invalid-*.yaml")
	if len(files) != len(cases) {
		t.Errorf("%d invalid-*.yaml files, %d cases: every file needs its expected message", len(files), len(cases))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, ok := cases[filepath.Base(f)]
			if !ok {
				t.Fatalf("no expected message for %s", f)
			}
			_, err := Load(f)
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Error() != want {
				t.Errorf("error\n got: %s\nwant: %s", err, want)
			}
		})
	}
}

func TestLoad_MissingFile(t *testing.T) {
	_, err := Load("testdata/nope.yaml")
	if err == nil || err.Error() != "read standard: open testdata/nope.yaml: no such file or directory" {
		t.Fatalf("err = %v", err)
	}
}

func TestEvaluate_Verdicts(t *testing.T) {
	s, err := Load("testdata/valid-small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		check   string
		m       map[string]float64
		verdict wire.Verdict
		reasons []string
	}{
		{"all good", "network", map[string]float64{"upload_bits_per_second": 12e6, "rtt_seconds": 0.02}, wire.Pass, []string{"", ""}},
		{"slow upload warns", "network", map[string]float64{"upload_bits_per_second": 4e6, "rtt_seconds": 0.02}, wire.Warn,
			[]string{"upload_bits_per_second 4 Mbit/s is below the warn limit 5 Mbit/s", ""}},
		{"2 Mbit/s upload fails", "network", map[string]float64{"upload_bits_per_second": 2e6, "rtt_seconds": 0.15}, wire.Fail,
			[]string{"upload_bits_per_second 2 Mbit/s is below the fail limit 3.2 Mbit/s", "rtt_seconds 150 ms is above the warn limit 100 ms"}},
		{"missing measurement is an error", "network", map[string]float64{"upload_bits_per_second": 12e6}, wire.Error,
			[]string{"", "rtt_seconds was not measured"}},
		{"band: too quiet", "audio", map[string]float64{"loopback_level_dbfs": -30}, wire.Warn,
			[]string{"loopback_level_dbfs -30 dBFS is below the warn limit -25 dBFS"}},
		{"band: inside", "audio", map[string]float64{"loopback_level_dbfs": -19}, wire.Pass, []string{""}},
		{"band: too loud", "audio", map[string]float64{"loopback_level_dbfs": -10}, wire.Warn,
			[]string{"loopback_level_dbfs -10 dBFS is above the warn limit -13 dBFS"}},
		{"check without rules passes", "host", map[string]float64{"uptime_seconds": 3}, wire.Pass, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := wire.CheckResult{Check: tc.check, Measurements: tc.m}
			s.Evaluate(&c)
			if c.Verdict != tc.verdict {
				t.Errorf("verdict = %s, want %s", c.Verdict, tc.verdict)
			}
			if len(c.Rules) != len(tc.reasons) {
				t.Fatalf("%d rule results, want %d", len(c.Rules), len(tc.reasons))
			}
			for i, r := range c.Rules {
				if r.Reason != tc.reasons[i] {
					t.Errorf("rule %s reason = %q, want %q", r.Rule, r.Reason, tc.reasons[i])
				}
			}
		})
	}
}

func TestEvaluate_SkippedAndErrorChecksKeepTheirVerdict(t *testing.T) {
	s, _ := Load("testdata/valid-small.yaml")
	for _, v := range []wire.Verdict{wire.Skipped, wire.Error} {
		c := wire.CheckResult{Check: "network", Verdict: v, Reason: "camera in use"}
		s.Evaluate(&c)
		if c.Verdict != v || len(c.Rules) != 0 {
			t.Errorf("%s check became %s with %d rules", v, c.Verdict, len(c.Rules))
		}
	}
}

func TestRule_Want(t *testing.T) {
	s, _ := Default()
	got := map[string]string{}
	for _, r := range s.Rules {
		got[r.Name] = r.Want()
	}
	golden := filepath.Join("testdata", "default-wants.golden")
	var b strings.Builder
	for _, r := range s.Rules {
		b.WriteString(r.Name + ": " + got[r.Name] + "\n")
	}
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("wants differ from %s (go test -update rewrites it):\n%s", golden, b.String())
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		m    string
		v    float64
		want string
	}{
		{"memory_total_bytes", 8.2e9, "8.2 GB"},
		{"upload_bits_per_second", 3.2e6, "3.2 Mbit/s"},
		{"rtt_seconds", 0.0851, "85.1 ms"},
		{"first_frame_seconds", 1.5, "1.5 s"},
		{"uptime_seconds", 90061, "25h1m0s"},
		{"loss_ratio", 0.0123, "1.2 %"},
		{"clip_ratio", 0.0001, "0.01 %"},
		{"noise_floor_dbfs", -52.34, "-52.3 dBFS"},
		{"width_pixels", 1280, "1280 px"},
		{"logical_cpus", 4, "4"},
	} {
		if got := Format(tc.m, tc.v); got != tc.want {
			t.Errorf("Format(%s, %v) = %q, want %q", tc.m, tc.v, got, tc.want)
		}
	}
}

func TestEvaluate_FlagsThatMustBeYesOrNo(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]float64{"sample_rate_hertz": 48000, "sample_bits": 16, "peak_dbfs": -20, "noise_floor_dbfs": -60, "clip_ratio": 0}
	for _, tc := range []struct {
		name         string
		silence      float64
		heard        float64
		verdict      wire.Verdict
		failingRule  string
		failingCause string
	}{
		{"heard and not silent", 0, 1, wire.Pass, "", ""},
		{"silent input", 1, 1, wire.Fail, "microphone_silence", "digital_silence is yes"},
		{"speaker not heard", 0, 0, wire.Fail, "loopback", "loopback_detected is no"},
	} {
		m := map[string]float64{"digital_silence": tc.silence, "loopback_detected": tc.heard, "loopback_level_dbfs": -19}
		for k, v := range base {
			m[k] = v
		}
		c := wire.CheckResult{Check: "audio", Measurements: m}
		s.Evaluate(&c)
		if c.Verdict != tc.verdict {
			t.Errorf("%s: verdict %s, want %s (%+v)", tc.name, c.Verdict, tc.verdict, c.Rules)
		}
		for _, r := range c.Rules {
			if r.Rule == tc.failingRule && r.Reason != tc.failingCause {
				t.Errorf("%s: rule %s reason %q, want %q", tc.name, r.Rule, r.Reason, tc.failingCause)
			}
			if r.Rule == "loopback" && r.Want != "yes" {
				t.Errorf("loopback wants %q, want \"yes\"", r.Want)
			}
		}
	}
}

func TestEvaluate_FailWithoutMeasurementsKeepsItsReason(t *testing.T) {
	s, _ := Default()
	c := wire.CheckResult{Check: "camera", Target: "camera", Verdict: wire.Fail, Reason: "no camera found"}
	s.Evaluate(&c)
	if c.Verdict != wire.Fail || c.Reason != "no camera found" || len(c.Rules) != 0 {
		t.Errorf("got %s %q with %d rules, want fail \"no camera found\" and no rules", c.Verdict, c.Reason, len(c.Rules))
	}
}
