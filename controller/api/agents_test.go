package api

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/controller/agents"
	"github.com/siaprapat/siaprapat/controller/broker"
	"github.com/siaprapat/siaprapat/controller/enrolment"
	"github.com/siaprapat/siaprapat/wire"
)

// agentServer is the API enrolling agents as the controller does with its
// embedded broker: credentials in an agents store in a temp dir.
func agentServer(t *testing.T) (*Server, *agents.Store) {
	t.Helper()
	s, f := server(t)
	store, err := agents.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	b, err := broker.Start(broker.Options{Listen: "127.0.0.1:0", RequireLogin: true, Agents: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	session := b.Inline(nil)
	t.Cleanup(session.Close)
	s.Agents = enrolment.New(store, b, session, f, s.Now, slog.New(slog.DiscardHandler))
	return s, store
}

// Enrolling answers the agent's user name, when, and its secret, which logs
// in; the secret is shown this once: listing never shows it, and enrolling
// again makes a new one and ends the old.
func TestAPI_EnrolAgentShowsItsSecretOnce(t *testing.T) {
	s, store := agentServer(t)
	h := s.Handler()
	code, out := call(t, h, "POST", "/api/v1/agents", `{"site":"kalbar","room":"aula"}`)
	if code != http.StatusCreated {
		t.Fatalf("enrol: %d %v", code, out)
	}
	secret, _ := out["password"].(string)
	if raw, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(raw) != 32 {
		t.Errorf("password %q: not 32 random bytes in base64url (%v)", secret, err)
	}
	want := map[string]any{"site": "kalbar", "room": "aula", "username": "kalbar/aula", "enrolled": t0.Format(time.RFC3339), "password": secret}
	if len(out) != len(want) {
		t.Errorf("enrolment %v, want exactly the fields %v", out, want)
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("enrolment %s = %v, want %v", k, out[k], v)
		}
	}
	if !store.Authenticate("kalbar/aula", secret) {
		t.Error("the secret answered does not log in")
	}

	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/agents", nil)
	req.RemoteAddr = "127.0.0.1:5000"
	h.ServeHTTP(rec, req)
	if body := rec.Body.String(); rec.Code != http.StatusOK || strings.Contains(body, secret) || strings.Contains(body, "password") {
		t.Errorf("the list shows the secret: %d %s", rec.Code, body)
	}

	code, again := call(t, h, "POST", "/api/v1/agents", `{"site":"kalbar","room":"aula"}`)
	secret2, _ := again["password"].(string)
	if code != http.StatusCreated || secret2 == "" || secret2 == secret {
		t.Fatalf("enrol again: %d %v", code, again)
	}
	if store.Authenticate("kalbar/aula", secret) || !store.Authenticate("kalbar/aula", secret2) {
		t.Error("enrolling again did not replace the secret")
	}
}

// The list holds every enrolled agent, by user name; removing one revokes
// its secret and takes its room out of the API.
func TestAPI_ListAndRemoveAgents(t *testing.T) {
	s, store := agentServer(t)
	h := s.Handler()
	secrets := map[string]string{}
	for _, body := range []string{`{"site":"sulsel","room":"r2"}`, `{"site":"kalbar","room":"aula"}`} {
		code, out := call(t, h, "POST", "/api/v1/agents", body)
		if code != http.StatusCreated {
			t.Fatalf("enrol %s: %d %v", body, code, out)
		}
		secrets[out["username"].(string)] = out["password"].(string)
	}
	list := func() []string {
		t.Helper()
		code, out := call(t, h, "GET", "/api/v1/agents", "")
		l, ok := out["agents"].([]any)
		if code != http.StatusOK || !ok {
			t.Fatalf("list: %d %v", code, out)
		}
		var users []string
		for _, a := range l {
			users = append(users, a.(map[string]any)["username"].(string))
		}
		return users
	}
	if got := strings.Join(list(), " "); got != "kalbar/aula sulsel/r2" {
		t.Errorf("listed %q", got)
	}

	s.Fleet.ApplyStatus("kalbar", "aula", wire.StatusOnline, t0)
	if code, out := call(t, h, "DELETE", "/api/v1/agents/kalbar/aula", ""); code != http.StatusNoContent {
		t.Fatalf("remove: %d %v", code, out)
	}
	if store.Authenticate("kalbar/aula", secrets["kalbar/aula"]) || !store.Authenticate("sulsel/r2", secrets["sulsel/r2"]) {
		t.Error("removing kalbar/aula did not revoke its secret alone")
	}
	if got := strings.Join(list(), " "); got != "sulsel/r2" {
		t.Errorf("listed %q after removing kalbar/aula", got)
	}
	if code, out := call(t, h, "GET", "/api/v1/rooms/kalbar/aula", ""); code != http.StatusNotFound ||
		out["error"] != "room kalbar/aula is not known: its agent was removed at 2026-11-24T01:00:00Z" {
		t.Errorf("the removed room: %d %v", code, out)
	}
	for path, want := range map[string]struct {
		code int
		says string
	}{
		"/api/v1/agents/kalbar/aula":  {http.StatusNotFound, "kalbar/aula: no agent is enrolled for this room"},
		"/api/v1/agents/kal%20bar/r1": {http.StatusBadRequest, `site "kal bar" is not a valid name`},
	} {
		if code, out := call(t, h, "DELETE", path, ""); code != want.code || !strings.Contains(out["error"].(string), want.says) {
			t.Errorf("DELETE %s: %d %v, want %d %q", path, code, out, want.code, want.says)
		}
	}
	if len(store.List()) != 1 {
		t.Errorf("store holds %v", store.List())
	}
}

// A bad enrolment is refused with what was wrong; nothing is enrolled.
func TestAPI_EnrolAgentRefusesBadSitesRoomsAndBodies(t *testing.T) {
	s, store := agentServer(t)
	h := s.Handler()
	for _, c := range []struct{ name, body, says string }{
		{"site with a space", `{"site":"kal bar","room":"aula"}`, `site "kal bar" is not a valid name`},
		{"room starting with a dot", `{"site":"kalbar","room":".aula"}`, `room ".aula" is not a valid name`},
		{"room with a slash", `{"site":"kalbar","room":"a/b"}`, `room "a/b" is not a valid name`},
		{"room over 64 characters", `{"site":"kalbar","room":"` + strings.Repeat("a", 65) + `"}`, "is not a valid name"},
		{"no room", `{"site":"kalbar"}`, "room is empty"},
		{"no site", `{"room":"aula"}`, "site is empty"},
		{"unknown field", `{"site":"kalbar","room":"aula","zone":"Asia/Pontianak"}`, `body: want {"site": SITE, "room": ROOM}: json: unknown field "zone"`},
		{"not JSON", `site=kalbar&room=aula`, `body: want {"site": SITE, "room": ROOM}`},
		{"a number for a site", `{"site":1,"room":"aula"}`, "cannot unmarshal number"},
		{"no body", ``, "EOF"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out := call(t, h, "POST", "/api/v1/agents", c.body)
			msg, _ := out["error"].(string)
			if code != http.StatusBadRequest || !strings.Contains(msg, c.says) || out["password"] != nil {
				t.Errorf("%s: %d %v, want 400 saying %q", c.body, code, out, c.says)
			}
		})
	}
	if n := len(store.List()); n != 0 {
		t.Errorf("%d agents enrolled by refused requests", n)
	}
}

// Credentials go to the admin alone: with an admin token, to whoever sends
// it; without one, to this machine only; and nowhere when the controller
// does not enrol agents (an external broker).
func TestAPI_AgentEndpointsAreTheAdminsAlone(t *testing.T) {
	for _, c := range []struct {
		name, token, read, from, bearer string
		noEnroller                      bool
		code                            int
	}{
		{"no admin token, this machine", "", "", "127.0.0.1:5000", "", false, http.StatusCreated},
		{"no admin token, another machine", "", "", "10.1.2.3:5000", "", false, http.StatusForbidden},
		{"admin token, another machine", "adm", "", "10.1.2.3:5000", "adm", false, http.StatusCreated},
		{"admin token missing", "adm", "", "127.0.0.1:5000", "", false, http.StatusUnauthorized},
		{"read token is not enough", "adm", "rd", "127.0.0.1:5000", "rd", false, http.StatusUnauthorized},
		{"external broker", "", "", "127.0.0.1:5000", "", true, http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, store := agentServer(t)
			s.Token, s.ReadToken = c.token, c.read
			if c.noEnroller {
				s.Agents = nil
			}
			h := s.Handler()
			for _, r := range []struct{ method, path, body string }{
				{"POST", "/api/v1/agents", `{"site":"kalbar","room":"aula"}`},
				{"GET", "/api/v1/agents", ""},
				{"DELETE", "/api/v1/agents/kalbar/aula", ""},
			} {
				req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
				req.RemoteAddr = c.from
				if c.bearer != "" {
					req.Header.Set("Authorization", "Bearer "+c.bearer)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				want := c.code
				if want/100 == 2 {
					want = map[string]int{"POST": http.StatusCreated, "GET": http.StatusOK, "DELETE": http.StatusNoContent}[r.method]
				}
				if rec.Code != want {
					t.Errorf("%s %s: %d %s, want %d", r.method, r.path, rec.Code, rec.Body.String(), want)
				}
			}
			if c.code/100 != 2 && len(store.List()) != 0 {
				t.Errorf("enrolled %v", store.List())
			}
		})
	}
}

// When the store cannot write, enrolling and removing answer 500 and point
// to the log, which says why; no secret is answered.
func TestAPI_AgentStoreThatCannotWriteIsAServerError(t *testing.T) {
	s, store := agentServer(t)
	h := s.Handler()
	if code, out := call(t, h, "POST", "/api/v1/agents", `{"site":"kalbar","room":"aula"}`); code != http.StatusCreated {
		t.Fatalf("enrol: %d %v", code, out)
	}
	store.Close()
	for _, r := range []struct{ method, path, body, says string }{
		{"POST", "/api/v1/agents", `{"site":"kalbar","room":"r2"}`, "could not enrol the agent; see the controller's log"},
		{"DELETE", "/api/v1/agents/kalbar/aula", "", "could not revoke the agent; see the controller's log"},
	} {
		if code, out := call(t, h, r.method, r.path, r.body); code != http.StatusInternalServerError || out["error"] != r.says || out["password"] != nil {
			t.Errorf("%s %s: %d %v", r.method, r.path, code, out)
		}
	}
}

// TestAPI_EnrolmentSaysTheBrokersPortAtTheHostAsked: an agent must use the
// port the controller's broker listens on, which need not be 1883 (two
// controllers on one machine, a port taken): the enrolment says it, at the
// host the client asked for the controller.
func TestAPI_EnrolmentSaysTheBrokersPortAtTheHostAsked(t *testing.T) {
	s, _ := agentServer(t)
	s.AgentBroker = "mqtts://:8884"
	code, out := call(t, s.Handler(), "POST", "/api/v1/agents", `{"site":"kalbar","room":"aula"}`)
	if code != http.StatusCreated || out["broker"] != "mqtts://example.com:8884" {
		t.Errorf("enrol: %d, broker %v; want mqtts://example.com:8884 (httptest's host)", code, out["broker"])
	}
}
