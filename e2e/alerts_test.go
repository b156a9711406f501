package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent"
	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/agent/host"
	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/controller"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/standard"
)

// startAlertmanager runs a real Alertmanager on loopback for the test.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	bin := testenv.Command(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := t.TempDir()
	conf := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(conf, []byte("route:\n  receiver: log\nreceivers:\n  - name: log\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	var out bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+conf, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager output:\n%s", out.String())
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get(url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager did not become ready:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// amActive lists the active alerts Alertmanager holds for a room.
func amActive(t *testing.T, url, room string) []amAlert {
	t.Helper()
	resp, err := http.Get(url + "/api/v2/alerts?active=true&silenced=false&inhibited=false")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var all []amAlert
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		t.Fatal(err)
	}
	var out []amAlert
	for _, a := range all {
		if a.Labels["room"] == room && a.EndsAt.After(time.Now()) {
			out = append(out, a)
		}
	}
	return out
}

// TestAlerts_NotReadyBeforeSessionReachesAlertmanagerAndResolves follows one
// alert's journey: a session is created for a room that is not ready, the
// pre-meeting check runs, the alert appears in a real Alertmanager, the room
// is fixed, the next check passes, and the alert resolves.
func TestAlerts_NotReadyBeforeSessionReachesAlertmanagerAndResolves(t *testing.T) {
	amURL := startAlertmanager(t)
	c := startWith(t, controller.Config{Alertmanagers: []string{amURL}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A real agent loop (it answers commands), reading a simulated PC that
	// is short of memory.
	std, _ := standard.Default()
	src := fleetsim.NewSource(fleetsim.ProfileNotReady, "pc-1", 3)
	agentDone := make(chan error, 1)
	go func() {
		agentDone <- agent.Run(ctx, agent.Config{
			Link:     link.Options{Broker: c.BrokerURL(), Site: "kalbar", Room: "aula", KeepAlive: 2 * time.Second},
			Interval: time.Hour,
			Runner: &runner.Runner{Site: "kalbar", Room: "aula", AgentVersion: "test", Standard: std,
				Checks: []runner.Check{&host.Check{Source: src}}},
		})
	}()
	waitState(t, c, "kalbar", "aula", "not_ready", 10*time.Second)

	t0 := time.Now()
	start := t0.Add(10*time.Minute - time.Second) // inside the 10 min lead time: checked at once
	body := fmt.Sprintf(`{"title":"Rapat koordinasi","organizer":"Diskominfo","start":%q,"end":%q}`,
		start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339))
	resp, err := http.Post("http://"+c.HTTPAddr()+"/api/v1/rooms/kalbar/aula/sessions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create session: %s", resp.Status)
	}
	t.Logf("%s session created, starting %s", time.Now().Format("15:04:05.000"), start.Format(time.RFC3339))

	var firing []amAlert
	for deadline := time.Now().Add(10 * time.Second); len(firing) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no alert in Alertmanager 10 s after the session was created")
		}
		time.Sleep(50 * time.Millisecond)
		firing = amActive(t, amURL, "aula")
	}
	took := time.Since(t0)
	a := firing[0]
	t.Logf("%s alert in Alertmanager (%v after the session was created): %s\n%s", time.Now().Format("15:04:05.000"), took.Round(time.Millisecond),
		a.Annotations["summary"], a.Annotations["description"])
	if took > 5*time.Second {
		t.Errorf("alert took %v to reach Alertmanager", took)
	}
	if a.Labels["alertname"] != "SiaprapatRoomNotReady" || a.Labels["site"] != "kalbar" || a.Labels["severity"] != "critical" ||
		!strings.Contains(a.Annotations["description"], "is below the fail limit") || !strings.Contains(a.Annotations["summary"], "Rapat koordinasi") {
		t.Errorf("alert: %+v", a)
	}

	// The technician fixes the room; the next check (on demand here) passes.
	src.SetProfile(fleetsim.ProfileReady)
	fixed := time.Now()
	resp, err = http.Post("http://"+c.HTTPAddr()+"/api/v1/rooms/kalbar/aula/checks?wait=20s", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Logf("%s room fixed and checked again", time.Now().Format("15:04:05.000"))
	for deadline := time.Now().Add(10 * time.Second); len(amActive(t, amURL, "aula")) > 0; {
		if time.Now().After(deadline) {
			t.Fatal("the alert did not resolve after the room was fixed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%s alert resolved in Alertmanager (%v after the fix)", time.Now().Format("15:04:05.000"), time.Since(fixed).Round(time.Millisecond))
	mfs, _ := scrape(t, c)
	if v, _ := value(mfs, "siaprapat_room_next_session_ready", map[string]string{"room": "aula"}); v != 1 {
		t.Errorf("siaprapat_room_next_session_ready = %v, want 1", v)
	}
	if v, _ := value(mfs, "siaprapat_alerts_firing", nil); v != 0 {
		t.Errorf("siaprapat_alerts_firing = %v", v)
	}
	cancel()
	<-agentDone
}

func TestAPI_Sessions(t *testing.T) {
	c := startController(t, t.TempDir(), "")
	base := "http://" + c.HTTPAddr() + "/api/v1"
	do := func(method, url, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, out := do("POST", base+"/rooms/kalbar/aula/sessions", `{"title":"Rapat","start":"2026-11-24T09:00:00+07:00","end":"2026-11-24T10:00:00+07:00"}`)
	if code != 201 || out["id"] == "" || out["start"] != "2026-11-24T02:00:00Z" {
		t.Fatalf("create: %d %v", code, out)
	}
	id := out["id"].(string)
	for body, want := range map[string]string{
		`{"title":"Rapat","start":"2026-11-24T09:00:00+07:00","end":"2026-11-24T08:00:00+07:00"}`: "end: must be after start",
		`{"title":"Rapat","start":"tomorrow"}`:                                                    `request body: parsing time "tomorrow"`,
		`{"title":"Rapat","begin":"2026-11-24T09:00:00+07:00"}`:                                   `request body: json: unknown field "begin"`,
	} {
		code, out := do("POST", base+"/rooms/kalbar/aula/sessions", body)
		if msg, _ := out["error"].(string); code != 400 || !strings.HasPrefix(msg, want) {
			t.Errorf("POST %s: %d %q, want 400 %q", body, code, msg, want)
		}
	}
	code, out = do("GET", base+"/sessions?from=2026-11-24T00:00:00%2B07:00&to=2026-11-25T00:00:00%2B07:00", "")
	if list, _ := out["sessions"].([]any); code != 200 || len(list) != 1 {
		t.Errorf("list: %d %v", code, out)
	}
	if code, out = do("GET", base+"/sessions?from=yesterday", ""); code != 400 {
		t.Errorf("bad from: %d %v", code, out)
	}
	code, out = do("PUT", base+"/sessions/"+id, `{"title":"Rapat pleno","start":"2026-11-24T13:00:00+07:00","end":"2026-11-24T15:00:00+07:00"}`)
	if code != 200 || out["title"] != "Rapat pleno" {
		t.Errorf("update: %d %v", code, out)
	}
	if code, _ = do("DELETE", base+"/sessions/"+id, ""); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code, _ = do("GET", base+"/sessions/"+id, ""); code != 404 {
		t.Errorf("get deleted: %d", code)
	}
}

// TestAlerts_WebhookSurvivesReceiverOutageAndControllerRestart fires an
// alert while the webhook receiver is down, restarts the controller, then
// brings the receiver up: the message arrives, once.
func TestAlerts_WebhookSurvivesReceiverOutageAndControllerRestart(t *testing.T) {
	hookAddr := testenv.FreeAddr(t) // nothing listens there yet
	dataDir := t.TempDir()
	startCtl := func() *controller.Controller {
		return startWith(t, controller.Config{DataDir: dataDir, Webhooks: []string{"http://" + hookAddr + "/hook"}})
	}
	c := startCtl()
	r := newRoom(t, c.BrokerURL(), "kalbar", "aula", fleetsim.ProfileNotReady)
	r.report(t)
	waitState(t, c, "kalbar", "aula", "not_ready", 5*time.Second)
	start := time.Now().Add(5 * time.Minute)
	body := fmt.Sprintf(`{"title":"Rapat darurat","start":%q,"end":%q}`, start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339))
	resp, err := http.Post("http://"+c.HTTPAddr()+"/api/v1/rooms/kalbar/aula/sessions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mfs, _ := scrape(t, c)
		failed, _ := value(mfs, "siaprapat_alert_deliveries_failed_total", nil)
		pending, _ := value(mfs, "siaprapat_webhook_outbox_messages", nil)
		if failed >= 1 && pending == 1 {
			t.Logf("alert fired; webhook receiver down: %v failed deliveries, %v message waiting", failed, pending)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed delivery queued: failed=%v pending=%v", failed, pending)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.link.Drop()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c = startCtl() // same data directory: the alert and the outbox come back
	t.Cleanup(func() { c.Close() })
	var mu sync.Mutex
	var got []map[string]any
	srv := &http.Server{Addr: hookAddr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	})}
	go srv.ListenAndServe()
	t.Cleanup(func() { srv.Close() })
	up := time.Now()
	deadline = time.Now().Add(30 * time.Second) // the outbox backs off: 1 s, 2 s, 4 s...
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook message never arrived after the receiver came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("webhook delivered %v after the receiver came back", time.Since(up).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // nothing more may come: not a second "firing"
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0]["status"] != "firing" || !strings.Contains(got[0]["text"].(string), "belum siap untuk \"Rapat darurat\"") ||
		!strings.Contains(got[0]["text"].(string), "is not ready for \"Rapat darurat\"") {
		t.Errorf("webhook messages: %v", got)
	}
}
