package e2e

import (
	"strings"
	"testing"

	"github.com/siaprapat/siaprapat/controller"
	"github.com/siaprapat/siaprapat/controller/probe"
)

// TestBinaries_NetworkCheckAgainstTheControllersProbe runs the agent's
// network check from the command line against a controller's probe: with
// the probe's token and with an enrolled agent's secret it measures; with a
// wrong token it says why.
func TestBinaries_NetworkCheckAgainstTheControllersProbe(t *testing.T) {
	agentBin, _ := binaries(t)
	c := startWith(t, controller.Config{Probe: probe.Config{Tokens: []string{"probe-secret"}}})
	_, secret := enrol(t, c, "", "kalbar", "r1") // from loopback, no admin token needed
	url := "http://" + c.HTTPAddr()
	quick := []string{"check", "--only", "network", "--probe-url", url, "--network-window", "1s", "--json"}
	for _, tc := range []struct{ name, token string }{{"probe token", "probe-secret"}, {"enrolled agent's secret", secret}} {
		out, code := runProgram(t, agentBin, append(quick, "--probe-token", tc.token)...)
		for _, m := range []string{"download_bits_per_second", "upload_bits_per_second", "rtt_seconds", "jitter_seconds", "loss_ratio"} {
			if !strings.Contains(out, `"`+m+`"`) {
				t.Errorf("%s: exit %d, no %s in\n%s", tc.name, code, m, out)
			}
		}
	}
	out, code := runProgram(t, agentBin, "check", "--only", "network", "--probe-url", url, "--probe-token", "guess")
	if code != 2 || !strings.Contains(out, "401") && !strings.Contains(strings.ToLower(out), "token") {
		t.Errorf("wrong token: exit %d\n%s", code, out)
	}
	body := scrapeText(c.HTTPAddr())
	for _, want := range []string{"siaprapat_probe_sessions_total 2", "siaprapat_probe_unauthorized_total 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
