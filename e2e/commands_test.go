package e2e

import (
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/internal/testenv"
)

// TestBinaries_ControllerCheckExitCodes runs `siaprapat-controller check`
// as a scheduler would, against real programs: ready, not ready, agent
// frozen (no answer), agent offline, unknown room, controller unreachable.
func TestBinaries_ControllerCheckExitCodes(t *testing.T) {
	agentBin, ctlBin := binaries(t)
	httpAddr, mqttAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	// The controller's standard says which checks a report should have
	// (the host check alone, as the agents run) and when a silent room
	// turns unknown (3 min); the agents judge by their own.
	start(t, ctlBin, "serve", "--http", httpAddr, "--mqtt-listen", mqttAddr, "--data", t.TempDir(), "--standard", "testdata/host-only.yaml")
	// A long keepalive: the frozen agent below must still count as online
	// (so the check times out) however slow the machine is.
	agentArgs := func(room, std string) []string {
		return []string{"run", "--only", "host", "--broker", "mqtt://" + mqttAddr, "--site", "demo", "--room", room, "--interval", "1h", "--keepalive", "30s", "--standard", std}
	}
	good := start(t, agentBin, agentArgs("good", "testdata/lenient.yaml")...)
	bad := start(t, agentBin, agentArgs("bad", "testdata/impossible.yaml")...)
	// The camera check through the real driver: no camera on a test
	// machine, a failure that no rule of either standard judges.
	nocam := agentArgs("nocam", "testdata/lenient.yaml")
	nocam[2] = "host,camera"
	start(t, agentBin, nocam...)
	waitHTTPState(t, httpAddr, "demo", "good", "ready", 15*time.Second)
	waitHTTPState(t, httpAddr, "demo", "bad", "not_ready", 15*time.Second)
	waitHTTPState(t, httpAddr, "demo", "nocam", "not_ready", 20*time.Second)

	check := func(args ...string) (string, int) {
		t.Helper()
		return runProgram(t, ctlBin, append([]string{"check", "--server", "http://" + httpAddr}, args...)...)
	}
	expect := func(name string, wantCode int, wantOut string, args ...string) {
		t.Helper()
		start := time.Now()
		out, code := check(args...)
		t.Logf("%s: exit %d in %v: %s", name, code, time.Since(start).Round(time.Millisecond), strings.TrimSpace(strings.SplitN(out, "\n", 2)[0]))
		if code != wantCode || !strings.Contains(out, wantOut) {
			t.Errorf("%s: exit %d, want %d; output:\n%s\nwant it to contain %q", name, code, wantCode, out, wantOut)
		}
	}
	expect("ready", 0, "demo/good: READY", "--room", "demo/good", "--wait", "20s")
	expect("not ready", 1, "  fail  Room PC: host_memory_petabyte: memory_total_bytes", "--room", "demo/bad", "--wait", "20s")
	expect("only some checks", 0, "demo/good: READY", "--room", "demo/good", "--only", "host", "--wait", "20s")
	expect("unknown check", 1, `unknown check "camera"`, "--room", "demo/good", "--only", "camera", "--wait", "20s")
	// A check that fails without a rule is a cause, under the verdict, in the words asked for.
	expect("no camera", 1, "demo/nocam: NOT_READY (check ", "--room", "demo/nocam", "--wait", "20s")
	expect("no camera, English", 1, "\n  fail  Camera: no camera found\n", "--room", "demo/nocam", "--wait", "20s")
	expect("no camera, Indonesian", 1, "\n  fail  Kamera: tidak ada kamera terdeteksi\n", "--room", "demo/nocam", "--lang", "id", "--wait", "20s")

	good.cmd.Process.Signal(syscall.SIGSTOP) // hung: the broker still sees it for 1.5 x keepalive
	expect("no answer", 1, "the room's agent did not answer the check within 1s", "--room", "demo/good", "--wait", "1s")
	good.cmd.Process.Signal(syscall.SIGCONT)

	bad.cmd.Process.Kill()
	waitHTTPState(t, httpAddr, "demo", "bad", "offline", 5*time.Second)
	expect("agent offline", 1, "the room's agent is offline", "--room", "demo/bad", "--wait", "20s")
	expect("unknown room", 2, "unknown room demo/nowhere", "--room", "demo/nowhere")
	expect("bad room flag", 2, `--room "nowhere": want SITE/ROOM`, "--room", "nowhere")
	// (a later --server wins over the one check() puts first)
	expect("controller unreachable", 2, "could not reach the controller", "--server", "http://"+testenv.FreeAddr(t), "--room", "demo/good")
}

// TestBinaries_ServeFlagsReachTheController checks that serve's alert flags
// are wired: each receiver has its delivery counters from the start.
func TestBinaries_ServeFlagsReachTheController(t *testing.T) {
	_, ctlBin := binaries(t)
	httpAddr := testenv.FreeAddr(t)
	start(t, ctlBin, "serve", "--http", httpAddr, "--mqtt-listen", testenv.FreeAddr(t), "--data", t.TempDir(),
		"--alertmanager", "http://127.0.0.1:1/am", "--webhook", "http://127.0.0.1:1/hook", "--lead-times", "45m,5m")
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := scrapeText(httpAddr)
		if strings.Contains(body, `siaprapat_alert_deliveries_total{receiver="webhook-1 127.0.0.1:1"} 0`) &&
			strings.Contains(body, `siaprapat_alert_deliveries_total{receiver="alertmanager-1 127.0.0.1:1"} 0`) &&
			!strings.Contains(body, "/hook") &&
			strings.Contains(body, "siaprapat_webhook_outbox_messages 0") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the controller's metrics do not show the receivers:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBinaries_APITokenGuardsWritingRequests: with --api-token, reads stay
// open and writes need the token, from curl-like clients and from the CLI.
func TestBinaries_APITokenGuardsWritingRequests(t *testing.T) {
	agentBin, ctlBin := binaries(t)
	httpAddr, mqttAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	start(t, ctlBin, "serve", "--http", httpAddr, "--mqtt-listen", mqttAddr, "--data", t.TempDir(), "--api-token", "s3cret", "--standard", "testdata/host-only.yaml")
	start(t, agentBin, "run", "--only", "host", "--broker", "mqtt://"+mqttAddr, "--site", "demo", "--room", "r", "--interval", "1h", "--standard", "testdata/lenient.yaml")
	waitHTTPState(t, httpAddr, "demo", "r", "ready", 15*time.Second)
	post := func(token string) int {
		req, _ := http.NewRequest("POST", "http://"+httpAddr+"/api/v1/rooms/demo/r/sessions",
			strings.NewReader(`{"title":"x","start":"2026-12-01T09:00:00+07:00","end":"2026-12-01T10:00:00+07:00"}`))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(""); code != 401 {
		t.Errorf("no token: %d, want 401", code)
	}
	if code := post("wrong"); code != 401 {
		t.Errorf("wrong token: %d, want 401", code)
	}
	if code := post("s3cret"); code != 201 {
		t.Errorf("right token: %d, want 201", code)
	}
	if resp, err := http.Get("http://" + httpAddr + "/api/v1/sessions"); err != nil {
		t.Errorf("reading without a token: %v", err)
	} else if resp.Body.Close(); resp.StatusCode != 200 {
		t.Errorf("reading without a token: %d", resp.StatusCode)
	}
	out, err := exec.Command(ctlBin, "check", "--server", "http://"+httpAddr, "--room", "demo/r").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "send the controller's API token") {
		t.Errorf("CLI without token: %v\n%s", err, out)
	}
	if out, err := exec.Command(ctlBin, "check", "--server", "http://"+httpAddr, "--room", "demo/r", "--token", "s3cret", "--wait", "20s").CombinedOutput(); err != nil {
		t.Errorf("CLI with token: %v\n%s", err, out)
	}
}
