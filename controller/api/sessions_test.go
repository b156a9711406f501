package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/controller/sessions"
)

// A scheduler creates, reads, moves, lists and deletes a session through
// the API; each bad request is refused with what was wrong.
func TestSessions_LifeThroughTheAPIAndWhatIsRefused(t *testing.T) {
	s, _ := server(t)
	h := s.Handler()

	code, out := call(t, h, "POST", "/api/v1/rooms/kalbar/aula/sessions",
		`{"title":"Rapat koordinasi","organizer":"Biro Umum","start":"2026-11-24T09:00:00+07:00","end":"2026-11-24T10:00:00+07:00"}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, out)
	}
	id, _ := out["id"].(string)
	if id == "" || out["source"] != "api" || out["site"] != "kalbar" || out["room"] != "aula" {
		t.Fatalf("created %v", out)
	}
	if code, got := call(t, h, "GET", "/api/v1/sessions/"+id, ""); code != http.StatusOK || got["title"] != "Rapat koordinasi" {
		t.Fatalf("get: %d %v", code, got)
	}
	code, out = call(t, h, "PUT", "/api/v1/sessions/"+id,
		`{"title":"Rapat koordinasi","start":"2026-11-24T13:00:00+07:00","end":"2026-11-24T14:00:00+07:00"}`)
	if code != http.StatusOK || !strings.HasPrefix(out["start"].(string), "2026-11-24T06:00:00") {
		t.Fatalf("move: %d %v", code, out)
	}
	code, out = call(t, h, "GET", "/api/v1/sessions?site=kalbar&from=2026-11-24T12:00:00%2B07:00", "")
	if list, _ := out["sessions"].([]any); code != http.StatusOK || len(list) != 1 {
		t.Fatalf("list from noon: %d %v", code, out)
	}
	code, out = call(t, h, "GET", "/api/v1/sessions?site=kalteng", "")
	if list, _ := out["sessions"].([]any); code != http.StatusOK || len(list) != 0 {
		t.Fatalf("list of another site: %d %v", code, out)
	}

	for _, c := range []struct {
		name, method, path, body string
		code                     int
		says                     string
	}{
		{"not JSON", "POST", "/api/v1/rooms/kalbar/aula/sessions", `{"title":`, http.StatusBadRequest, "request body"},
		{"unknown field", "POST", "/api/v1/rooms/kalbar/aula/sessions", `{"title":"x","begin":"2026-11-24T09:00:00Z"}`, http.StatusBadRequest, "unknown field"},
		{"end before start", "POST", "/api/v1/rooms/kalbar/aula/sessions", `{"title":"x","start":"2026-11-24T10:00:00Z","end":"2026-11-24T09:00:00Z"}`, http.StatusBadRequest, ""},
		{"bad room name", "POST", "/api/v1/rooms/kal%20bar/aula/sessions", `{"title":"x","start":"2026-11-24T09:00:00Z","end":"2026-11-24T10:00:00Z"}`, http.StatusBadRequest, ""},
		{"bad time filter", "GET", "/api/v1/sessions?from=tomorrow", "", http.StatusBadRequest, "RFC 3339"},
		{"unknown session", "GET", "/api/v1/sessions/nope", "", http.StatusNotFound, `no session "nope"`},
		{"move unknown", "PUT", "/api/v1/sessions/nope", `{}`, http.StatusNotFound, `no session "nope"`},
		{"delete unknown", "DELETE", "/api/v1/sessions/nope", "", http.StatusNotFound, `no session "nope"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out := call(t, h, c.method, c.path, c.body)
			msg, _ := out["error"].(string)
			if code != c.code || msg == "" || !strings.Contains(msg, c.says) {
				t.Errorf("%s %s: %d %q, want %d saying %q", c.method, c.path, code, msg, c.code, c.says)
			}
		})
	}

	// A calendar's session is the calendar's to change.
	cal, err := s.Sessions.Put(sessions.Session{Site: "kalbar", Room: "aula", Title: "from Exchange", Source: "calendar:aula",
		Start: mustTime(t, "2026-11-25T09:00:00+07:00"), End: mustTime(t, "2026-11-25T10:00:00+07:00")})
	if err != nil {
		t.Fatal(err)
	}
	if code, out := call(t, h, "DELETE", "/api/v1/sessions/"+cal.ID, ""); code != http.StatusConflict || !strings.Contains(out["error"].(string), "remove it there") {
		t.Errorf("delete a calendar's session: %d %v", code, out)
	}
	if code, out := call(t, h, "PUT", "/api/v1/sessions/"+cal.ID, `{"title":"x"}`); code != http.StatusConflict {
		t.Errorf("change a calendar's session: %d %v", code, out)
	}

	if code, _ := call(t, h, "DELETE", "/api/v1/sessions/"+id, ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := call(t, h, "GET", "/api/v1/sessions/"+id, ""); code != http.StatusNotFound {
		t.Errorf("a deleted session is still there: %d", code)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
