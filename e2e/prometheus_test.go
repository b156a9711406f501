package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/internal/testenv"
)

func TestPrometheusConfig_PassesPromtool(t *testing.T) {
	promtool := testenv.Command(t, "promtool", "prometheus")
	out, err := exec.Command(promtool, "check", "config", "../dashboards/prometheus/prometheus.yml").CombinedOutput()
	if err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
}

// TestPrometheus_ScrapesController runs a real Prometheus against a real
// controller fed by agents over the embedded broker, and queries the rooms'
// states back out of Prometheus.
func TestPrometheus_ScrapesController(t *testing.T) {
	bin := testenv.Command(t, "prometheus", "prometheus")
	c := startController(t, t.TempDir(), "")
	for _, r := range []struct {
		name string
		p    fleetsim.Profile
	}{{"r-ready", fleetsim.ProfileReady}, {"r-degraded", fleetsim.ProfileDegraded}, {"r-short", fleetsim.ProfileNotReady}} {
		room := newRoom(t, c.BrokerURL(), "kalbar", r.name, r.p)
		t.Cleanup(room.link.Close)
		room.report(t)
		keepReporting(t, 500*time.Millisecond, room)
	}
	waitState(t, c, "kalbar", "r-short", "not_ready", 5*time.Second)

	// The committed config, with the target and interval changed for the test.
	conf, err := os.ReadFile("../dashboards/prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(conf), `"localhost:9780"`, `"`+c.HTTPAddr()+`"`, 1)
	s = strings.Replace(s, "scrape_interval: 15s", "scrape_interval: 1s", 1)
	webAddr := startPrometheus(t, bin, s)

	query := `sum by (state) (siaprapat_room_state{site="kalbar"})`
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := promByState(webAddr, query)
		if err == nil && got["ready"] == "1" && got["degraded"] == "1" && got["not_ready"] == "1" && got["offline"] == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus query %s: %v %v", query, got, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	up, err := promByState(webAddr, `up{job="siaprapat-controller"}`)
	if err != nil || up[""] != "1" {
		t.Errorf("up = %v, %v", up, err)
	}
}

// startPrometheus runs a Prometheus with the given configuration for the
// test's lifetime and returns its web address.
func startPrometheus(t *testing.T, bin, conf string) string {
	t.Helper()
	dir := t.TempDir()
	confPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	var out testenv.Log
	cmd := exec.Command(bin, "--config.file="+confPath, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus %s output:\n%s", addr, out.String())
		}
	})
	return addr
}
