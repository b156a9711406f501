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
