package fleet_test

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

var at0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// reports are simulated rooms' reports (ready, degraded and not ready
// ones) and hand-made ones with the corners readiness words.
func reports(t *testing.T) []*wire.Report {
	t.Helper()
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	var out []*wire.Report
	for i := range 60 {
		out = append(out, fleetsim.NewRoom(i, 3, 7, std, "sim").Run(context.Background()))
	}
	obs := 2.0
	hand := func(v wire.RoomVerdict, checks ...wire.CheckResult) *wire.Report {
		return &wire.Report{Schema: wire.Schema, ID: wire.NewID(), Site: "s", Room: "h", MeasuredAt: at0, Verdict: v, Checks: checks}
	}
	out = append(out,
		// A check whose rules passed but which failed, or only warned, anyway.
		hand(wire.NotReady, wire.CheckResult{Check: "camera", Target: "c", Verdict: wire.Fail, Reason: "odd",
			Rules: []wire.RuleResult{{Rule: "camera_fps", Verdict: wire.Pass, Observed: &obs}}}),
		hand(wire.Ready, wire.CheckResult{Check: "camera", Target: "c", Verdict: wire.Warn,
			Rules: []wire.RuleResult{{Rule: "camera_fps", Verdict: wire.Pass, Observed: &obs}}}),
		// A check that decided itself, one not checked, and skipped ones.
		hand(wire.NotReady, wire.CheckResult{Check: "camera", Target: "camera", Verdict: wire.Fail, Code: wire.CodeNoDevice},
			wire.CheckResult{Check: "audio", Target: "audio", Verdict: wire.Warn, Code: wire.CodeNotChecked},
			wire.CheckResult{Check: "network", Target: "probe", Verdict: wire.Skipped, Code: wire.CodeInUse}),
		// The controller's inventory, worded with its counts.
		hand(wire.NotReady, wire.CheckResult{Check: wire.CheckInventory, Target: "webcam", Verdict: wire.Fail,
			Measurements: map[string]float64{"devices_expected": 1, "devices_present": 0},
			Rules:        []wire.RuleResult{{Rule: "inventory_webcam", Verdict: wire.Fail, Reason: "1 expected, 0 present"}}}),
		// Not ready with nothing to say, and nothing at all.
		hand(wire.NotReady),
		hand(wire.Ready),
	)
	return out
}

// TestNewest_CutGivesTheCausesOfTheWholeReport: what the fleet keeps of a
// report gives, word for word, the causes and problems the whole report
// gives.
func TestNewest_CutGivesTheCausesOfTheWholeReport(t *testing.T) {
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	at := readiness.Context{Standard: std, Now: at0}
	kept := 0
	for i, rep := range reports(t) {
		f := fleet.New(fleet.Options{Freshness: time.Hour})
		f.ApplyReport(rep, rep.MeasuredAt)
		v, _ := f.Get(rep.Site, rep.Room)
		cut := v.Report.Cut()
		if want, got := readiness.OfReport(rep, at), readiness.OfReport(cut, at); !reflect.DeepEqual(got, want) {
			t.Errorf("report %d: causes of the cut\n%+v\nwant\n%+v", i, got, want)
		}
		if want, got := readiness.Verdict(rep), readiness.Verdict(cut); got != want {
			t.Errorf("report %d: verdict of the cut %s, want %s", i, got, want)
		}
		if cut != nil {
			kept += len(cut.Checks)
		}
	}
	if kept == 0 {
		t.Error("no report had a cause: the test tests nothing")
	}
}

// TestNewest_KeepsEveryCatalogueMeasurement: the flat measurements give
// each catalogued measurement of each check as the report has it, and
// only those.
func TestNewest_KeepsEveryCatalogueMeasurement(t *testing.T) {
	reps := reports(t)
	// A value no JSON report carries is still kept as it is.
	reps = append(reps, &wire.Report{Schema: wire.Schema, ID: "nan", Site: "s", Room: "n", MeasuredAt: at0, Verdict: wire.Ready,
		Checks: []wire.CheckResult{{Check: "camera", Target: "c", Verdict: wire.Pass,
			Measurements: map[string]float64{"fps": math.NaN(), "black_ratio": math.Inf(-1), "not_catalogued": 3}}}})
	for _, rep := range reps {
		f := fleet.New(fleet.Options{Freshness: time.Hour})
		f.ApplyReport(rep, rep.MeasuredAt)
		v, _ := f.Get(rep.Site, rep.Room)
		n := v.Report
		if len(n.Checks) != len(rep.Checks) {
			t.Fatalf("report %s: %d checks kept of %d", rep.ID, len(n.Checks), len(rep.Checks))
		}
		for i, c := range rep.Checks {
			k := &n.Checks[i]
			if k.Check() != c.Check || k.Target() != c.Target || k.Verdict() != c.Verdict || k.Code() != c.Code || k.DurationSeconds != c.DurationSeconds {
				t.Errorf("report %s check %d: kept %s %s %s %s %v", rep.ID, i, k.Check(), k.Target(), k.Verdict(), k.Code(), k.DurationSeconds)
			}
			for _, m := range wire.Measurements {
				if m.Check != c.Check {
					continue
				}
				want, has := c.Measurements[m.Name]
				got, ok := n.Value(i, fleet.MeasurementIndex(m.Check, m.Name))
				if ok != has || ok && !(got == want || math.IsNaN(got) && math.IsNaN(want)) {
					t.Errorf("report %s check %d %s: kept %v %v, want %v %v", rep.ID, i, m.Name, got, ok, want, has)
				}
			}
		}
		if fleet.MeasurementIndex("camera", "not_catalogued") != -1 {
			t.Error("a measurement the catalogue lacks has an index")
		}
		for i, p := range rep.Peripherals {
			got := n.Devices[i].Peripheral()
			want := wire.Peripheral{Path: p.Path, ID: p.ID, Name: p.Name, Model: p.Model, Kind: p.Kind, Firmware: p.Firmware, FirmwareStatus: p.FirmwareStatus}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("report %s device %d: kept %+v, want %+v", rep.ID, i, got, want)
			}
		}
		if n.AgentVersion() != rep.AgentVersion || n.Standard() != rep.Standard {
			t.Errorf("report %s: kept agent %q standard %q", rep.ID, n.AgentVersion(), n.Standard())
		}
	}
}

// TestFleet_NewestReportIsTheWholeReportBeforeAndAfterItIsWritten: the
// fleet gives a room's newest report whole, as received, from memory
// until the store has it, from the store after, and after a restart.
func TestFleet_NewestReportIsTheWholeReportBeforeAndAfterItIsWritten(t *testing.T) {
	dir := t.TempDir()
	opts := fleet.Options{Freshness: time.Hour, Now: func() time.Time { return at0 }}
	f, err := fleet.Open(dir, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	received := []byte(`{"schema":"siaprapat.report/v1","id":"a","site":"s","room":"r","agent_version":"1.2",
		"measured_at":"2026-11-23T08:00:00Z","verdict":"ready","checks":[{"check":"host","target":"pc","verdict":"pass",
		"duration_seconds":0.1,"measurements":{"cpu_used_ratio":0.25,"not_catalogued":7},"rules":[{"rule":"host_cpu","verdict":"pass","observed":0.25,"want":"<= 70 %"}]}],
		"peripherals":[{"path":"1-1","id":"046d:0825","serial":"X1","firmware_status":"unknown"}]}`)
	want, err := wire.Decode(received)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := f.NewestReport("s", "r"); rep != nil || err != nil {
		t.Fatalf("a room never heard of: %v, %v", rep, err)
	}
	rep, _ := wire.Decode(received)
	f.ApplyEncoded(rep, received, at0)
	rep.Checks[0].Target = "changed" // the fleet kept nothing of it
	check := func(g *fleet.Fleet, when string) {
		t.Helper()
		got, err := g.NewestReport("s", "r")
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, %v; want %+v", when, got, err, want)
		}
		if v, _ := g.Get("s", "r"); v.Report.Checks[0].Target() != "pc" {
			t.Errorf("%s: the kept target is %q", when, v.Report.Checks[0].Target())
		}
	}
	check(f, "before it is written")
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	check(f, "once written")
	f.ApplyStatus("s", "r", wire.StatusOffline, at0.Add(time.Second)) // the room written again, not its report
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := fleet.Open(dir, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	check(g, "after a restart")
	if v, _ := g.Get("s", "r"); v.State != fleet.Offline {
		t.Errorf("after a restart: %s, want offline", v.State)
	}
	if !g.Remove("s", "r") {
		t.Fatal("room not known")
	}
	if err := g.Flush(); err != nil {
		t.Fatal(err)
	}
	if rep, err := g.NewestReport("s", "r"); rep != nil || err != nil {
		t.Errorf("a removed room: %v, %v", rep, err)
	}
}

// TestOpen_ReadsTheRecordsOfTheLastVersion: a store written by the
// version before (each room's report inside its record) opens with every
// room and report, and is written again in the new layout.
func TestOpen_ReadsTheRecordsOfTheLastVersion(t *testing.T) {
	dir := t.TempDir()
	received := `{"schema":"siaprapat.report/v1","id":"a","site":"s","room":"r","measured_at":"2026-11-23T08:00:00Z","verdict":"not_ready",` +
		`"checks":[{"check":"camera","target":"camera","verdict":"fail","code":"no_device","duration_seconds":0}]}`
	db, err := bolt.Open(dir+"/fleet.db", 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("rooms"))
		if err != nil {
			return err
		}
		if err := b.Put([]byte("s/r"), []byte(`{"v":1,"room":{"site":"s","room":"r","agent_status":"online","status_at":"2026-11-23T08:00:01Z",`+
			`"report":`+received+`,"received_at":"2026-11-23T08:00:01Z","first_seen":"2026-11-23T07:00:00Z","changed":"2026-11-23T08:00:01Z"}}`)); err != nil {
			return err
		}
		return b.Put([]byte("s/q"), []byte(`{"v":1,"room":{"site":"s","room":"q","agent_status":"online","status_at":"2026-11-23T08:00:01Z",`+
			`"first_seen":"2026-11-23T07:00:00Z","changed":"2026-11-23T07:00:00Z"}}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	opts := fleet.Options{Freshness: time.Hour, Now: func() time.Time { return at0.Add(time.Minute) }}
	for _, when := range []string{"read from version 1", "written again"} {
		f, err := fleet.Open(dir, opts, nil)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		v, ok := f.Get("s", "r")
		if !ok || v.State != fleet.NotReady || v.Report == nil || v.Report.ID != "a" || len(v.Report.Cut().Checks) != 1 {
			t.Errorf("%s: room s/r %+v", when, v)
		}
		rep, err := f.NewestReport("s", "r")
		var want wire.Report
		if jerr := json.Unmarshal([]byte(received), &want); jerr != nil {
			t.Fatal(jerr)
		}
		if err != nil || !reflect.DeepEqual(rep, &want) {
			t.Errorf("%s: newest report %+v, %v", when, rep, err)
		}
		if v, ok := f.Get("s", "q"); !ok || v.Report != nil || v.State != fleet.Unknown {
			t.Errorf("%s: room s/q %+v", when, v)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
