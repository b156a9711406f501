//go:build linux

package groundtruth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/netcheck"
	"github.com/siaprapat/siaprapat/controller/probe"
	"github.com/siaprapat/siaprapat/internal/netns"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/standard"
)

const (
	clientAddr = "10.201.1.2"
	serverAddr = "10.201.2.2"
	probePort  = "9780"
	token      = "groundtruth-token"

	// streams is used by both the check and iperf3 (-P), so the two load
	// the shaper the same way.
	streams = 4
)

// tbf shaping of the router's egress towards each side. The bucket holds
// 32 KiB (above the largest packet after GSO segmentation, and a few ms at
// 100 Mbit/s), and a packet may wait 50 ms in the queue before it is
// dropped: enough queue for four TCP flows to keep the link busy, small
// enough that the shaper drops and TCP backs off. With these, iperf3's
// receiver reads 95.5-97 % of the rate: 1448 bytes of TCP payload per
// 1514-byte frame is 95.6 %.
const (
	tbfBurst   = "32kb"
	tbfLatency = "50ms"
)

// line is client — router — server, each its own namespace.
type line struct {
	client, router, server *netns.NS
}

func newLine(t *testing.T) *line {
	t.Helper()
	l := &line{client: netns.New(t), router: netns.New(t), server: netns.New(t)}
	netns.Link(t, l.client, "c0", clientAddr+"/24", l.router, "r0", "10.201.1.1/24")
	netns.Link(t, l.router, "r1", "10.201.2.1/24", l.server, "s0", serverAddr+"/24")
	l.client.IP(t, "route", "add", "default", "via", "10.201.1.1")
	l.server.IP(t, "route", "add", "default", "via", "10.201.2.1")
	if err := l.router.Do(func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644)
	}); err != nil {
		t.Fatalf("enable forwarding in the router: %v", err)
	}
	return l
}

// shape sets the rate of both directions on the router's egress: r0 carries
// the download towards the client, r1 the upload towards the server.
func (l *line) shape(t *testing.T, tc string, rate string) {
	t.Helper()
	for _, dev := range []string{"r0", "r1"} {
		l.router.Run(t, tc, "qdisc", "replace", "dev", dev, "root", "tbf", "rate", rate, "burst", tbfBurst, "latency", tbfLatency)
	}
}

// startProbe runs the controller's probe in the server namespace: HTTP and
// the UDP echo on the same port number, as the controller runs it.
func (l *line) startProbe(t *testing.T) *probe.Server {
	t.Helper()
	srv, err := probe.New(probe.Config{Tokens: []string{token}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := l.server.Listen("tcp", serverAddr+":"+probePort)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/probe/v1/", srv)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	if err := l.server.Do(func() error { return srv.ListenUDP(serverAddr + ":" + probePort) }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("probe UDP: %v", err)
		}
	})
	return srv
}

// startIperf runs iperf3 -s in the server namespace until the test ends.
func (l *line) startIperf(t *testing.T, iperf3 string) {
	t.Helper()
	cmd := l.server.Command(context.Background(), iperf3, "-s", "-B", serverAddr)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("iperf3 -s said: %s", out.String())
		}
	})
}

// iperf runs the iperf3 client in the client namespace for the time the
// check moves data in one direction and returns the receiver's goodput.
func (l *line) iperf(t *testing.T, iperf3 string, seconds float64, reverse bool) float64 {
	t.Helper()
	args := []string{"-c", serverAddr, "-J", "-P", fmt.Sprint(streams), "-t", fmt.Sprint(seconds)}
	if reverse {
		args = append(args, "-R")
	}
	var out []byte
	var err error
	for try := 0; try < 20; try++ { // the server may still be starting
		out, err = l.client.Command(context.Background(), iperf3, args...).Output()
		if err == nil || !strings.Contains(string(out), "connect") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var res struct {
		Error string
		End   struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		}
	}
	if jerr := json.Unmarshal(out, &res); jerr != nil || res.Error != "" || err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Logf("iperf3 stderr: %s", ee.Stderr)
		}
		t.Fatalf("iperf3 %s: %v %v %s: %.300s", strings.Join(args, " "), err, jerr, res.Error, out)
	}
	return res.End.SumReceived.BitsPerSecond
}

// TestNetcheck_MatchesIperf3OnAShapedLink shapes the link to 5, 20 and 100
// Mbit/s each way and measures it with the check and with iperf3: the check
// must read within 10 % of the rate and within 3 % of iperf3's receiver.
func TestNetcheck_MatchesIperf3OnAShapedLink(t *testing.T) {
	netns.Require(t)
	tc := testenv.Command(t, "tc", "iproute2")
	iperf3 := testenv.Command(t, "iperf3", "iperf3")
	l := newLine(t)
	srv := l.startProbe(t)
	l.startIperf(t, iperf3)

	// Each direction moves data for rampUp+window; iperf3 runs as long
	// (-t) and reports the average over all of it. The slowest link gets
	// longer phases: there a TCP loss recovery that holds back a few
	// hundred milliseconds of data at the window's edge would be several
	// percent of a short window.
	for _, ph := range []struct {
		rate           float64
		rampUp, window time.Duration
	}{
		{5e6, 2 * time.Second, 3 * time.Second},
		{20e6, time.Second, 2 * time.Second},
		{100e6, time.Second, 2 * time.Second},
		// The agent's defaults (a window of up to 8 s, judged by the
		// default standard): the rate is taken once steady, with iperf3
		// over 3 s beside it.
		{30e6, netcheck.DefaultRampUp, netcheck.DefaultWindow},
	} {
		rate := ph.rate
		t.Run(fmt.Sprintf("%g Mbit/s", rate/1e6), func(t *testing.T) {
			l.shape(t, tc, fmt.Sprintf("%gmbit", rate/1e6))
			check, err := netcheck.New(netcheck.Config{
				Probe: "http://" + serverAddr + ":" + probePort, Token: token,
				Streams: streams, RampUp: ph.rampUp, Window: ph.window,
				UDPDuration: 500 * time.Millisecond,
				Dial:        l.client.DialContext,
			})
			if err != nil {
				t.Fatal(err)
			}
			secs := min(ph.rampUp+ph.window, ph.rampUp+3*time.Second).Seconds()
			std, err := standard.Default()
			if err != nil {
				t.Fatal(err)
			}
			measure := func() (map[string]float64, float64, float64) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				before := srv.Stats()
				began := time.Now()
				res, err := check.Run(ctx, std)
				after := srv.Stats()
				t.Logf("at R = %g Mbit/s (window up to %v): the test moved %.1f MB down and %.1f MB up in %v",
					rate/1e6, ph.window, float64(after.BytesOut-before.BytesOut)/1e6, float64(after.BytesIn-before.BytesIn)/1e6, time.Since(began).Round(100*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				if res[0].Verdict != "" {
					t.Fatalf("check: %s %s", res[0].Verdict, res[0].Reason)
				}
				return res[0].Measurements, l.iperf(t, iperf3, secs, true), l.iperf(t, iperf3, secs, false)
			}
			m, ipDown, ipUp := measure()
			// On a shared, loaded machine either tool can be starved of CPU
			// for part of its run (seen at 100 Mbit/s: iperf3 at 88 % of R
			// beside benchmarks); when the two disagree, both measure again
			// and the second pair counts.
			if r1, r2 := m["download_bits_per_second"]/ipDown, m["upload_bits_per_second"]/ipUp; math.Abs(r1-1) > 0.03 || math.Abs(r2-1) > 0.03 {
				t.Logf("first pair disagreed (netcheck/iperf3 down %.3f, up %.3f); measuring both again", r1, r2)
				m, ipDown, ipUp = measure()
			}
			for _, d := range []struct {
				name      string
				ours, ref float64
			}{
				{"download", m["download_bits_per_second"], ipDown},
				{"upload", m["upload_bits_per_second"], ipUp},
			} {
				t.Logf("%s at R = %g Mbit/s: netcheck %.2f Mbit/s (%.1f %% of R), iperf3 receiver %.2f Mbit/s (%.1f %% of R), netcheck/iperf3 %.3f",
					d.name, rate/1e6, d.ours/1e6, 100*d.ours/rate, d.ref/1e6, 100*d.ref/rate, d.ours/d.ref)
				if math.Abs(d.ours/rate-1) > 0.10 {
					t.Errorf("%s: netcheck %.2f Mbit/s is not within 10 %% of %g Mbit/s", d.name, d.ours/1e6, rate/1e6)
				}
				if math.Abs(d.ours/d.ref-1) > 0.03 {
					t.Errorf("%s: netcheck %.2f Mbit/s is not within 3 %% of iperf3's %.2f Mbit/s", d.name, d.ours/1e6, d.ref/1e6)
				}
			}
			t.Logf("idle link: rtt %.3f ms, p95 %.3f ms, jitter %.3f ms, loss %.3f, udp_blocked %v",
				m["rtt_seconds"]*1e3, m["rtt_p95_seconds"]*1e3, m["jitter_seconds"]*1e3, m["loss_ratio"], m["udp_blocked"])
			if m["udp_blocked"] != 0 || m["loss_ratio"] != 0 {
				t.Errorf("the UDP stream through the router was blocked or lossy: %v", m)
			}
		})
	}
	if n := srv.Stats().SessionsActive; n != 0 {
		t.Errorf("%d probe sessions left open", n)
	}
}
