package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/internal/testenv"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds both programs once per test run, as a user's make would.
func binaries(t *testing.T) (agent, ctl string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "siaprapat-e2e-bin")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/", "../agent/cmd/siaprapat-agent", "../controller/cmd/siaprapat-controller")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "siaprapat-agent"), filepath.Join(binDir, "siaprapat-controller")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

type proc struct {
	cmd *exec.Cmd
	out *testenv.Log
}

func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), out: &testenv.Log{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGCONT)
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), p.out.String())
		}
	})
	return p
}

// runProgram runs a program to its end and returns its output (stdout and
// stderr) and exit code.
func runProgram(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// httpState reads a room's state from a controller process's /metrics.
func httpState(t *testing.T, httpAddr, site, room string) string {
	t.Helper()
	body := scrapeText(httpAddr)
	for _, s := range []string{"ready", "degraded", "not_ready", "offline", "unknown"} {
		if strings.Contains(body, fmt.Sprintf(`siaprapat_room_state{room=%q,site=%q,state=%q} 1`, room, site, s)) {
			return s
		}
	}
	return "(absent)"
}

// waitHTTP waits until a controller's HTTP API answers.
func waitHTTP(t *testing.T, httpAddr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the controller's HTTP API at %s did not answer: %v", httpAddr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitHTTPState(t *testing.T, httpAddr, site, room, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	got := ""
	for time.Since(start) < within {
		if got = httpState(t, httpAddr, site, room); got == want {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("room %s/%s is %s after %v, want %s", site, room, got, within, want)
	return 0
}

// TestBinaries_AgentFrozenOrKilledGoesOffline runs the real programs: the
// agent's PC checks itself, reports, and when the agent stops answering
// (frozen, as a hung PC or a cut cable leaves it) the broker's keepalive
// expires and its last will makes the room offline within 1.5 x keepalive.
func TestBinaries_AgentFrozenOrKilledGoesOffline(t *testing.T) {
	agentBin, ctlBin := binaries(t)
	httpAddr, mqttAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	start(t, ctlBin, "serve", "--http", httpAddr, "--mqtt-listen", mqttAddr, "--data", t.TempDir(), "--standard", "testdata/lenient.yaml")
	const keepalive = 2 * time.Second
	agent := start(t, agentBin, "run", "--only", "host", "--broker", "mqtt://"+mqttAddr, "--site", "demo", "--room", "room-1",
		"--interval", "500ms", "--keepalive", keepalive.String(), "--standard", "testdata/lenient.yaml")
	took := waitHTTPState(t, httpAddr, "demo", "room-1", "ready", 15*time.Second)
	if got := httpState(t, httpAddr, "demo", "room-1"); got != "ready" {
		t.Fatalf("state %s", got)
	}
	t.Logf("agent start -> ready in /metrics: %v", took)

	if err := agent.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	// The room stays as it was until the keepalive expires...
	took = waitHTTPState(t, httpAddr, "demo", "room-1", "offline", 3*keepalive)
	t.Logf("agent frozen -> offline in /metrics: %v (keepalive %v)", took, keepalive)
	// 1.5 x keepalive, plus the time a poll of /metrics takes.
	// (The slack is for a loaded CI machine; the figure is logged above.)
	if limit := keepalive*3/2 + 2*time.Second; time.Since(frozen) > limit {
		t.Errorf("offline after %v, want within 1.5 x keepalive (%v)", took, limit)
	}
	// Thawed, it reconnects and reports again.
	agent.cmd.Process.Signal(syscall.SIGCONT)
	waitHTTPState(t, httpAddr, "demo", "room-1", "ready", 15*time.Second)

	// Killed outright: the kernel closes its socket and the will fires at once.
	agent.cmd.Process.Kill()
	took = waitHTTPState(t, httpAddr, "demo", "room-1", "offline", 3*keepalive)
	t.Logf("agent killed -> offline in /metrics: %v", took)
}

func TestBinaries_AgentInterruptedSaysOffline(t *testing.T) {
	agentBin, ctlBin := binaries(t)
	httpAddr, mqttAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	start(t, ctlBin, "serve", "--http", httpAddr, "--mqtt-listen", mqttAddr, "--data", t.TempDir(), "--standard", "testdata/lenient.yaml")
	agent := start(t, agentBin, "run", "--only", "host", "--broker", "mqtt://"+mqttAddr, "--site", "demo", "--room", "room-2", "--interval", "1s", "--standard", "testdata/lenient.yaml")
	waitHTTPState(t, httpAddr, "demo", "room-2", "ready", 15*time.Second)
	agent.cmd.Process.Signal(os.Interrupt)
	waitHTTPState(t, httpAddr, "demo", "room-2", "offline", 5*time.Second)
	if err := agent.cmd.Wait(); err != nil {
		t.Errorf("agent exit: %v", err)
	}
}

func TestBinaries_AgentSurvivesBrokerOutage(t *testing.T) {
	agentBin, ctlBin := binaries(t)
	httpAddr, mqttAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	dir := t.TempDir()
	// The agent starts first, with no broker at all.
	agent := start(t, agentBin, "run", "--only", "host", "--broker", "mqtt://"+mqttAddr, "--site", "demo", "--room", "room-3", "--interval", "500ms", "--standard", "testdata/lenient.yaml")
	time.Sleep(1500 * time.Millisecond)
	ctl := start(t, ctlBin, "serve", "--http", httpAddr, "--mqtt-listen", mqttAddr, "--data", dir, "--standard", "testdata/lenient.yaml")
	waitHTTPState(t, httpAddr, "demo", "room-3", "ready", 20*time.Second)
	// The controller (and its broker) goes away and comes back.
	ctl.cmd.Process.Signal(syscall.SIGTERM)
	ctl.cmd.Wait()
	if agent.cmd.ProcessState != nil {
		t.Fatal("agent exited during the outage")
	}
	start(t, ctlBin, "serve", "--http", httpAddr, "--mqtt-listen", mqttAddr, "--data", dir, "--standard", "testdata/lenient.yaml")
	// The restarted controller has the room from its store; a new report
	// proves the agent came back.
	deadline := time.Now().Add(40 * time.Second)
	for !strings.Contains(scrapeText(httpAddr), "siaprapat_reports_received_total 1") {
		if time.Now().After(deadline) {
			t.Fatal("no report reached the restarted controller")
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitHTTPState(t, httpAddr, "demo", "room-3", "ready", 5*time.Second)
	if !strings.Contains(agent.out.String(), "lost the broker; reconnecting with backoff") {
		t.Errorf("agent did not say it lost the broker:\n%s", agent.out.String())
	}
}

func TestBinaries_Check(t *testing.T) {
	agentBin, _ := binaries(t)
	run := func(args ...string) (string, int) { return runProgram(t, agentBin, args...) }
	out, code := run("check", "--only", "host", "--standard", "testdata/lenient.yaml")
	if code > 1 || !strings.Contains(out, "host_has_memory") || !strings.Contains(out, "room verdict:") {
		t.Errorf("check: exit %d\n%s", code, out)
	}
	out, code = run("check", "--json")
	if code > 1 || !strings.Contains(out, `"schema": "siaprapat.report/v1"`) {
		t.Errorf("check --json: exit %d\n%s", code, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--only", "nosuch,host"}, `siaprapat-agent check: --only: unknown check "nosuch"; this agent has: host, peripherals, camera, audio, network`},
		{[]string{"check", "--standard", "testdata/nope.yaml"}, "siaprapat-agent check: read standard: open testdata/nope.yaml: no such file or directory"},
		{[]string{"check", "--log-level", "loud"}, `siaprapat-agent check: --log-level "loud": want debug, info, warn or error`},
		{[]string{"run", "--site", "demo"}, "siaprapat-agent: --room is empty"},
		{[]string{"run", "--site", "demo", "--room", "r", "--broker", "http://x"}, `siaprapat-agent: broker URL "http://x": scheme "http" is not supported`},
	} {
		out, code := run(tc.args...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, output %q; want exit 2 and %q", tc.args, code, out, tc.want)
		}
	}
}

func TestBinaries_EnrolAnAgentThenRevokeIt(t *testing.T) {
	agentBin, ctlBin := binaries(t)
	httpAddr, mqttAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	start(t, ctlBin, "serve", "--http", httpAddr, "--mqtt-listen", mqttAddr, "--mqtt-require-login",
		"--data", t.TempDir(), "--standard", "testdata/lenient.yaml")
	waitHTTP(t, httpAddr)
	server := "http://" + httpAddr

	// As a technician would: enrol, copy the file, start the agent with it.
	envFile := filepath.Join(t.TempDir(), "room-9.env")
	out, err := exec.Command(ctlBin, "agent", "add", "demo/room-9", "--server", server, "--broker", "mqtt://"+mqttAddr, "--out", envFile).CombinedOutput()
	if err != nil {
		t.Fatalf("agent add: %v\n%s", err, out)
	}
	if fi, err := os.Stat(envFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("env file: %v, mode %v; want 0600", err, fi.Mode())
	}
	env := map[string]string{}
	data, _ := os.ReadFile(envFile)
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	if env["SIAPRAPAT_MQTT_USERNAME"] != "demo/room-9" || len(env["SIAPRAPAT_MQTT_PASSWORD"]) < 40 || env["SIAPRAPAT_BROKER"] != "mqtt://"+mqttAddr {
		t.Fatalf("env file:\n%s", data)
	}
	if out, err := exec.Command(ctlBin, "agent", "add", "demo/bad name", "--server", server).CombinedOutput(); err == nil || !strings.Contains(string(out), "want SITE/ROOM") {
		t.Errorf("a bad room name: %v\n%s", err, out)
	}

	// Without credentials the broker refuses the agent; with them, it reports.
	anon := start(t, agentBin, "run", "--broker", "mqtt://"+mqttAddr, "--site", "demo", "--room", "room-8",
		"--only", "host", "--interval", "500ms", "--standard", "testdata/lenient.yaml")
	agentArgs := []string{"run", "--broker", env["SIAPRAPAT_BROKER"], "--site", "demo", "--room", "room-9",
		"--username", env["SIAPRAPAT_MQTT_USERNAME"], "--only", "host", "--interval", "500ms", "--standard", "testdata/lenient.yaml"}
	enrolled := &proc{cmd: exec.Command(agentBin, agentArgs...), out: &testenv.Log{}}
	enrolled.cmd.Env = append(os.Environ(), "SIAPRAPAT_MQTT_PASSWORD="+env["SIAPRAPAT_MQTT_PASSWORD"])
	enrolled.cmd.Stdout, enrolled.cmd.Stderr = enrolled.out, enrolled.out
	if err := enrolled.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enrolled.cmd.Process.Kill(); enrolled.cmd.Wait() })
	waitHTTPState(t, httpAddr, "demo", "room-9", "ready", 10*time.Second)
	if strings.Contains(scrapeText(httpAddr), `room="room-8"`) {
		t.Error("an agent without credentials got in")
	}
	if !strings.Contains(anon.out.String(), "credentials refused: check --username") {
		t.Errorf("the refused agent does not say why:\n%s", anon.out.String())
	}

	out, err = exec.Command(ctlBin, "agent", "list", "--server", server).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "demo/room-9") {
		t.Errorf("agent list: %v\n%s", err, out)
	}
	out, err = exec.Command(ctlBin, "agent", "remove", "demo/room-9", "--server", server).CombinedOutput()
	if err != nil {
		t.Fatalf("agent remove: %v\n%s", err, out)
	}
	time.Sleep(time.Second) // the agent retries; it must stay out
	if body := scrapeText(httpAddr); strings.Contains(body, `room="room-9"`) {
		t.Errorf("the revoked room is still in /metrics:\n%s", body)
	}
	out, err = exec.Command(ctlBin, "agent", "remove", "demo/room-9", "--server", server).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no agent is enrolled") {
		t.Errorf("removing twice: %v\n%s", err, out)
	}
}

// TestBinaries_SpoolKeepsReportsThroughOutageAndKill runs the agent with a
// spool while no broker exists, kills it with SIGKILL, starts the broker and
// the agent again: every report made during the outage reaches the controller.
func TestBinaries_SpoolKeepsReportsThroughOutageAndKill(t *testing.T) {
	agentBin, ctlBin := binaries(t)
	httpAddr, mqttAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	spoolDir := t.TempDir()
	args := []string{"run", "--only", "host", "--broker", "mqtt://" + mqttAddr, "--site", "demo", "--room", "room-4", "--interval", "200ms",
		"--data", spoolDir, "--standard", "testdata/lenient.yaml"}
	first := start(t, agentBin, args...)
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(first.out.String(), "room checked") < 8 {
		if time.Now().After(deadline) {
			t.Fatal("the agent made no reports without a broker")
		}
		time.Sleep(50 * time.Millisecond)
	}
	first.cmd.Process.Kill() // a power cut, with reports queued
	first.cmd.Wait()
	made := strings.Count(first.out.String(), "room checked")

	start(t, ctlBin, "serve", "--http", httpAddr, "--mqtt-listen", mqttAddr, "--data", t.TempDir(), "--standard", "testdata/lenient.yaml")
	// The restarted agent checks once, then waits an hour: the controller
	// must receive exactly that report and every one the spool kept.
	second := start(t, agentBin, "run", "--only", "host", "--broker", "mqtt://"+mqttAddr, "--site", "demo", "--room", "room-4", "--interval", "1h",
		"--data", spoolDir, "--standard", "testdata/lenient.yaml")
	waiting := -1
	deadline = time.Now().Add(10 * time.Second)
	for waiting < 0 {
		if m := regexp.MustCompile(`reports waiting in the spool.* reports=(\d+) `).FindStringSubmatch(second.out.String()); m != nil {
			waiting, _ = strconv.Atoi(m[1])
		} else if time.Now().After(deadline) {
			t.Fatalf("the restarted agent found nothing in its spool:\n%s", second.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The kill may land between spooling a report and logging it, so the
	// spool may hold one more than the log counted, never fewer.
	if waiting < made {
		t.Errorf("%d reports in the spool after the kill, want the %d made", waiting, made)
	}
	received := func() int {
		var n float64
		for _, line := range strings.Split(scrapeText(httpAddr), "\n") {
			if v, ok := strings.CutPrefix(line, "siaprapat_reports_received_total "); ok {
				fmt.Sscan(v, &n)
			}
		}
		return int(n)
	}
	deadline = time.Now().Add(20 * time.Second)
	for received() < waiting+1 {
		if time.Now().After(deadline) {
			t.Fatalf("controller received %d reports, want the %d spooled + 1 new\nagent:\n%s", received(), waiting, second.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if got := received(); got != waiting+1 {
		t.Errorf("controller received %d reports, want exactly %d (%d spooled + 1 new)", got, waiting+1, waiting)
	}
	t.Logf("%d reports made during the outage, %d kept through SIGKILL, %d received after the restart", made, waiting, received())
	if body := scrapeText(httpAddr); !strings.Contains(body, `siaprapat_reports_ignored_total{reason="older"} 0`) {
		t.Error("replayed reports arrived out of order")
	}
}

// TestBinaries_CheckPeripheralsOnFixtureRooms runs the agent as a technician
// would, on each committed fixture sysfs tree: the devices, models and
// firmware verdicts must be those of the golden outputs.
func TestBinaries_CheckPeripheralsOnFixtureRooms(t *testing.T) {
	agentBin, _ := binaries(t)
	type device struct{ Path, ID, Model, Kind, Firmware, FirmwareStatus string }
	pick := func(ps []map[string]any) []device {
		var out []device
		for _, p := range ps {
			s := func(k string) string { v, _ := p[k].(string); return v }
			out = append(out, device{s("path"), s("id"), s("model"), s("kind"), s("firmware"), s("firmware_status")})
		}
		return out
	}
	for room, wantExit := range map[string]int{
		"video-bar-room": 0, "webcam-speakerphone-room": 0, "unknown-device-room": 0, "camera-unplugged-room": 0, "known-bad-firmware-room": 1,
	} {
		t.Run(room, func(t *testing.T) {
			dir := "../agent/peripherals/testdata/" + room
			args := []string{"check", "--only", "peripherals", "--json", "--sysfs", dir + "/sys"}
			if room == "known-bad-firmware-room" {
				args = append(args, "--profiles", "../agent/peripherals/testdata/profiles")
			}
			out, err := exec.Command(agentBin, args...).Output()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			var got, want struct {
				Peripherals []map[string]any `json:"peripherals"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			golden, err := os.ReadFile(dir + "/golden.json")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(golden, &want); err != nil {
				t.Fatal(err)
			}
			if g, w := pick(got.Peripherals), pick(want.Peripherals); fmt.Sprint(g) != fmt.Sprint(w) || code != wantExit {
				t.Errorf("exit %d (want %d)\n got: %v\nwant: %v", code, wantExit, g, w)
			}
		})
	}
}
