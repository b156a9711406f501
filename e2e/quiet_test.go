package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/siaprapat/siaprapat/agent/quiet"
	"github.com/siaprapat/siaprapat/controller"
	"github.com/siaprapat/siaprapat/controller/probe"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/wire"
)

// quietPulse is a private PulseAudio server with a null sink, "siap",
// whose monitor is the agent's microphone: the agent hears its own
// loopback chirp. plays counts the playback streams created on the server
// (`pactl subscribe`): each loopback the agent plays is one.
type quietPulse struct {
	env   []string
	plays atomic.Int64
}

func startQuietPulse(t *testing.T) *quietPulse {
	t.Helper()
	daemon := testenv.Command(t, "pulseaudio", "pulseaudio")
	pactl := testenv.Command(t, "pactl", "pulseaudio-utils")
	dir, err := os.MkdirTemp("", "siaprapat-pulse-") // a short path: a socket's is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "native")
	p := &quietPulse{env: append(os.Environ(), "HOME="+dir, "XDG_RUNTIME_DIR="+dir, "PULSE_SERVER=unix:"+socket)}
	cmd := exec.Command(daemon, "--daemonize=no", "--exit-idle-time=-1", "-n", "--use-pid-file=no", "--log-target=stderr",
		"--load=module-native-protocol-unix socket="+socket+" auth-anonymous=1",
		"--load=module-null-sink sink_name=siap rate=48000 format=s16le channels=2")
	cmd.Env = p.env
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pulseaudio: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pa := func(args ...string) error {
		c := exec.Command(pactl, args...)
		c.Env = p.env
		return c.Run()
	}
	deadline := time.Now().Add(15 * time.Second)
	for pa("info") != nil {
		if time.Now().After(deadline) {
			t.Fatal("pulseaudio did not answer within 15 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	pa("set-sink-volume", "siap", "100%")
	sub := exec.Command(pactl, "subscribe")
	sub.Env = p.env
	out, err := sub.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Process.Kill(); sub.Wait() })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "'new' on sink-input") {
				p.plays.Add(1)
			}
		}
	}()
	return p
}

// startAgentWith runs the agent program with an environment of its own until the test ends.
func startAgentWith(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	bin, _ := binaries(t)
	p := &proc{cmd: exec.Command(bin, args...), out: &testenv.Log{}}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("agent output:\n%s", p.out.String())
		}
	})
	return p
}

// createSession adds a meeting through the API and returns its id.
func createSession(t *testing.T, httpAddr, site, room, title string, start, end time.Time) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"title": title, "start": start.Format(time.RFC3339Nano), "end": end.Format(time.RFC3339Nano)})
	resp, err := http.Post(fmt.Sprintf("http://%s/api/v1/rooms/%s/%s/sessions", httpAddr, site, room), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&s)
	if resp.StatusCode != http.StatusCreated || s.ID == "" {
		t.Fatalf("create session: %d %s", resp.StatusCode, s.Error)
	}
	return s.ID
}

func probeSessions(t *testing.T, c *controller.Controller) float64 {
	return counter(t, c, "siaprapat_probe_sessions_total", nil)
}

// sleepUntil waits until a moment.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

// TestQuiet_MeetingHoldsBackTheNetworkTestAndTheLoopback runs the agent
// program against a controller with its probe, a real PulseAudio server
// (the null sink's monitor as the microphone), short intervals and a
// network test at every check. A session created through the API holds
// back every network test (no probe session) and every loopback (no
// playback stream) from its margin before to its margin after, over many
// intervals, while the microphone is still measured; a check asked for
// inside the meeting (as a back-to-back pre-meeting check would be) says
// what it held back; after the meeting the agent tests again.
func TestQuiet_MeetingHoldsBackTheNetworkTestAndTheLoopback(t *testing.T) {
	pulse := startQuietPulse(t)
	c := startWith(t, controller.Config{Probe: probe.Config{Tokens: []string{"probe-secret"}}})
	const site, room = "kalbar", "quiet-room"
	const margin = 8 * time.Second
	startAgentWith(t, pulse.env, "run", "--broker", c.BrokerURL(), "--site", site, "--room", room,
		"--interval", "3s", "--network-every", "0", "--only", "audio,network",
		"--probe-url", "http://"+c.HTTPAddr(), "--probe-token", "probe-secret", "--network-window", "1s", "--network-busy-window", "2s",
		"--audio-window", "1s", "--loopback-every", "0", "--microphone", "Monitor of Null Output", "--speaker", "Null Output",
		"--quiet-margin", margin.String(), "--data", t.TempDir(), "--log-level", "info")

	// Before: the agent tests and plays.
	deadline := time.Now().Add(60 * time.Second)
	for probeSessions(t, c) < 1 || pulse.plays.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("before the meeting: %v probe sessions, %d loopback plays in 60 s", probeSessions(t, c), pulse.plays.Load())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The announcer reads the store every 10 s: the session starts well after that.
	start := time.Now().Add(30 * time.Second).Truncate(time.Second)
	end := start.Add(24 * time.Second)
	createSession(t, c.HTTPAddr(), site, room, "Rapat koordinasi", start, end)
	// Back to back: the next meeting starts as this one ends.
	next := createSession(t, c.HTTPAddr(), site, room, "Rapat lanjutan", end, end.Add(10*time.Second))
	quietFrom, quietTo := start.Add(-margin), end.Add(10*time.Second+margin)
	t.Logf("quiet from %s to %s", quietFrom.Format("15:04:05"), quietTo.Format("15:04:05"))

	// A test begun just before the margin finishes inside it: counting starts 2 s in.
	sleepUntil(quietFrom.Add(2 * time.Second))
	p1, l1 := probeSessions(t, c), pulse.plays.Load()
	t.Logf("quiet window begins: %v probe sessions, %d loopback plays so far", p1, l1)

	// Inside the meeting, a check asked for (as a pre-meeting check for the next meeting would be).
	sleepUntil(start.Add(3 * time.Second))
	var chk struct {
		Status string       `json:"status"`
		Report *wire.Report `json:"report"`
	}
	// The command runs beside the periodic checks: an audio check it meets
	// still running is waited for; if it is skipped as such, the command
	// is asked again.
	for attempt := 1; ; attempt++ {
		resp, err := http.Post(fmt.Sprintf("http://%s/api/v1/rooms/%s/%s/checks?wait=60s", c.HTTPAddr(), site, room), "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&chk)
		resp.Body.Close()
		if chk.Report == nil {
			t.Fatalf("the check inside the meeting: %s, no report", chk.Status)
		}
		busy := false
		for _, r := range chk.Report.Checks {
			busy = busy || strings.HasPrefix(r.Reason, "the audio check was not started again: its run begun at ")
		}
		if !busy || attempt == 5 {
			break
		}
		time.Sleep(1300 * time.Millisecond) // the periodic run's audio takes about 1 s of every 3
	}
	for _, r := range chk.Report.Checks {
		t.Logf("check inside the meeting: %s %s %s %q", r.Check, r.Verdict, r.Code, r.Reason)
		switch r.Check {
		case wire.CheckNetwork:
			if r.Verdict != wire.Skipped || r.Code != wire.CodeHeldBack || !strings.Contains(r.Reason, `the network check was held back: meeting "Rapat koordinasi"`) ||
				!strings.Contains(r.Reason, "; repeating the result measured at ") || r.Measurements["download_bits_per_second"] <= 0 {
				t.Errorf("network inside the meeting: %+v", r)
			}
		case wire.CheckAudio:
			if r.Verdict == wire.Skipped || !strings.Contains(r.Reason, `loopback held back: meeting "Rapat koordinasi"`) || r.Measurements["peak_dbfs"] == 0 {
				t.Errorf("audio inside the meeting: %+v", r)
			}
			if _, played := r.Measurements["loopback_detected"]; played {
				t.Errorf("a loopback inside the meeting: %v", r.Measurements)
			}
		}
	}

	sleepUntil(quietTo.Add(-time.Second))
	p2, l2 := probeSessions(t, c), pulse.plays.Load()
	t.Logf("quiet window ends: %v probe sessions, %d loopback plays", p2, l2)
	if p2 != p1 || l2 != l1 {
		t.Errorf("during the meetings (%v): %v network tests and %d loopback plays, want 0 and 0", quietTo.Sub(quietFrom.Add(2*time.Second)), p2-p1, l2-l1)
	}
	// The reports of the meeting say what was held back.
	var list struct {
		Reports []wire.Report `json:"reports"`
	}
	getJSON(t, fmt.Sprintf("http://%s/api/v1/rooms/%s/%s/reports?since=%s", c.HTTPAddr(), site, room, start.Format(time.RFC3339)), &list)
	held := 0
	for _, rep := range list.Reports {
		if rep.MeasuredAt.After(start) && rep.MeasuredAt.Before(end) {
			for _, r := range rep.Checks {
				if r.Check == wire.CheckNetwork && r.Code == wire.CodeHeldBack {
					held++
				}
			}
		}
	}
	if held < 3 {
		t.Errorf("%d reports during the meeting with the network test held back, want several", held)
	}
	t.Logf("%d reports during the first meeting held the network test back", held)

	// After: tests again.
	deadline = time.Now().Add(60 * time.Second)
	for probeSessions(t, c) <= p2 || pulse.plays.Load() <= l2 {
		if time.Now().After(deadline) {
			t.Fatalf("after the meeting: %v probe sessions, %d loopback plays in 60 s", probeSessions(t, c)-p2, pulse.plays.Load()-l2)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("after the meetings: tests again (%v probe sessions, %d plays)", probeSessions(t, c), pulse.plays.Load())
	_ = next
}

// TestQuiet_ScheduleOnTheWire: the controller publishes a room's schedule
// retained on the room's own topic; an enrolled agent reads its own and is
// refused another room's; the agent program keeps the schedule in its data
// directory, so that a new process with the broker away still holds back.
func TestQuiet_ScheduleOnTheWire(t *testing.T) {
	c := startWith(t, controller.Config{MQTTRequireLogin: true})
	_, secret1 := enrol(t, c, "", "kalbar", "r1")
	_, secret2 := enrol(t, c, "", "kalbar", "r2")
	now := time.Now()
	createSession(t, c.HTTPAddr(), "kalbar", "r1", "Rapat r1", now.Add(-time.Minute), now.Add(time.Hour))
	createSession(t, c.HTTPAddr(), "kalbar", "r2", "Rapat r2", now.Add(time.Hour), now.Add(2*time.Hour))
	own := wire.Topic("kalbar", "r1", wire.KindSchedule)
	other := wire.Topic("kalbar", "r2", wire.KindSchedule)

	// Retained: a subscriber that comes after the publication gets it.
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(c.BrokerURL()).SetClientID(wire.AgentClientID("kalbar", "r1")).
		SetUsername("kalbar/r1").SetPassword(secret1))
	if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	got := make(chan *wire.Schedule, 4)
	deadline := time.Now().Add(25 * time.Second) // the announcer reads every 10 s
	var sched *wire.Schedule
	for sched == nil && time.Now().Before(deadline) {
		tok := cl.Subscribe(own, 1, func(_ mqtt.Client, m mqtt.Message) {
			if s, err := wire.DecodeSchedule(m.Payload()); err == nil {
				got <- s
			}
		})
		tok.WaitTimeout(5 * time.Second)
		select {
		case sched = <-got:
		case <-time.After(2 * time.Second):
			cl.Unsubscribe(own).WaitTimeout(time.Second)
		}
	}
	if sched == nil || len(sched.Sessions) != 1 || sched.Sessions[0].Title != "Rapat r1" {
		t.Fatalf("the retained schedule of kalbar/r1: %+v", sched)
	}
	// Another room's: refused (SUBACK 0x80).
	tok := cl.Subscribe(other, 1, func(mqtt.Client, mqtt.Message) { t.Error("got another room's schedule") })
	tok.WaitTimeout(5 * time.Second)
	if st, ok := tok.(*mqtt.SubscribeToken); !ok || st.Result()[other] < 0x80 {
		t.Errorf("subscribing to kalbar/r2's schedule as kalbar/r1: %v, want refused", tok.(*mqtt.SubscribeToken).Result())
	}
	if n := counter(t, c, "siaprapat_broker_acl_denied_total", map[string]string{"action": "subscribe"}); n < 1 {
		t.Errorf("the refusal was not counted")
	}
	_ = secret2

	// The agent program keeps it: run, then stop the controller (the
	// broker goes away) and check by hand in a new process.
	data := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("broker: %s\nsite: kalbar\nroom: r1\nusername: kalbar/r1\npassword: %s\ndata: %s\ninterval: 2s\nonly: host\n", c.BrokerURL(), secret1, data)), 0o600)
	agent := startAgentWith(t, os.Environ(), "run", "--config", cfg)
	stored := filepath.Join(data, quiet.ScheduleFile)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(stored); err == nil && strings.Contains(string(b), "Rapat r1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no schedule in %s after 20 s", stored)
		}
	}
	agent.cmd.Process.Kill()
	agent.cmd.Wait()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	bin, _ := binaries(t)
	check := exec.Command(bin, "check", "--config", cfg, "--only", "network", "--probe-url", "http://127.0.0.1:1", "--json")
	var stderr bytes.Buffer
	check.Stderr = &stderr
	out, _ := check.Output()
	var rep wire.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("check: %v\n%s%s", err, out, stderr.String())
	}
	if len(rep.Checks) != 1 || rep.Checks[0].Verdict != wire.Skipped || rep.Checks[0].Code != wire.CodeHeldBack ||
		!strings.Contains(rep.Checks[0].Reason, `meeting "Rapat r1"`) {
		t.Errorf("a check with the broker away, in a new process: %+v", rep.Checks)
	}
}

// TestQuiet_ScheduleThroughMosquittoWithTheDocumentedACL runs the controller
// on Mosquitto with the documented ACL (one user per room, its
// pattern ACL): the room reads its retained schedule and no other room's.
func TestQuiet_ScheduleThroughMosquittoWithTheDocumentedACL(t *testing.T) {
	bin := testenv.Command(t, "mosquitto", "mosquitto")
	passwd := testenv.Command(t, "mosquitto_passwd", "mosquitto")
	dir := t.TempDir()
	pwFile, aclFile, conf := filepath.Join(dir, "passwd"), filepath.Join(dir, "acl"), filepath.Join(dir, "mosquitto.conf")
	os.WriteFile(pwFile, nil, 0o600)
	for _, u := range [][2]string{{"siaprapat-controller", "ctl-secret"}, {"kalbar/r1", "r1-secret"}, {"kalbar/r2", "r2-secret"}} {
		if out, err := exec.Command(passwd, "-b", pwFile, u[0], u[1]).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
		}
	}
	// The documented ACL (docs/examples/mosquitto/acl), as written there.
	copyFile(t, exampleMosquittoACL, aclFile, 0o600)
	port := testenv.FreePort(t)
	// The test runs as root; Mosquitto would drop to its own user, which cannot read the test's files.
	os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\nacl_file %s\npersistence false\nlog_dest stderr\nuser root\n", port, pwFile, aclFile)), 0o600)
	m := exec.Command(bin, "-c", conf)
	var mout bytes.Buffer
	m.Stdout, m.Stderr = &mout, &mout
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Process.Kill()
		m.Wait()
		if t.Failed() {
			t.Logf("mosquitto:\n%s", mout.String())
		}
	})
	url := fmt.Sprintf("mqtt://127.0.0.1:%d", port)
	c := startWith(t, controller.Config{Broker: url, Username: "siaprapat-controller", Password: "ctl-secret"})
	now := time.Now()
	createSession(t, c.HTTPAddr(), "kalbar", "r1", "Rapat r1", now.Add(time.Hour), now.Add(2*time.Hour))
	createSession(t, c.HTTPAddr(), "kalbar", "r2", "Rapat r2", now.Add(time.Hour), now.Add(2*time.Hour))

	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(wire.AgentClientID("kalbar", "r1")).
		SetUsername("kalbar/r1").SetPassword("r1-secret"))
	if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	// Another room's first: refused or never delivered.
	other := wire.Topic("kalbar", "r2", wire.KindSchedule)
	leaked := make(chan string, 1)
	tok := cl.Subscribe(other, 1, func(_ mqtt.Client, m mqtt.Message) { leaked <- string(m.Payload()) })
	tok.WaitTimeout(5 * time.Second)
	t.Logf("SUBACK for kalbar/r2's schedule as kalbar/r1: %v", tok.(*mqtt.SubscribeToken).Result())
	// Then its own, published retained before it subscribed (the announcer
	// reads every 10 s).
	own := wire.Topic("kalbar", "r1", wire.KindSchedule)
	var got *wire.Schedule
	for deadline := time.Now().Add(25 * time.Second); got == nil && time.Now().Before(deadline); {
		ch := make(chan *wire.Schedule, 1)
		cl.Subscribe(own, 1, func(_ mqtt.Client, m mqtt.Message) {
			if s, err := wire.DecodeSchedule(m.Payload()); err == nil {
				select {
				case ch <- s:
				default:
				}
			}
		}).WaitTimeout(5 * time.Second)
		select {
		case got = <-ch:
		case <-time.After(2 * time.Second):
			cl.Unsubscribe(own).WaitTimeout(time.Second)
		}
	}
	if got == nil || len(got.Sessions) != 1 || got.Sessions[0].Title != "Rapat r1" {
		t.Fatalf("kalbar/r1's retained schedule through Mosquitto: %+v", got)
	}
	select {
	case p := <-leaked:
		t.Errorf("kalbar/r1 received kalbar/r2's schedule: %s", p)
	case <-time.After(time.Second):
	}
}
