package netcheck

import (
	"context"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/controller/probe"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

const testToken = "netcheck-test-token"

// testProbe is the controller's probe on loopback, mounted as the
// controller mounts it, with its UDP echo.
type testProbe struct {
	*probe.Server
	url string
}

func startProbe(t testing.TB, cfg probe.Config, udp bool) *testProbe {
	t.Helper()
	if cfg.Tokens == nil {
		cfg.Tokens = []string{testToken}
	}
	s, err := probe.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/probe/v1/", s)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	if udp {
		if err := s.ListenUDP("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("probe Serve: %v", err)
			}
		})
	}
	return &testProbe{Server: s, url: hs.URL}
}

// quick is a configuration with short phases, for tests that do not
// judge accuracy.
func quick(url string) Config {
	return Config{
		Probe: url, Token: testToken,
		RampUp: 200 * time.Millisecond, Window: 500 * time.Millisecond, UDPDuration: 500 * time.Millisecond,
		MaxBytes: 50e6,
	}
}

func runCheck(t testing.TB, ctx context.Context, cfg Config) wire.CheckResult {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(ctx, nil)
	if err != nil {
		t.Fatalf("network check: %v", err)
	}
	if len(res) != 1 {
		t.Fatalf("%d results, want 1", len(res))
	}
	if res[0].Check != wire.CheckNetwork {
		t.Errorf("check %q", res[0].Check)
	}
	return res[0]
}

func judge(t testing.TB, res wire.CheckResult) wire.CheckResult {
	t.Helper()
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	std.Evaluate(&res)
	return res
}

func ruleVerdict(res wire.CheckResult, rule string) wire.Verdict {
	for _, r := range res.Rules {
		if r.Rule == rule {
			return r.Verdict
		}
	}
	return ""
}

func TestCheck_NameIsNetwork(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != wire.CheckNetwork {
		t.Errorf("Name() = %q", c.Name())
	}
}

func TestCheck_WithoutProbeIsSkipped(t *testing.T) {
	res := runCheck(t, context.Background(), Config{})
	if res.Verdict != wire.Skipped || res.Reason != "no probe configured" {
		t.Errorf("verdict %q reason %q", res.Verdict, res.Reason)
	}
	if judged := judge(t, res); judged.Verdict != wire.Skipped || len(judged.Rules) != 0 {
		t.Errorf("the standard judged a skipped check: %+v", judged)
	}
}

func TestNew_RejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"not a URL":          {Probe: "::nope"},
		"no scheme":          {Probe: "controller:9780"},
		"ftp":                {Probe: "ftp://controller"},
		"negative window":    {Probe: "http://c", Window: -time.Second},
		"tiny UDP packets":   {Probe: "http://c", UDPPacketSize: 10},
		"jumbo UDP packets":  {Probe: "http://c", UDPPacketSize: 9000},
		"negative max bytes": {Probe: "http://c", MaxBytes: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestInterarrivalJitter(t *testing.T) {
	ms := time.Millisecond
	alternating := make([]time.Duration, 400)
	for i := range alternating {
		alternating[i] = time.Duration(i%2) * 4 * ms
	}
	for _, tc := range []struct {
		name     string
		transits []time.Duration
		want     time.Duration
	}{
		{"no packets", nil, 0},
		{"one packet", []time.Duration{5 * ms}, 0},
		{"constant transit has no jitter", []time.Duration{5 * ms, 5 * ms, 5 * ms, 5 * ms}, 0},
		{"a clock offset cancels", []time.Duration{time.Hour + 5*ms, time.Hour + 5*ms}, 0},
		// One step of 16 ms moves J by 16/16.
		{"one step moves J by a sixteenth", []time.Duration{0, 16 * ms}, ms},
		// |D| is always 4 ms: J converges to it.
		{"alternating transits converge to the step", alternating, 4 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := interarrivalJitter(tc.transits)
			if math.Abs(float64(got-tc.want)) > float64(10*time.Microsecond) {
				t.Errorf("jitter %v, want %v", got, tc.want)
			}
		})
	}
}

func TestQuantile_NearestRank(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 10}, {0.95, 19}, {1, 20}, {0, 1}} {
		if got := quantile(ds, tc.q); got != tc.want {
			t.Errorf("q%v = %v, want %v", tc.q, got, tc.want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing")
	}
}

func TestEchoResult_JitterIsTheWorseDirection(t *testing.T) {
	ms := time.Millisecond
	// Upstream transit alternates by 8 ms, downstream is steady; the probe's
	// clock is an hour off.
	var r echoResult
	for i := range 300 {
		sent := time.Duration(i) * 20 * ms
		up := 10*ms + time.Duration(i%2)*8*ms
		r.samples = append(r.samples, echoSample{sent: sent, probeReceived: time.Hour + sent + up, received: sent + up + 10*ms})
	}
	r.sent = 300
	if j := r.jitter(); j < 7900*time.Microsecond || j > 8*ms {
		t.Errorf("jitter %v, want 8 ms (upstream)", j)
	}
	if r.lossRatio() != 0 {
		t.Errorf("loss %v", r.lossRatio())
	}
	if med := r.rttQuantile(0.5); med != 20*ms {
		t.Errorf("median RTT %v, want 20 ms", med)
	}
}

func TestCheck_MeasuresALoopbackProbe(t *testing.T) {
	p := startProbe(t, probe.Config{}, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := runCheck(t, ctx, quick(p.url))
	t.Logf("measurements %v, reason %q", res.Measurements, res.Reason)
	m := res.Measurements
	for _, name := range []string{"download_bits_per_second", "upload_bits_per_second", "rtt_seconds", "rtt_p95_seconds", "jitter_seconds", "loss_ratio", "udp_blocked"} {
		if _, ok := wire.LookupMeasurement(wire.CheckNetwork, name); !ok {
			t.Errorf("%s is not in the catalogue", name)
		}
		if _, ok := m[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	if m["udp_blocked"] != 0 || m["loss_ratio"] != 0 {
		t.Errorf("loopback lost UDP: %v", m)
	}
	if m["download_bits_per_second"] <= 0 || m["upload_bits_per_second"] <= 0 || m["rtt_seconds"] <= 0 || m["rtt_p95_seconds"] < m["rtt_seconds"] {
		t.Errorf("implausible: %v", m)
	}
	if res.Target != strings.TrimPrefix(p.url, "http://") {
		t.Errorf("target %q", res.Target)
	}
	if judged := judge(t, res); ruleVerdict(judged, "udp_blocked") != wire.Pass || ruleVerdict(judged, "download") != wire.Pass {
		t.Errorf("rules %+v", judged.Rules)
	}
	if n := p.Stats().SessionsActive; n != 0 {
		t.Errorf("%d sessions left open", n)
	}
}

// blackHole is a UDP socket that reads and never answers.
func blackHole(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return c.LocalAddr().String()
}

// closedPort is a UDP port nothing listens on: the kernel answers ICMP
// port unreachable.
func closedPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

func TestCheck_UDPBlockedFallsBackToTCPAndWarns(t *testing.T) {
	for _, tc := range []struct {
		name        string
		probeUDP    bool
		udpAddr     func(t *testing.T) string
		wantBlocked bool
		wantReason  string
	}{
		{"echo dropped silently", true, blackHole, true, "no UDP echo"},
		{"nothing listening on the echo port", true, closedPort, true, "no UDP echo"},
		{"probe offers no echo", false, nil, false, "offers no UDP echo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProbe(t, probe.Config{}, tc.probeUDP)
			cfg := quick(p.url)
			cfg.UDPDuration = 5 * time.Second // cut short: 2 s without an echo means blocked
			if tc.udpAddr != nil {
				cfg.UDPAddr = tc.udpAddr(t)
			}
			start := time.Now()
			res := runCheck(t, context.Background(), cfg)
			t.Logf("%v: measurements %v, reason %q", time.Since(start).Round(time.Millisecond), res.Measurements, res.Reason)
			m := res.Measurements
			blocked, has := m["udp_blocked"]
			if tc.wantBlocked && blocked != 1 || !tc.wantBlocked && has {
				t.Errorf("udp_blocked = %v (present %v)", blocked, has)
			}
			if m["rtt_seconds"] <= 0 || m["rtt_p95_seconds"] < m["rtt_seconds"] {
				t.Errorf("no TCP round-trip time: %v", m)
			}
			for _, name := range []string{"jitter_seconds", "loss_ratio"} {
				if _, ok := m[name]; ok {
					t.Errorf("%s reported without a UDP stream", name)
				}
			}
			if !strings.Contains(res.Reason, tc.wantReason) {
				t.Errorf("reason %q does not say %q", res.Reason, tc.wantReason)
			}
			judged := judge(t, res)
			if tc.wantBlocked && (judged.Verdict != wire.Warn || ruleVerdict(judged, "udp_blocked") != wire.Warn) {
				t.Errorf("verdict %q, rules %+v: want the udp_blocked warning", judged.Verdict, judged.Rules)
			}
			for _, r := range judged.Rules {
				if r.Verdict == wire.Error {
					t.Errorf("rule %s: %s", r.Rule, r.Reason)
				}
			}
		})
	}
}

func TestCheck_WrongTokenIsAClearError(t *testing.T) {
	p := startProbe(t, probe.Config{}, true)
	cfg := quick(p.url)
	cfg.Token = "wrong"
	c, _ := New(cfg)
	_, err := c.Run(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "token") {
		t.Errorf("err = %v, want the probe's 401 about the token", err)
	}
}

func TestCheck_DisabledProbeSaysSo(t *testing.T) {
	p := startProbe(t, probe.Config{Tokens: []string{}}, false)
	c, _ := New(quick(p.url))
	_, err := c.Run(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("err = %v, want the probe's 'disabled'", err)
	}
}

func TestCheck_ByteBudgetEndsTheWindowEarly(t *testing.T) {
	p := startProbe(t, probe.Config{MaxBytesPerSession: 2e6}, true)
	cfg := quick(p.url)
	cfg.Window = 5 * time.Second
	start := time.Now()
	res := runCheck(t, context.Background(), cfg)
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("took %v: the 2 MB budget did not end the windows", took)
	}
	if st := p.Stats(); st.BytesOut > 2e6 || st.BytesIn > 2e6 {
		t.Errorf("moved %d down and %d up, budget 2 MB each", st.BytesOut, st.BytesIn)
	}
	if res.Measurements["download_bits_per_second"] <= 0 || res.Measurements["upload_bits_per_second"] <= 0 {
		t.Errorf("measurements %v", res.Measurements)
	}
	if !strings.Contains(res.Reason, "budget ran out") {
		t.Errorf("reason %q", res.Reason)
	}
}

func TestCheck_ShortDeadlineShortensThePhasesOrRefuses(t *testing.T) {
	c, err := New(Config{Probe: "http://probe", Window: 8 * time.Second, RampUp: time.Second, UDPDuration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		deadline time.Duration // 0: none
		wantErr  bool
	}{
		{"no deadline keeps the configured phases", 0, false},
		{"ample deadline keeps them", time.Minute, false},
		{"a tight deadline shortens them", 10 * time.Second, false},
		{"a deadline too short for a half-second window refuses", 3 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			p, err := c.planFor(ctx)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "deadline") {
					t.Errorf("err = %v, want the deadline too short", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.deadline > 0 && p.total() > tc.deadline {
				t.Errorf("plan %+v takes %v, more than the deadline", p, p.total())
			}
			if tc.deadline == 0 || tc.deadline == time.Minute {
				if p.window != 8*time.Second || p.rampUp != time.Second || p.udp != 2*time.Second {
					t.Errorf("plan %+v changed", p)
				}
			} else if p.window >= 8*time.Second || p.window < minWindow {
				t.Errorf("window %v not shortened sensibly", p.window)
			}
		})
	}
	// Run refuses at once with the same reason.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := c.Run(ctx, nil); err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("Run: err = %v", err)
	}
}

func TestWindow_RateIgnoresBytesHeldBackAtTheEdges(t *testing.T) {
	const bps = 5e6 / 8 // bytes per second
	// line returns samples every 50 ms over 3 s at bps; hide subtracts
	// bytes TCP holds back while it recovers a loss, from..to seconds.
	line := func(hide func(at float64) float64) (window, []sample) {
		var s []sample
		for i := 0; i <= 60; i++ {
			at := float64(i) * 0.05
			s = append(s, sample{at: seconds(at), bytes: int64(bps*at - hide(at))})
		}
		return window{start: s[0], end: s[len(s)-1]}, s[1 : len(s)-1]
	}
	stall := func(from, to float64) func(float64) float64 {
		return func(at float64) float64 {
			if at >= from && at <= to {
				return bps * (at - from) // nothing readable until the hole is filled
			}
			return 0
		}
	}
	for _, tc := range []struct {
		name string
		hide func(float64) float64
	}{
		{"steady", func(float64) float64 { return 0 }},
		{"a stall over the window's start", stall(-0.5, 0.3)},
		{"a stall at the window's end", stall(2.6, 3)},
		{"stalls at both edges", func(at float64) float64 { return stall(-0.5, 0.3)(at) + stall(2.6, 3)(at) }},
		{"a stall in the middle", stall(1.2, 1.6)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, s := line(tc.hide)
			got := w.rate(s) / 8
			if math.Abs(got/bps-1) > 0.01 {
				t.Errorf("rate %.0f B/s, want %.0f within 1 %% (endpoints alone say %.0f)",
					got, bps, float64(w.end.bytes-w.start.bytes)/(w.end.at-w.start.at).Seconds())
			}
		})
	}
	// Without samples in between, the endpoints decide.
	w := window{start: sample{at: 0, bytes: 0}, end: sample{at: 2 * time.Second, bytes: 2e6}}
	if got := w.rate(nil); got != 8e6 {
		t.Errorf("two points: %v bit/s, want 8e6", got)
	}
	if got := (window{}).rate(nil); got != 0 {
		t.Errorf("no time: %v", got)
	}
}

// TestWindow_RateDoesNotCollapseOntoAPlateau: a starved reader's count
// grows in steps; the envelope must not settle on the points of one step.
func TestWindow_RateDoesNotCollapseOntoAPlateau(t *testing.T) {
	ms := time.Millisecond
	s := []sample{
		{150 * ms, 0}, {280 * ms, 4e6}, {383 * ms, 4e6}, {500 * ms, 9e6}, {700 * ms, 9.1e6}, {720 * ms, 9.1e6},
		{730 * ms, 9.1e6}, {900 * ms, 17e6}, {1100 * ms, 20e6}, {1300 * ms, 24e6}, {1400 * ms, 24.7e6},
	}
	w := window{start: s[2], end: s[len(s)-1]}
	endpoints := float64(w.end.bytes-w.start.bytes) * 8 / (w.end.at - w.start.at).Seconds()
	got := w.rate(s)
	if got < endpoints/2 || got > endpoints*2 {
		t.Errorf("rate %.0f Mbit/s, endpoints say %.0f", got/1e6, endpoints/1e6)
	}
}

// TestWindow_RateOfADegenerateWindowIsThePlainFigure: a window that spans
// no time, or whose count did not grow, never reads 0 where bytes moved
// (seen once with 50 rooms at once under -race: a room read 0 bits/s).
func TestWindow_RateOfADegenerateWindowIsThePlainFigure(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		w       window
		samples []sample
		want    float64
	}{
		{"no time", window{start: sample{100 * ms, 1e6}, end: sample{100 * ms, 1e6}}, nil, 0},
		{"two points", window{start: sample{0, 0}, end: sample{500 * ms, 1e6}}, nil, 16e6},
		{"stalled then a burst at the end", window{start: sample{0, 0}, end: sample{1000 * ms, 2e6}},
			[]sample{{200 * ms, 0}, {400 * ms, 0}, {600 * ms, 0}, {800 * ms, 0}, {950 * ms, 0}}, -1},
	} {
		got := tc.w.rate(tc.samples)
		if tc.want >= 0 && got != tc.want {
			t.Errorf("%s: rate %v, want %v", tc.name, got, tc.want)
		}
		if tc.want < 0 && got <= 0 {
			t.Errorf("%s: rate %v, want more than 0: bytes moved", tc.name, got)
		}
	}
}

// TestMeasureWindow_BudgetMovedInTheRampUp: on a fast link the whole byte
// budget can arrive during the ramp-up while the streams have not ended yet
// (their answers late on a busy machine). The window then saw no bytes;
// it must be measured from the start, up to where the count stopped, not
// read 0 bits/s (seen in CI: upload 0 bits/s on loopback at 1.7 Gbit/s).
func TestMeasureWindow_BudgetMovedInTheRampUp(t *testing.T) {
	const total = 50e6
	began := time.Now()
	read := func(context.Context) (sample, error) {
		at := time.Since(began)
		s := sample{at: at}
		if at > 20*time.Millisecond {
			s.bytes = total // everything arrived 20 ms in
		}
		return s, nil
	}
	stream := func(ctx context.Context) error { <-ctx.Done(); return nil } // never ends by itself
	w, err := measureWindow(context.Background(), plan{rampUp: 100 * time.Millisecond, window: 200 * time.Millisecond}, 2, stream, read, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !w.short || w.start.bytes != 0 {
		t.Fatalf("window %+v: want one cut short, measured from the start", w)
	}
	// The probe's timeline: every 10 ms, the bytes arriving from 10 to 20 ms.
	var samples []sample
	for at := 10 * time.Millisecond; at < w.end.at; at += 10 * time.Millisecond {
		b := int64(0)
		if at >= 20*time.Millisecond {
			b = total
		}
		samples = append(samples, sample{at: at, bytes: b})
	}
	got := w.rate(samples)
	if got < total*8/0.025 || got > total*8/0.015 {
		t.Errorf("rate %.3g bit/s, want about %.3g (50 MB in the 20 ms they took)", got, total*8/0.02)
	}
}
