package sessions

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/rooms"
)

func roomsFile(t *testing.T, calendar string) *rooms.Config {
	t.Helper()
	file := filepath.Join(t.TempDir(), "rooms.yaml")
	os.WriteFile(file, []byte("schema: siaprapat.rooms/v1\nrooms:\n  - site: kalbar\n    room: aula\n    calendar: "+calendar+"\n"), 0o600)
	rc, err := rooms.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func TestFeeds_PollKeepsLastGoodReadThroughErrors(t *testing.T) {
	feed, err := os.ReadFile("testdata/feed.ics")
	if err != nil {
		t.Fatal(err)
	}
	var broken atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			http.Error(w, "calendar server down", http.StatusBadGateway)
			return
		}
		w.Write(feed)
	}))
	defer srv.Close()
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// An API session in the same room is not the feed's to replace.
	st.Put(Session{Site: "kalbar", Room: "aula", Title: "manual", Start: time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC), Source: "api"})
	rc := roomsFile(t, srv.URL+"/aula.ics")
	f, err := NewFeeds(st, rc, FeedOptions{Interval: time.Minute}, prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	room := rc.Get("kalbar", "aula")
	if err := f.Poll(context.Background(), room, now); err != nil {
		t.Fatal(err)
	}
	if n := len(st.List(Filter{})); n != 8 {
		t.Fatalf("%d sessions after the first read, want 7 from the feed + 1 manual", n)
	}
	broken.Store(true)
	err = f.Poll(context.Background(), room, now)
	if err == nil || !strings.Contains(err.Error(), "502 Bad Gateway") {
		t.Errorf("broken feed: %v", err)
	}
	if n := len(st.List(Filter{})); n != 8 {
		t.Errorf("%d sessions after a failed read, want the 8 kept", n)
	}
	broken.Store(false)
	feed = []byte(strings.Replace(string(feed), "SUMMARY:Rapat nasional", "SUMMARY:Rapat nasional\r\nSTATUS:CANCELLED", 1))
	if err := f.Poll(context.Background(), room, now); err != nil {
		t.Fatal(err)
	}
	if n := len(st.List(Filter{})); n != 7 {
		t.Errorf("%d sessions after an event was cancelled, want 7", n)
	}
}

// TestFeeds_SkippedEventsCountedAtEveryPoll runs the poller over a feed with
// an event it must skip: the registered counter counts it at every poll, not
// only at the first.
func TestFeeds_SkippedEventsCountedAtEveryPoll(t *testing.T) {
	file := filepath.Join(t.TempDir(), "aula.ics")
	os.WriteFile(file, []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//ID\r\n"+
		"BEGIN:VEVENT\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:no uid\r\nDTSTART:20261201T020000Z\r\nDTEND:20261201T030000Z\r\nEND:VEVENT\r\n"+
		"END:VCALENDAR\r\n"), 0o600)
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := prometheus.NewPedanticRegistry()
	now := func() time.Time { return time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC) }
	f, err := NewFeeds(st, roomsFile(t, file), FeedOptions{Interval: 10 * time.Millisecond, Now: now}, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	polls := func() float64 { return gathered(t, reg, "siaprapat_calendar_fetches_total", "ok") }
	for deadline := time.Now().Add(10 * time.Second); polls() < 3; {
		if time.Now().After(deadline) {
			t.Fatal("fewer than 3 polls in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	n, skipped := polls(), gathered(t, reg, "siaprapat_calendar_events_skipped_total", "")
	if skipped != n {
		t.Errorf("siaprapat_calendar_events_skipped_total = %v after %v polls of a feed with one bad event, want %v", skipped, n, n)
	}
}

// gathered returns a counter's value from reg; label is the value of its
// only label, or "" when it has none.
func gathered(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
