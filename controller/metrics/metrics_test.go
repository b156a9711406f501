package metrics

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/wire"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func fixtureFleet() *fleet.Fleet {
	now := t0.Add(10 * time.Second)
	f := fleet.New(fleet.Options{Freshness: time.Minute, Now: func() time.Time { return now }})
	obs := 0.95
	f.ApplyReport(&wire.Report{
		Schema: wire.Schema, ID: "1", Site: "kalbar", Room: "r1", AgentVersion: "1.0", Standard: "std 1",
		MeasuredAt: t0, Verdict: wire.NotReady,
		Checks: []wire.CheckResult{{
			Check: "host", Target: "pc-1", Verdict: wire.Fail, DurationSeconds: 1.5,
			Measurements: map[string]float64{"cpu_used_ratio": 0.95, "memory_total_bytes": 8e9, "nic_errors_total": 3, "not_in_catalogue_bytes": 1},
			Rules: []wire.RuleResult{
				{Rule: "host_cpu", Verdict: wire.Fail, Observed: &obs},
				{Rule: "host_memory_total", Verdict: wire.Pass},
			},
		}},
	}, t0)
	f.ApplyStatus("kalbar", "r2", wire.StatusOffline, t0)
	return f
}

func TestCollector_RendersFleetState(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(fixtureFleet()))
	want := `
# HELP siaprapat_host_cpu_used_ratio Share of CPU time in use on the room PC, averaged over up to 5 minutes. From the room's newest report; absent for offline and unknown rooms.
# TYPE siaprapat_host_cpu_used_ratio gauge
siaprapat_host_cpu_used_ratio{room="r1",site="kalbar",target="pc-1"} 0.95
# HELP siaprapat_host_nic_errors_total Receive and transmit errors on the room PC's network interfaces since boot. From the room's newest report; absent for offline and unknown rooms.
# TYPE siaprapat_host_nic_errors_total counter
siaprapat_host_nic_errors_total{room="r1",site="kalbar",target="pc-1"} 3
# HELP siaprapat_room_last_report_timestamp_seconds Unix time the room's newest report was measured.
# TYPE siaprapat_room_last_report_timestamp_seconds gauge
siaprapat_room_last_report_timestamp_seconds{room="r1",site="kalbar"} 1.7954208e+09
# HELP siaprapat_room_rule_problem One series per cause in the room's newest report, with its verdict (warn, fail, error): a rule of the standard that did not pass, or a check that failed, errored or was not checked without a rule to say so (then rule is the check's name; the API gives the reason). Absent for offline and unknown rooms.
# TYPE siaprapat_room_rule_problem gauge
siaprapat_room_rule_problem{check="host",room="r1",rule="host_cpu",site="kalbar",target="pc-1",verdict="fail"} 1
# HELP siaprapat_room_state Readiness of the room, as a state set: 1 for its current state (ready, degraded, not_ready, offline, unknown), 0 for the others.
# TYPE siaprapat_room_state gauge
siaprapat_room_state{room="r1",site="kalbar",state="degraded"} 0
siaprapat_room_state{room="r1",site="kalbar",state="not_ready"} 1
siaprapat_room_state{room="r1",site="kalbar",state="offline"} 0
siaprapat_room_state{room="r1",site="kalbar",state="ready"} 0
siaprapat_room_state{room="r1",site="kalbar",state="unknown"} 0
siaprapat_room_state{room="r2",site="kalbar",state="degraded"} 0
siaprapat_room_state{room="r2",site="kalbar",state="not_ready"} 0
siaprapat_room_state{room="r2",site="kalbar",state="offline"} 1
siaprapat_room_state{room="r2",site="kalbar",state="ready"} 0
siaprapat_room_state{room="r2",site="kalbar",state="unknown"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"siaprapat_room_state", "siaprapat_room_last_report_timestamp_seconds", "siaprapat_room_rule_problem",
		"siaprapat_host_cpu_used_ratio", "siaprapat_host_nic_errors_total"); err != nil {
		t.Error(err)
	}
}

// TestCollector_ChecksWithoutRulesAreProblemsToo: a room with no camera,
// no sound server and no network check has a series for each, named by its
// check, beside the rule that failed.
func TestCollector_ChecksWithoutRulesAreProblemsToo(t *testing.T) {
	now := t0.Add(10 * time.Second)
	f := fleet.New(fleet.Options{Freshness: time.Minute, Now: func() time.Time { return now }})
	obs := 0.95
	f.ApplyReport(&wire.Report{
		Schema: wire.Schema, ID: "1", Site: "kalbar", Room: "aula", MeasuredAt: t0, Verdict: wire.NotReady,
		Checks: []wire.CheckResult{
			{Check: "camera", Target: "camera", Verdict: wire.Fail, Reason: "no camera found", Code: wire.CodeNoDevice},
			{Check: "audio", Target: "microphone", Verdict: wire.Error, Reason: "no sound server: connection refused", Code: wire.CodeNoSoundServer},
			{Check: "host", Target: "pc-1", Verdict: wire.Fail, Rules: []wire.RuleResult{{Rule: "host_cpu", Verdict: wire.Fail, Observed: &obs}}},
			{Check: "network", Target: "network", Verdict: wire.Warn, Code: wire.CodeNotChecked},
			{Check: "peripherals", Target: "usb", Verdict: wire.Skipped, Reason: "this machine has no USB bus"},
		},
	}, t0)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(f))
	want := `
# HELP siaprapat_room_rule_problem One series per cause in the room's newest report, with its verdict (warn, fail, error): a rule of the standard that did not pass, or a check that failed, errored or was not checked without a rule to say so (then rule is the check's name; the API gives the reason). Absent for offline and unknown rooms.
# TYPE siaprapat_room_rule_problem gauge
siaprapat_room_rule_problem{check="audio",room="aula",rule="audio",site="kalbar",target="microphone",verdict="error"} 1
siaprapat_room_rule_problem{check="camera",room="aula",rule="camera",site="kalbar",target="camera",verdict="fail"} 1
siaprapat_room_rule_problem{check="host",room="aula",rule="host_cpu",site="kalbar",target="pc-1",verdict="fail"} 1
siaprapat_room_rule_problem{check="network",room="aula",rule="network",site="kalbar",target="network",verdict="warn"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "siaprapat_room_rule_problem"); err != nil {
		t.Error(err)
	}
	var b strings.Builder
	if err := New(f).WriteText(&b, map[string]bool{"siaprapat_room_rule_problem": true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `siaprapat_room_rule_problem{check="camera",room="aula",rule="camera",site="kalbar",target="camera",verdict="fail"} 1`) {
		t.Errorf("the scrape path lacks the camera:\n%s", b.String())
	}
}

func TestCollector_OfflineRoomLeavesNoMeasurementSeries(t *testing.T) {
	f := fixtureFleet()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(f))
	if n, err := testutil.GatherAndCount(reg, "siaprapat_host_cpu_used_ratio"); err != nil || n != 1 {
		t.Fatalf("online room: %d series (%v), want 1", n, err)
	}
	f.ApplyStatus("kalbar", "r1", wire.StatusOffline, t0.Add(time.Second))
	for _, name := range []string{"siaprapat_host_cpu_used_ratio", "siaprapat_room_rule_problem", "siaprapat_room_check_duration_seconds"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != 0 {
			t.Errorf("offline room: %s has %d series (%v), want none", name, n, err)
		}
	}
	if n, _ := testutil.GatherAndCount(reg, "siaprapat_room_last_report_timestamp_seconds"); n != 1 {
		t.Errorf("offline room lost its last report timestamp")
	}
}

func TestCollector_Lints(t *testing.T) {
	problems, err := testutil.CollectAndLint(New(fixtureFleet()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestCollector_PassesPromtoolCheckMetrics(t *testing.T) {
	promtool := testenv.Command(t, "promtool", "prometheus")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(fixtureFleet()))
	var b strings.Builder
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if _, err := writeText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
