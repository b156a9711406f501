package alerts

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// hook records the webhook messages it receives.
type hook struct {
	mu   sync.Mutex
	msgs []Message
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m Message
	json.NewDecoder(r.Body).Decode(&m)
	h.mu.Lock()
	h.msgs = append(h.msgs, m)
	h.mu.Unlock()
}

func (h *hook) got() []Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Message(nil), h.msgs...)
}

// withHook returns a manager posting to a webhook and to an Alertmanager.
func withHook(t *testing.T) (*Manager, *hook, *receiver) {
	t.Helper()
	h, am := &hook{}, &receiver{}
	hs, as := httptest.NewServer(h), httptest.NewServer(am)
	t.Cleanup(hs.Close)
	t.Cleanup(as.Close)
	m, err := New(Options{Webhooks: []string{hs.URL}, Alertmanagers: []string{as.URL}, DataDir: t.TempDir()}, prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, h, am
}

var (
	makassar, _ = time.LoadLocation("Asia/Makassar")
	t0          = time.Date(2026, 11, 24, 0, 48, 0, 0, time.UTC) // 08:48 WITA
	rapat       = sessions.Session{ID: "sess1", Site: "kalbar", Room: "aula", Title: "Rapat koordinasi", Organizer: "Diskominfo",
		Start: time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)}
)

func noCamera(at time.Time) []readiness.Cause {
	return readiness.OfReport(&wire.Report{MeasuredAt: at, Verdict: wire.NotReady, Checks: []wire.CheckResult{
		{Check: "camera", Target: "camera", Verdict: wire.Fail, Reason: "no camera found", Code: wire.CodeNoDevice}}},
		readiness.Context{Loc: makassar, Now: at})
}

func upload(at time.Time, bps float64) []readiness.Cause {
	obs := bps
	return readiness.OfReport(&wire.Report{MeasuredAt: at, Verdict: wire.NotReady, Checks: []wire.CheckResult{
		{Check: "network", Target: "probe", Verdict: wire.Fail, Rules: []wire.RuleResult{{Rule: "upload", Verdict: wire.Fail, Observed: &obs}}}}},
		readiness.Context{Standard: defaultStandard, Loc: makassar, Now: at})
}

var defaultStandard, _ = standard.Default()

// deliver hands every queued webhook message to its receiver, and the
// alerts due to Alertmanager.
func deliver(m *Manager, now time.Time) {
	m.outbox.deliver(context.Background(), now)
	m.Deliver(context.Background(), now)
}

func TestManager_AlertChangesOnlyWhenItsCausesDo(t *testing.T) {
	m, h, am := withHook(t)
	ctx := context.Background()
	m.Sync(ctx, []Alert{For(rapat, makassar, noCamera(t0), t0)}, nil, t0)
	deliver(m, t0)
	// The same cause from a newer report: nothing changes, nothing is sent.
	m.Sync(ctx, []Alert{For(rapat, makassar, noCamera(t0.Add(10*time.Second)), t0.Add(10*time.Second))}, nil, t0.Add(10*time.Second))
	deliver(m, t0.Add(10*time.Second))
	if n := len(h.got()); n != 1 {
		t.Fatalf("%d webhook messages after the same cause again, want the 1 firing", n)
	}
	if n := am.count(); n != 1 {
		t.Errorf("%d Alertmanager posts, want 1: an unchanged alert waits for its resend interval", n)
	}
	// Another cause: one changed message, and Alertmanager sees it at once.
	both := append(noCamera(t0), upload(t0.Add(20*time.Second), 1.9e6)...)
	m.Sync(ctx, []Alert{For(rapat, makassar, both, t0.Add(20*time.Second))}, nil, t0.Add(20*time.Second))
	deliver(m, t0.Add(20*time.Second))
	msgs := h.got()
	if len(msgs) != 2 || msgs[1].Event != EventChanged || msgs[1].Status != "firing" || len(msgs[1].Causes) != 2 ||
		!strings.Contains(msgs[1].TextID, "MASIH BELUM SIAP") {
		t.Fatalf("after a new cause: %+v", msgs)
	}
	if got := am.last(); len(got) != 1 || !strings.Contains(got[0].Annotations["description"], "Upload") || !got[0].StartsAt.Equal(t0) {
		t.Errorf("Alertmanager got %+v, want the new causes and the first startsAt", got)
	}
	if n := am.count(); n != 2 {
		t.Errorf("%d Alertmanager posts, want 2", n)
	}
	if a, _ := m.Get(For(rapat, makassar, nil, t0).Key); !a.FailedAt.Equal(t0.Add(20 * time.Second)) {
		t.Errorf("failed at %v, want the newest evidence", a.FailedAt)
	}
}

func TestManager_EndsSayWhy(t *testing.T) {
	for _, end := range []End{Resolved, Ended, Cancelled, Rescheduled} {
		t.Run(string(end), func(t *testing.T) {
			m, h, am := withHook(t)
			ctx := context.Background()
			a := For(rapat, makassar, noCamera(t0), t0)
			m.Sync(ctx, []Alert{a}, nil, t0)
			m.Sync(ctx, nil, map[string]End{a.Key: end}, t0.Add(time.Minute))
			deliver(m, t0.Add(time.Minute))
			msgs := h.got()
			if len(msgs) != 2 || msgs[1].Event != string(end) || msgs[1].Status != "resolved" || !msgs[1].EndsAt.Equal(t0.Add(time.Minute)) {
				t.Fatalf("messages %+v", msgs)
			}
			want := map[End][2]string{
				Resolved:    {"✅ SIAP: Ruang kalbar/aula kini siap", "✅ READY: Room kalbar/aula is now ready"},
				Ended:       {"⏹️ SELESAI: Rapat \"Rapat koordinasi\"", "⏹️ ENDED: The session \"Rapat koordinasi\""},
				Cancelled:   {"🚫 DIBATALKAN: Rapat \"Rapat koordinasi\" pada Selasa, 24 Nov 2026 09.00 WITA di ruang kalbar/aula dibatalkan", "🚫 CANCELLED: The session \"Rapat koordinasi\" at Tue 24 Nov 2026 09:00 WITA"},
				Rescheduled: {"🗓️ DIJADWALKAN ULANG", "🗓️ RESCHEDULED"},
			}[end]
			if !strings.HasPrefix(msgs[1].TextID, want[0]) || !strings.HasPrefix(msgs[1].TextEN, want[1]) || msgs[1].Text != msgs[1].TextID+"\n\n"+msgs[1].TextEN {
				t.Errorf("text:\n%s\nwant it to start %q and %q", msgs[1].Text, want[0], want[1])
			}
			if got := am.last(); len(got) != 1 || got[0].EndsAt.IsZero() || got[0].Annotations["end_reason"] != string(end) {
				t.Errorf("Alertmanager got %+v, want endsAt and end_reason %s", got, end)
			}
		})
	}
}

func TestFor_WordsTheAlertInTheRoomsZoneAndBothLanguages(t *testing.T) {
	a := For(rapat, makassar, noCamera(t0), t0)
	want := map[string]string{
		"summary":        `Room kalbar/aula is not ready for "Rapat koordinasi" at Tue 24 Nov 2026 09:00 WITA`,
		"summary_id":     `Ruang kalbar/aula belum siap untuk "Rapat koordinasi" pada Selasa, 24 Nov 2026 09.00 WITA`,
		"description":    "- Camera: no camera found",
		"description_id": "- Kamera: tidak ada kamera terdeteksi",
		"session_start":  "2026-11-24T09:00:00+08:00",
		"session_zone":   "WITA",
	}
	for k, v := range want {
		if a.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, a.Annotations[k], v)
		}
	}
	s := &state{alert: a, startsAt: t0}
	m := message(EventFiring, s)
	if m.Text != "⚠️ BELUM SIAP: Ruang kalbar/aula belum siap untuk \"Rapat koordinasi\" pada Selasa, 24 Nov 2026 09.00 WITA.\n- Kamera: tidak ada kamera terdeteksi\n\n"+
		"⚠️ NOT READY: Room kalbar/aula is not ready for \"Rapat koordinasi\" at Tue 24 Nov 2026 09:00 WITA.\n- Camera: no camera found" {
		t.Errorf("text:\n%s", m.Text)
	}
	b, _ := json.Marshal(m)
	for _, field := range []string{`"version":2`, `"event":"firing"`, `"start":"2026-11-24T09:00:00+08:00"`, `"zone":"WITA"`, `"location":"Asia/Makassar"`, `"code":"no_device"`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("webhook body lacks %s: %s", field, b)
		}
	}
}

// TestManager_AlertsKeptAcrossARestartKeepTheirCauses: a controller
// restarted while an alert fires neither repeats it nor sends it again as
// changed.
func TestManager_AlertsKeptAcrossARestartKeepTheirCauses(t *testing.T) {
	dir := t.TempDir()
	open := func() *Manager {
		m, err := New(Options{DataDir: dir}, prometheus.NewPedanticRegistry())
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := open()
	a := For(rapat, makassar, noCamera(t0), t0)
	m.Sync(context.Background(), []Alert{a}, nil, t0)
	m.Close()
	m = open()
	defer m.Close()
	got, ok := m.Get(a.Key)
	if !ok || got.Fingerprint != a.Fingerprint || !got.FailedAt.Equal(t0) || got.Session.Zone != "WITA" {
		t.Fatalf("after a restart: %+v, %v", got, ok)
	}
	if n := m.outbox.pending(); n != 0 {
		t.Errorf("%d webhook messages queued without webhooks", n)
	}
}
