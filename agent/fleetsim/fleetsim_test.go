package fleetsim

import (
	"context"
	"testing"

	"github.com/siaprapat/siaprapat/agent/host"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

func TestProfileOf_RealisticMix(t *testing.T) {
	n := map[Profile]int{}
	for i := range 1000 {
		n[ProfileOf(i)]++
	}
	for p, want := range map[Profile]int{ProfileReady: 700, ProfileDegraded: 150, ProfileNotReady: 100, ProfileFlaky: 50} {
		if d := n[p] - want; d < -30 || d > 30 {
			t.Errorf("%s: %d of 1000 rooms, want about %d", p, n[p], want)
		}
	}
}

// TestSource_ProfilesGiveTheirVerdicts judges drawn readings with the
// default standard through the same runner a real agent uses.
func TestSource_ProfilesGiveTheirVerdicts(t *testing.T) {
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[Profile]wire.RoomVerdict{
		ProfileReady: wire.Ready, ProfileDegraded: wire.Degraded, ProfileNotReady: wire.NotReady, ProfileFlaky: wire.Ready,
	} {
		for seed := range uint64(20) {
			src := NewSource(p, "pc", seed)
			r := &runner.Runner{Site: "s", Room: "r", Standard: std, Checks: []runner.Check{&host.Check{Source: src}, NewMedia(src, seed)}}
			rep := r.Run(context.Background())
			if rep.Verdict != want {
				t.Fatalf("%s seed %d: %s, want %s: %+v", p, seed, rep.Verdict, want, rep.Checks)
			}
			if _, err := rep.Encode(); err != nil {
				t.Fatal(err)
			}
			if len(rep.Checks) != 4 || len(rep.Peripherals) != 2 {
				t.Fatalf("%d checks and %d devices, want host, camera, audio, network and 2 devices", len(rep.Checks), len(rep.Peripherals))
			}
		}
	}
}

func TestRun_RejectsBadOptions(t *testing.T) {
	std, _ := standard.Default()
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Broker: "mqtt://x", Rooms: 0, Sites: 1, Interval: 1, Standard: std}, "--rooms 0: want at least 1"},
		{Options{Broker: "mqtt://x", Rooms: 2, Sites: 3, Interval: 1, Standard: std}, "--sites 3: want 1 to --rooms (2)"},
		{Options{Broker: "mqtt://x", Rooms: 2, Sites: 1, Interval: 0, Standard: std}, "--interval 0s: must be positive"},
		{Options{Broker: "ftp://x", Rooms: 2, Sites: 1, Interval: 1, Standard: std}, `broker URL "ftp://x": scheme "ftp" is not supported; use mqtt://, tcp://, mqtts://, ssl:// or tls://`},
	} {
		if _, err := Run(context.Background(), tc.opts); err == nil || err.Error() != tc.want {
			t.Errorf("err = %v, want %s", err, tc.want)
		}
	}
}

// A check the simulator has no model of gets every catalogue measurement
// drawn where the standard takes it as ready, so a check added to the
// catalogue has simulated data without a line in the simulator; the checks
// it models are left to their models.
func TestDrawOthers_ACheckNewToTheCatalogueIsSimulatedReady(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	std := &standard.Standard{Rules: []standard.Rule{
		{Name: "display_width", Check: "display", Measurement: "width_pixels", WarnBelow: f(1920), FailBelow: f(1280)},
		{Name: "display_rate", Check: "display", Measurement: "refresh_hertz", Nominal: f(60), WarnBelow: f(50)},
		{Name: "display_blank", Check: "display", Measurement: "blanked", FailAbove: f(0)},
		{Name: "display_errors", Check: "display", Measurement: "link_errors_total", WarnAbove: f(0)},
		{Name: "display_signal", Check: "display", Measurement: "signal_dbm", WarnBelow: f(-70), WarnAbove: f(-20)},
	}}
	catalogue := append([]wire.Measurement{
		{Check: "display", Name: "width_pixels"},
		{Check: "display", Name: "refresh_hertz"},
		{Check: "display", Name: "blanked", Flag: true},
		{Check: "display", Name: "link_errors_total"},
		{Check: "display", Name: "signal_dbm"},
		{Check: "display", Name: "unjudged_ratio"},
	}, wire.Measurements...)
	u := func(lo, hi float64) float64 { return (lo + hi) / 2 }
	got := drawOthers(append([]string{"display"}, wire.Checks...), catalogue, std, u)
	if len(got) != 1 || got[0].Check != "display" {
		t.Fatalf("drew %+v, want one display result and no modelled check", got)
	}
	m := got[0].Measurements
	if len(m) != 6 {
		t.Fatalf("measurements %v, want all 6 of the catalogue's", m)
	}
	for name, ok := range map[string]bool{
		"width_pixels":      m["width_pixels"] >= 1920,
		"refresh_hertz":     m["refresh_hertz"] == 60,
		"blanked":           m["blanked"] == 0,
		"link_errors_total": m["link_errors_total"] == 0,
		"signal_dbm":        m["signal_dbm"] > -70 && m["signal_dbm"] < -20,
		"unjudged_ratio":    m["unjudged_ratio"] >= 0 && m["unjudged_ratio"] <= 1,
	} {
		if !ok {
			t.Errorf("%s = %v: not where the standard takes it as ready", name, m[name])
		}
	}
}
