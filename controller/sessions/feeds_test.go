package sessions

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	f, err := NewFeeds(st, rc, FeedOptions{Interval: time.Minute, Horizon: 30 * 24 * time.Hour}, prometheus.NewPedanticRegistry())
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
// only at the first, also when the file is unchanged and not read again.
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
	polls := func() float64 {
		return gathered(t, reg, "siaprapat_calendar_fetches_total", "ok") + gathered(t, reg, "siaprapat_calendar_fetches_total", "not_modified")
	}
	for deadline := time.Now().Add(10 * time.Second); polls() < 3; {
		if time.Now().After(deadline) {
			t.Fatal("fewer than 3 polls in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	n, skipped := polls(), gathered(t, reg, "siaprapat_calendar_events_skipped_total", "no_uid")
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

// loadRooms writes a rooms file and loads it.
func loadRooms(t *testing.T, dir, body string) *rooms.Config {
	t.Helper()
	file := filepath.Join(dir, "rooms.yaml")
	if err := os.WriteFile(file, []byte("schema: siaprapat.rooms/v1\nrooms:\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, err := rooms.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func openStore(t *testing.T) *Store {
	t.Helper()
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestFeeds_SlowFeedDelaysNoOtherAndShutdownStopsAtOnce: one room's feed
// never answers, another's calendar path became a named pipe; a third
// room's feed still loads while they hang, and cancelling Run ends every
// poll at once.
func TestFeeds_SlowFeedDelaysNoOtherAndShutdownStopsAtOnce(t *testing.T) {
	hung := make(chan struct{})
	var hanging atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hanging.Add(1)
		select {
		case <-r.Context().Done():
		case <-hung:
		}
	}))
	defer slow.Close()
	defer close(hung)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ics")
	feed, _ := os.ReadFile("testdata/feed.ics")
	os.WriteFile(good, feed, 0o600)
	fifo := filepath.Join(dir, "pipe.ics")
	rc := loadRooms(t, dir, "  - {site: kalbar, room: slow, calendar: '"+slow.URL+"/slow.ics'}\n"+
		"  - {site: kalbar, room: pipe, calendar: "+fifo+"}\n"+
		"  - {site: kalbar, room: aula, calendar: "+good+"}\n")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil { // after the load, which refuses one
		t.Fatal(err)
	}
	st := openStore(t)
	now := func() time.Time { return time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC) }
	f, err := NewFeeds(st, rc, FeedOptions{Interval: time.Hour, Timeout: time.Hour, Parallel: 2, Now: now}, prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	pipeDone := func() bool {
		for _, s := range f.States() {
			if s.Room == "pipe" {
				return s.Status != "pending"
			}
		}
		return false
	}
	deadline := time.Now().Add(10 * time.Second)
	// Two feeds are read at once: the slow one holds a slot, the others
	// take turns in the other.
	for len(st.List(Filter{Room: "aula"})) == 0 || hanging.Load() == 0 || !pipeDone() {
		if time.Now().After(deadline) {
			t.Fatalf("in 10 s: %d aula sessions, slow feed asked %d times; states %+v", len(st.List(Filter{Room: "aula"})), hanging.Load(), f.States())
		}
		time.Sleep(5 * time.Millisecond)
	}
	states := map[string]FeedState{}
	for _, s := range f.States() {
		states[s.Room] = s
	}
	if s := states["slow"]; s.Status != "pending" {
		t.Errorf("slow feed: %+v, want still pending", s)
	}
	if s := states["pipe"]; s.Status != "error" || s.Error != "read calendar file: "+fifo+" is not a regular file (p---------)" {
		t.Errorf("named pipe: %+v", s)
	}
	if s := states["aula"]; s.Status != "ok" || s.Sessions != 6 {
		t.Errorf("aula: %+v", s)
	}
	stopped := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5 s after its context ended")
	}
	if took := time.Since(stopped); took > time.Second {
		t.Errorf("Run took %v to stop", took)
	}
}

// TestFeeds_AuthenticatedFeedWithConditionalGET: a bearer token from a file,
// webcal read as https, and a 304 that is neither downloaded nor read again
// until the window moves past what the last read covered.
func TestFeeds_AuthenticatedFeedWithConditionalGET(t *testing.T) {
	feed, _ := os.ReadFile("testdata/feed.ics")
	var mu sync.Mutex
	var log []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer tok-123" {
			log = append(log, "401")
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			log = append(log, "304")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		log = append(log, "200")
		w.Header().Set("ETag", `"v1"`)
		w.Write(feed)
	}))
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("tok-123\n"), 0o600)
	webcal := strings.Replace(srv.URL, "https://", "webcal://", 1) + "/private-s3cr3t/basic.ics"
	rc := loadRooms(t, dir, "  - {site: kalbar, room: aula, calendar: '"+webcal+"', calendar_auth: {bearer_token_file: token}}\n")
	st := openStore(t)
	reg := prometheus.NewPedanticRegistry()
	f, err := NewFeeds(st, rc, FeedOptions{Transport: srv.Client().Transport}, reg)
	if err != nil {
		t.Fatal(err)
	}
	room := rc.Get("kalbar", "aula")
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{now, now.Add(5 * time.Minute), now.Add(25 * time.Hour)} {
		if err := f.Poll(context.Background(), room, at); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(log, " "); got != "200 304 304" {
		t.Errorf("server answered %s, want 200 304 304", got)
	}
	for result, want := range map[string]float64{"ok": 1, "not_modified": 2, "error": 0} {
		if got := gathered(t, reg, "siaprapat_calendar_fetches_total", result); got != want {
			t.Errorf("fetches{result=%q} = %v, want %v", result, got, want)
		}
	}
	s := f.States()[0]
	if s.Status != "ok" || !s.NotModified || s.Source != "https://"+strings.TrimPrefix(srv.URL, "https://")+"/…" || s.Sessions == 0 {
		t.Errorf("state %+v", s)
	}

	// A token the server refuses: the error names calendar_auth, not the secret URL.
	os.WriteFile(filepath.Join(dir, "token"), []byte("old-token\n"), 0o600)
	f2, _ := NewFeeds(st, rc, FeedOptions{Transport: srv.Client().Transport}, prometheus.NewPedanticRegistry())
	err = f2.Poll(context.Background(), room, now)
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized: the server refused calendar_auth's credentials") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("refused token: %v", err)
	}
	if n := len(st.List(Filter{Room: "aula"})); n == 0 {
		t.Error("a refused poll dropped the sessions of the last good read")
	}
}

func TestFeeds_RedirectsAreLimitedAndNeverDowngrade(t *testing.T) {
	feed, _ := os.ReadFile("testdata/feed.ics")
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(feed) }))
	defer plain.Close()
	var tls *httptest.Server
	tls = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/down":
			http.Redirect(w, r, plain.URL+"/feed.ics", http.StatusFound)
		case "/moved":
			http.Redirect(w, r, tls.URL+"/feed.ics", http.StatusMovedPermanently)
		default:
			w.Write(feed)
		}
	}))
	defer tls.Close()
	dir := t.TempDir()
	rc := loadRooms(t, dir, "  - {site: s, room: loop, calendar: '"+tls.URL+"/loop'}\n  - {site: s, room: down, calendar: '"+tls.URL+"/down'}\n  - {site: s, room: moved, calendar: '"+tls.URL+"/moved'}\n")
	f, err := NewFeeds(openStore(t), rc, FeedOptions{Transport: tls.Client().Transport}, prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	host := strings.TrimPrefix(tls.URL, "https://")
	for room, want := range map[string]string{
		"loop":  "GET https://" + host + "/…: more than 5 redirects",
		"down":  "GET https://" + host + "/…: refused a redirect from https to http",
		"moved": "",
	} {
		err := f.Poll(context.Background(), rc.Get("s", room), now)
		if got := fmt.Sprint(err); (want == "" && err != nil) || (want != "" && got != want) {
			t.Errorf("%s: %v, want %q", room, err, want)
		}
	}
}

// TestFeeds_UnreadableFeedSaysTheLineAndKeepsSessions: a feed that turns
// into something else keeps the sessions of its last good read; the state
// says why, with the line, and what was skipped in the last good read.
func TestFeeds_UnreadableFeedSaysTheLineAndKeepsSessions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "aula.ics")
	good := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" +
		"BEGIN:VEVENT\r\nUID:ok\r\nSUMMARY:Rapat\r\nDTSTART:20261201T020000Z\r\nDTEND:20261201T030000Z\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:x1\r\nSUMMARY:a\r\nDTSTART;TZID=Mars Standard Time:20261201T090000\r\nDURATION:PT1H\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:x2\r\nSUMMARY:b\r\nDTSTART;TZID=Mars Standard Time:20261202T090000\r\nDURATION:PT1H\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:x3\r\nSUMMARY:c\r\nDTSTART;TZID=Mars Standard Time:20261203T090000\r\nDURATION:PT1H\r\nEND:VEVENT\r\n" +
		"END:VCALENDAR\r\n"
	os.WriteFile(file, []byte(good), 0o600)
	rc := loadRooms(t, dir, "  - {site: kalbar, room: aula, calendar: "+file+"}\n")
	st := openStore(t)
	reg := prometheus.NewPedanticRegistry()
	f, err := NewFeeds(st, rc, FeedOptions{}, reg)
	if err != nil {
		t.Fatal(err)
	}
	room := rc.Get("kalbar", "aula")
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	if err := f.Poll(context.Background(), room, now); err != nil {
		t.Fatal(err)
	}
	s := f.States()[0]
	if s.SkippedEvents != 3 || s.SkippedByReason[SkipUnknownZone] != 3 || len(s.Skipped) != 3 ||
		s.Skipped[0].Detail != `DTSTART: unknown time zone "Mars Standard Time": no VTIMEZONE of that TZID in the feed, and no IANA, Windows (CLDR 48) or display name` {
		t.Errorf("state %+v", s)
	}
	if got := gathered(t, reg, "siaprapat_calendar_events_skipped_total", SkipUnknownZone); got != 3 {
		t.Errorf("skipped{reason=unknown_zone} = %v", got)
	}
	os.WriteFile(file, []byte(strings.Replace(good, "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:x2", "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:x2\r\nBEGIN:VALARM", 1)[:len(good)-20]), 0o600)
	err = f.Poll(context.Background(), room, now.Add(time.Minute))
	want := "read calendar: line 26: the feed ends inside the VEVENT opened at line 22: truncated?"
	if err == nil || err.Error() != want {
		t.Errorf("err %v, want %s", err, want)
	}
	s = f.States()[0]
	if s.Status != "error" || s.Error != want || s.Sessions != 1 || !s.LastSuccess.Equal(now) {
		t.Errorf("state after a bad read %+v", s)
	}
	if n := len(st.List(Filter{Room: "aula"})); n != 1 {
		t.Errorf("%d sessions kept, want 1", n)
	}
}

func TestFeeds_APollOverItsBudgetIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	rc := loadRooms(t, t.TempDir(), "  - {site: s, room: r, calendar: '"+srv.URL+"/x.ics'}\n")
	f, err := NewFeeds(openStore(t), rc, FeedOptions{Timeout: 50 * time.Millisecond}, prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	err = f.Poll(context.Background(), rc.Get("s", "r"), time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC))
	host := strings.TrimPrefix(srv.URL, "http://")
	if want := "GET http://" + host + "/…: context deadline exceeded (a poll has 50ms)"; err == nil || err.Error() != want {
		t.Errorf("err %v, want %s", err, want)
	}
	if s := f.States()[0]; s.Status != "error" || s.Error != err.Error() {
		t.Errorf("state %+v", s)
	}
}
