package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/controller/sessions"
)

type fakeFeeds []sessions.FeedState

func (f fakeFeeds) States() []sessions.FeedState { return f }

func TestListCalendars_ShowsEachFeedWithItsSkippedEvents(t *testing.T) {
	at := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	feeds := fakeFeeds{
		{Site: "kalbar", Room: "aula", Source: "https://outlook.office365.com/…", Status: "ok", LastPoll: at, LastSuccess: at, Sessions: 7,
			SkippedEvents: 3, SkippedByReason: map[string]int{sessions.SkipUnknownZone: 3},
			Skipped: []sessions.Skipped{{UID: "x", Line: 40, Reason: sessions.SkipUnknownZone, Detail: `DTSTART: unknown time zone "X"`}}},
		{Site: "sulsel", Room: "r1", Source: "/srv/cal/r1.ics", Status: "error", Error: "read calendar: line 3: ...", LastPoll: at},
	}
	srv := &Server{Calendars: feeds, ReadToken: "read", Log: slog.New(slog.DiscardHandler)}
	h := srv.Handler()
	get := func(path, token string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if code, _ := get("/api/v1/calendars", ""); code != http.StatusUnauthorized {
		t.Errorf("without the read token: %d", code)
	}
	code, body := get("/api/v1/calendars", "read")
	var got struct {
		Calendars []map[string]any `json:"calendars"`
	}
	if err := json.Unmarshal([]byte(body), &got); code != http.StatusOK || err != nil || len(got.Calendars) != 2 {
		t.Fatalf("%d %v %s", code, err, body)
	}
	aula := got.Calendars[0]
	if aula["status"] != "ok" || aula["sessions"] != 7.0 || aula["skipped_events"] != 3.0 || aula["last_poll"] != "2026-11-29T00:00:00Z" ||
		aula["skipped_by_reason"].(map[string]any)["unknown_zone"] != 3.0 || !strings.Contains(body, `"detail": "DTSTART: unknown time zone \"X\""`) {
		t.Errorf("aula: %v", aula)
	}
	if r1 := got.Calendars[1]; r1["status"] != "error" || r1["error"] != "read calendar: line 3: ..." || r1["last_success"] != nil {
		t.Errorf("r1: %v", r1)
	}
	if _, body := get("/api/v1/calendars?site=sulsel", "read"); strings.Contains(body, "kalbar") || !strings.Contains(body, "sulsel") {
		t.Errorf("?site=sulsel: %s", body)
	}
	if code, body := get("/api/v1/calendars?room=r%201", "read"); code != http.StatusBadRequest {
		t.Errorf("bad room name: %d %s", code, body)
	}
	// A controller without feeds lists none.
	rec := httptest.NewRecorder()
	(&Server{Log: srv.Log}).Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/calendars", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"calendars": []`) {
		t.Errorf("no feeds: %d %s", rec.Code, rec.Body.String())
	}
}
