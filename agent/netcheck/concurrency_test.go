package netcheck

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/controller/probe"
	"github.com/siaprapat/siaprapat/wire"
)

// occupy takes a session on the probe as another room would, for a test
// that says it needs duration.
func occupy(t *testing.T, p *testProbe, duration float64) (release func()) {
	t.Helper()
	body, _ := json.Marshal(probe.SessionRequest{DurationSeconds: duration})
	req, _ := http.NewRequest(http.MethodPost, p.url+"/probe/v1/session", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var info probe.SessionInfo
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&info) != nil {
		t.Fatalf("occupy: %d", resp.StatusCode)
	}
	resp.Body.Close()
	return func() {
		req, _ := http.NewRequest(http.MethodDelete, p.url+"/probe/v1/session/"+info.ID, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}

func TestCheck_BusyProbe(t *testing.T) {
	t.Run("waits as Retry-After says and then runs", func(t *testing.T) {
		p := startProbe(t, probe.Config{MaxSessions: 1}, true)
		release := occupy(t, p, 2) // Retry-After: 2
		time.AfterFunc(time.Second, release)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		start := time.Now()
		res := runCheck(t, ctx, quick(p.url))
		waited := time.Since(start)
		if res.Verdict == wire.Error || res.Measurements["download_bits_per_second"] <= 0 {
			t.Errorf("after waiting: %q %q %v", res.Verdict, res.Reason, res.Measurements)
		}
		if waited < 2*time.Second {
			t.Errorf("retried after %v, before the probe's Retry-After of 2 s", waited)
		}
		if st := p.Stats(); st.SessionsRefused != 1 || st.SessionsStarted != 2 {
			t.Errorf("stats %+v, want 1 refusal and 2 sessions", st)
		}
	})
	t.Run("gives up with probe busy when the deadline leaves no time", func(t *testing.T) {
		p := startProbe(t, probe.Config{MaxSessions: 1}, true)
		occupy(t, p, 30)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _ := New(quick(p.url))
		start := time.Now()
		_, err := c.Run(ctx, nil)
		if err == nil || !strings.Contains(err.Error(), "probe busy") || !strings.Contains(err.Error(), "1 tests running") {
			t.Fatalf("err = %v, want probe busy", err)
		}
		t.Logf("error after %v: %v", time.Since(start).Round(time.Millisecond), err)
		if time.Since(start) > time.Second {
			t.Error("waited although the deadline could not be met")
		}
	})
}

// TestCheck_FiftyRoomsAtOnce runs 50 checks at once against one probe (its
// default cap): all complete and share the loopback's capacity. A 51st,
// started while the 50 hold every slot, is refused with Retry-After,
// waits, and runs once the others are done.
func TestCheck_FiftyRoomsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("50 concurrent network checks: skipped with -short")
	}
	p := startProbe(t, probe.Config{}, true)
	cfg := quick(p.url)
	cfg.Streams = 2
	cfg.MaxBytes = 200e6
	cfg.Window = time.Second
	cfg.RampUp = 300 * time.Millisecond
	cfg.UDPDuration = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()

	results := make([]wire.CheckResult, probe.DefaultMaxSessions)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = runCheck(t, ctx, cfg) })
	}
	if !waitFor(10*time.Second, func() bool { return p.Stats().SessionsActive == probe.DefaultMaxSessions }) {
		t.Fatalf("the 50 checks never held every slot: %+v", p.Stats())
	}
	var late wire.CheckResult
	lateDone := make(chan time.Duration)
	go func() {
		start := time.Now()
		late = runCheck(t, ctx, cfg)
		lateDone <- time.Since(start)
	}()
	wg.Wait()
	lateTook := <-lateDone

	var down, up []float64
	for i, r := range results {
		if r.Verdict == wire.Error {
			t.Errorf("room %d: %s", i, r.Reason)
			continue
		}
		if r.Measurements["loss_ratio"] > 0 {
			t.Logf("room %d lost %.3f of its UDP stream", i, r.Measurements["loss_ratio"])
		}
		down = append(down, r.Measurements["download_bits_per_second"])
		up = append(up, r.Measurements["upload_bits_per_second"])
	}
	for _, d := range []struct {
		name string
		v    []float64
	}{{"download", down}, {"upload", up}} {
		lo, med, hi := shares(d.v)
		t.Logf("%s of 50 concurrent rooms, as a share of the mean: min %.2f, median %.2f, max %.2f (mean %.0f Mbit/s)",
			d.name, lo, med, hi, mean(d.v)/1e6)
		// Every room completed (above); the shares are reported, not
		// asserted: rooms' phases do not fully overlap, and on a loaded
		// machine one room's window can fall while others hold the CPU
		// (seen in CI under -race: min 0, median 0.31, max 32). The 50
		// together must still have moved data both ways.
		if mean(d.v) <= 0 {
			t.Errorf("50 rooms moved no %s at all", d.name)
		}
	}
	st := p.Stats()
	t.Logf("probe stats: %+v; the 51st room waited and ran in %v", st, lateTook.Round(time.Millisecond))
	if st.SessionsRefused < 1 {
		t.Error("the 51st room was never refused")
	}
	if late.Verdict == wire.Error || late.Measurements["download_bits_per_second"] <= 0 {
		t.Errorf("the 51st room: %q %q", late.Verdict, late.Reason)
	}
	if st.SessionsStarted != probe.DefaultMaxSessions+1 || st.SessionsActive != 0 {
		t.Errorf("sessions started %d, active %d; want 51, 0", st.SessionsStarted, st.SessionsActive)
	}
}

// shares returns the min, median and max of v divided by v's mean.
func shares(v []float64) (lo, med, hi float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	m := mean(v)
	s := slices.Clone(v)
	slices.Sort(s)
	return s[0] / m, s[len(s)/2] / m, s[len(s)-1] / m
}

func mean(v []float64) float64 {
	var sum float64
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
