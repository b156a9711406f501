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
	f, err := NewFeeds(st, rc, time.Minute, prometheus.NewPedanticRegistry(), nil)
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
