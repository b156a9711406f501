package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent"
	"github.com/siaprapat/siaprapat/agent/camera"
	"github.com/siaprapat/siaprapat/agent/camera/y4mtest"
	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/agent/host"
	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/controller"
	"github.com/siaprapat/siaprapat/controller/alerts"
	"github.com/siaprapat/siaprapat/controller/rooms"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// noCameras is a room PC with no camera plugged in: the hardware edge of
// the real camera check.
type noCameras struct{}

func (noCameras) Cameras(context.Context) ([]camera.Device, error) { return nil, nil }
func (noCameras) Open(context.Context, camera.Device, camera.Mode) (camera.Stream, error) {
	return nil, fmt.Errorf("no such camera")
}

// swappedCamera is the room's camera check as a technician changes it: the
// real check reading no camera, or the real check reading a healthy clip.
type swappedCamera struct{ cur atomic.Pointer[camera.Check] }

func (s *swappedCamera) Name() string { return wire.CheckCamera }
func (s *swappedCamera) Run(ctx context.Context, std *standard.Standard) ([]wire.CheckResult, error) {
	return s.cur.Load().Run(ctx, std)
}

// webhookLog receives the controller's webhook messages.
type webhookLog struct {
	mu   sync.Mutex
	msgs []alerts.Message
}

func (h *webhookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m alerts.Message
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.msgs = append(h.msgs, m)
	h.mu.Unlock()
}

func (h *webhookLog) got() []alerts.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]alerts.Message(nil), h.msgs...)
}

// waitMessages waits until the webhook has received n messages.
func (h *webhookLog) waitMessages(t *testing.T, n int, within time.Duration) []alerts.Message {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if got := h.got(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d webhook messages after %v, want %d: %+v", len(h.got()), within, n, h.got())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAlerts_NoCameraInAWITARoomIsOneCalmAlertInBothLanguages follows an
// alert through a real Alertmanager and a webhook: a room in WITA whose
// camera check finds no camera, with a session 12 minutes ahead, gets one
// alert naming the camera in Bahasa Indonesia and English with the time in
// WITA; an agent restart inside the window sends nothing and leaves the
// Alertmanager alert as it was; the fixed room (a passing report measured
// after the failure) resolves it; broken again and the session deleted, it
// ends as cancelled.
func TestAlerts_NoCameraInAWITARoomIsOneCalmAlertInBothLanguages(t *testing.T) {
	amURL := startAlertmanager(t)
	hook := &webhookLog{}
	hookSrv := httptest.NewServer(hook)
	defer hookSrv.Close()
	roomsFile := filepath.Join(t.TempDir(), "rooms.yaml")
	if err := os.WriteFile(roomsFile, []byte("schema: siaprapat.rooms/v1\nrooms:\n  - site: sulsel\n    room: aula\n    zone: Asia/Makassar\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, err := rooms.Load(roomsFile)
	if err != nil {
		t.Fatal(err)
	}
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	c := startWith(t, controller.Config{Alertmanagers: []string{amURL}, Webhooks: []string{hookSrv.URL}, Rooms: rc, Standard: std})

	noCam, err := camera.NewWithSource(noCameras{}, camera.Config{})
	if err != nil {
		t.Fatal(err)
	}
	clip := filepath.Join(t.TempDir(), "healthy.y4m")
	if err := y4mtest.Write(clip, y4mtest.Clip{}); err != nil {
		t.Fatal(err)
	}
	healthy, err := camera.New(camera.Config{Source: "file:" + clip, Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cam := &swappedCamera{}
	cam.cur.Store(noCam)
	// startAgent runs the real agent loop (it answers commands) until its
	// stop is called; stopping says goodbye, as a service stop does.
	startAgent := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- agent.Run(ctx, agent.Config{
				Link:     link.Options{Broker: c.BrokerURL(), Site: "sulsel", Room: "aula", KeepAlive: 2 * time.Second},
				Interval: 2 * time.Second,
				Runner: &runner.Runner{Site: "sulsel", Room: "aula", AgentVersion: "test", Standard: std,
					Checks: []runner.Check{&host.Check{Source: fleetsim.NewSource(fleetsim.ProfileReady, "pc-1", 3)}, cam}},
			})
		}()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent: %v", err)
			}
		}
	}
	stop := startAgent()
	waitState(t, c, "sulsel", "aula", "not_ready", 20*time.Second)

	// A session 12 minutes ahead: inside the 30 min window at once.
	start := time.Now().Add(12 * time.Minute).Truncate(time.Minute)
	body := fmt.Sprintf(`{"title":"Rapat koordinasi","organizer":"Diskominfo","start":%q,"end":%q}`,
		start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339))
	resp, err := http.Post("http://"+c.HTTPAddr()+"/api/v1/rooms/sulsel/aula/sessions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var sess struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create session: %s", resp.Status)
	}

	msgs := hook.waitMessages(t, 1, 10*time.Second)
	m := msgs[0]
	wita := start.In(time.FixedZone("WITA", 8*3600))
	timeID, timeEN := wita.Format("15.04")+" WITA", wita.Format("15:04")+" WITA"
	t.Logf("webhook message 1 (%s):\n%s", m.Event, m.Text)
	if m.Event != alerts.EventFiring || !strings.Contains(m.TextID, "Kamera: tidak ada kamera terdeteksi") ||
		!strings.Contains(m.TextEN, "Camera: no camera found") || !strings.Contains(m.TextID, timeID) || !strings.Contains(m.TextEN, timeEN) ||
		m.Session.Zone != "WITA" || len(m.Causes) != 1 || m.Causes[0].Code != wire.CodeNoDevice {
		t.Errorf("firing message: %+v", m)
	}
	var firing []amAlert
	for deadline := time.Now().Add(10 * time.Second); len(firing) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no alert in Alertmanager")
		}
		firing = amActive(t, amURL, "aula")
	}
	before := firing[0]
	t.Logf("Alertmanager: %s / %s\n%s\n%s", before.Annotations["summary_id"], before.Annotations["summary"],
		before.Annotations["description_id"], before.Annotations["description"])
	if !strings.Contains(before.Annotations["summary"], timeEN) || before.Annotations["description"] != "- Camera: no camera found" ||
		before.Annotations["description_id"] != "- Kamera: tidak ada kamera terdeteksi" {
		t.Errorf("Alertmanager alert: %+v", before)
	}
	// The API, the metrics and a check say the same.
	var room struct {
		Problems []struct{ Check, Rule, Text, TextID string }
	}
	getJSON(t, "http://"+c.HTTPAddr()+"/api/v1/rooms/sulsel/aula", &room)
	if len(room.Problems) == 0 || room.Problems[0].Check != "camera" || room.Problems[0].Text != "Camera: no camera found" {
		t.Errorf("API problems: %+v", room.Problems)
	}
	if _, text := scrape(t, c); !strings.Contains(text, `siaprapat_room_rule_problem{check="camera",room="aula",rule="camera",site="sulsel",target="camera",verdict="fail"} 1`) {
		t.Error("/metrics has no camera problem series")
	}

	// The agent restarts (a package upgrade): nothing is sent, nothing changes.
	stop()
	time.Sleep(time.Second)
	stop = startAgent()
	waitState(t, c, "sulsel", "aula", "not_ready", 20*time.Second)
	time.Sleep(6 * time.Second) // reports of the new agent come and go
	if n := len(hook.got()); n != 1 {
		t.Errorf("%d webhook messages after the agent restarted, want still 1: %+v", n, hook.got()[1:])
	}
	after := amActive(t, amURL, "aula")
	if len(after) != 1 || !maps.Equal(after[0].Annotations, before.Annotations) || !after[0].StartsAt.Equal(before.StartsAt) {
		t.Errorf("Alertmanager alert changed by the restart:\nbefore %+v\nafter  %+v", before, after)
	}

	// Fixed: the camera is plugged in, and the next report passes.
	cam.cur.Store(healthy)
	msgs = hook.waitMessages(t, 2, 20*time.Second)
	t.Logf("webhook message 2 (%s):\n%s", msgs[1].Event, msgs[1].Text)
	if msgs[1].Event != string(alerts.Resolved) || !strings.Contains(msgs[1].TextID, "SIAP") {
		t.Errorf("resolved message: %+v", msgs[1])
	}
	for deadline := time.Now().Add(10 * time.Second); len(amActive(t, amURL, "aula")) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the alert did not resolve in Alertmanager")
		}
	}

	// Broken again, then the meeting is deleted: the alert ends as cancelled.
	cam.cur.Store(noCam)
	hook.waitMessages(t, 3, 20*time.Second)
	req, _ := http.NewRequest(http.MethodDelete, "http://"+c.HTTPAddr()+"/api/v1/sessions/"+sess.ID, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete session: %v %v", resp, err)
	}
	msgs = hook.waitMessages(t, 4, 10*time.Second)
	t.Logf("webhook message 4 (%s):\n%s", msgs[3].Event, msgs[3].Text)
	if msgs[2].Event != alerts.EventFiring || msgs[3].Event != string(alerts.Cancelled) ||
		!strings.Contains(msgs[3].TextID, "DIBATALKAN") || !strings.Contains(msgs[3].TextEN, "CANCELLED") {
		t.Errorf("messages 3 and 4: %+v", msgs[2:])
	}
	stop()
	time.Sleep(500 * time.Millisecond)
	if n := len(hook.got()); n != 4 {
		t.Errorf("%d webhook messages in all, want 4 (firing, resolved, firing, cancelled)", n)
	}
}
