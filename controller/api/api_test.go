package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

var t0 = time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)

// storeZones gives zones from the session store, as the controller does
// for a room the rooms file does not list.
type storeZones struct{ st *sessions.Store }

func (z storeZones) Zone(site, room string) (*time.Location, string) {
	if l := z.st.Zone(site, room); l != nil {
		return l, "api"
	}
	return readiness.Location, "default"
}

func (z storeZones) SetZone(site, room, zone string) error { return z.st.SetZone(site, room, zone) }

func server(t *testing.T) (*Server, *fleet.Fleet) {
	t.Helper()
	f := fleet.New(fleet.Options{Freshness: time.Hour, Now: func() time.Time { return t0 }})
	st, err := sessions.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	return &Server{Fleet: f, Sessions: st, Zones: storeZones{st}, Standard: std, Now: func() time.Time { return t0 },
		Gatherer: prometheus.NewRegistry()}, f
}

func call(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:5000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var out map[string]any
	json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

func TestAPI_RoomWithoutACameraSaysSoInBothLanguages(t *testing.T) {
	s, f := server(t)
	f.ApplyReport(&wire.Report{Schema: wire.Schema, ID: "1", Site: "sulsel", Room: "aula", MeasuredAt: t0, Verdict: wire.NotReady,
		Checks: []wire.CheckResult{{Check: "camera", Target: "camera", Verdict: wire.Fail, Reason: "no camera found", Code: wire.CodeNoDevice}}}, t0)
	h := s.Handler()
	for _, path := range []string{"/api/v1/rooms", "/api/v1/rooms/sulsel/aula"} {
		code, out := call(t, h, "GET", path, "")
		room := out
		if rooms, ok := out["rooms"].([]any); ok && len(rooms) == 1 {
			room = rooms[0].(map[string]any)
		}
		problems, _ := room["problems"].([]any)
		if code != 200 || len(problems) != 1 {
			t.Fatalf("GET %s: %d %v", path, code, out)
		}
		p := problems[0].(map[string]any)
		if p["check"] != "camera" || p["kind"] != "check" || p["verdict"] != "fail" || p["reason"] != "no camera found" ||
			p["text"] != "Camera: no camera found" || p["text_id"] != "Kamera: tidak ada kamera terdeteksi" {
			t.Errorf("GET %s: problem %v", path, p)
		}
	}
}

func TestAPI_ZoneOfARoomOnlyTheAPIKnows(t *testing.T) {
	s, _ := server(t)
	h := s.Handler()
	if code, out := call(t, h, "GET", "/api/v1/rooms/papua/aula/zone", ""); code != 200 || out["zone"] != "Asia/Jakarta" || out["source"] != "default" {
		t.Errorf("default zone: %d %v", code, out)
	}
	if code, out := call(t, h, "PUT", "/api/v1/rooms/papua/aula/zone", `{"zone":"Asia/Jayapura"}`); code != 200 || out["zone"] != "Asia/Jayapura" || out["source"] != "api" {
		t.Errorf("set zone: %d %v", code, out)
	}
	for body, want := range map[string]string{
		`{"zone":"Mars/Olympus"}`: `zone "Mars/Olympus" is not a time zone`,
		`{"tz":"Asia/Jayapura"}`:  `request body: json: unknown field "tz"`,
	} {
		if code, out := call(t, h, "PUT", "/api/v1/rooms/papua/aula/zone", body); code != 400 || !strings.HasPrefix(out["error"].(string), want) {
			t.Errorf("PUT %s: %d %v, want 400 %q", body, code, out, want)
		}
	}
	if l := s.Sessions.Zone("papua", "aula"); l == nil || l.String() != "Asia/Jayapura" {
		t.Errorf("stored zone %v", l)
	}
	if code, out := call(t, h, "PUT", "/api/v1/rooms/papua/aula/zone", `{"zone":""}`); code != 200 || out["source"] != "default" {
		t.Errorf("clear zone: %d %v", code, out)
	}
}

func TestAPI_RemovedRoomSaysWhen(t *testing.T) {
	s, f := server(t)
	f.ApplyStatus("s", "r", wire.StatusOnline, t0)
	f.Revoke("s", "r", t0)
	code, out := call(t, s.Handler(), "GET", "/api/v1/rooms/s/r", "")
	if code != 404 || out["error"] != "room s/r is not known: its agent was removed at 2026-11-24T01:00:00Z" {
		t.Errorf("%d %v", code, out)
	}
}

// TestAPI_WritesFromOtherMachinesNeedAToken: without an admin token, a
// request that changes something is taken from this machine only, unless
// the controller was started to take it from anyone.
func TestAPI_WritesFromOtherMachinesNeedAToken(t *testing.T) {
	s, _ := server(t)
	post := func(from string) int {
		req := httptest.NewRequest("POST", "/api/v1/rooms/s/r/sessions",
			strings.NewReader(`{"title":"Rapat","start":"2026-12-01T09:00:00+07:00","end":"2026-12-01T10:00:00+07:00"}`))
		req.RemoteAddr = from
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		return w.Code
	}
	if code := post("127.0.0.1:5000"); code != http.StatusCreated {
		t.Errorf("from this machine: %d", code)
	}
	if code := post("[::1]:5000"); code != http.StatusCreated {
		t.Errorf("from this machine (IPv6): %d", code)
	}
	if code := post("10.1.2.3:5000"); code != http.StatusForbidden {
		t.Errorf("from another machine without a token: %d, want 403", code)
	}
	s.OpenWrites = true
	if code := post("10.1.2.3:5000"); code != http.StatusCreated {
		t.Errorf("from another machine with --api-open-writes: %d", code)
	}
}

func TestAPI_EndpointListAtAPIAndTheBoardAtTheRoot(t *testing.T) {
	s, _ := server(t)
	get := func(h http.Handler, path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code, w.Body.String()
	}
	if code, body := get(s.Handler(), "/"); code != 200 || !strings.Contains(body, "GET /api/v1/rooms") {
		t.Errorf("GET / without a board: %d %q", code, body)
	}
	s.Board = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "board "+r.URL.Path) })
	h := s.Handler()
	for path, want := range map[string]string{
		"/":                 "board /",
		"/rooms/sulsel/aul": "board /rooms/sulsel/aul",
		"/api/":             "GET /api/v1/rooms",
		"/healthz":          "ok",
	} {
		if code, body := get(h, path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d %q, want %q", path, code, body, want)
		}
	}
	if code, body := get(h, "/api/v1/nothing"); code != 404 || !strings.Contains(body, "no API endpoint") {
		t.Errorf("unknown API path: %d %q", code, body)
	}
}

func TestServer_CanReadAndCanWriteFollowTheTokens(t *testing.T) {
	for _, tc := range []struct {
		name, admin, read string
		token             string
		canRead, canWrite bool
	}{
		{"no tokens: open", "", "", "", true, true},
		{"admin only: reads open", "a", "", "", true, false},
		{"admin only, admin token", "a", "", "a", true, true},
		{"read token: none", "a", "r", "", false, false},
		{"read token: read", "a", "r", "r", true, false},
		{"read token: admin", "a", "r", "a", true, true},
		{"read token: wrong", "a", "r", "x", false, false},
		{"read token without admin: writes open", "", "r", "r", true, true},
	} {
		s := &Server{Token: tc.admin, ReadToken: tc.read}
		local := httptest.NewRequest("GET", "/", nil)
		local.RemoteAddr = "127.0.0.1:5000"
		if got := s.CanRead(local, tc.token); got != tc.canRead {
			t.Errorf("%s: CanRead(%q) = %v", tc.name, tc.token, got)
		}
		if got := s.CanWrite(local, tc.token); got != tc.canWrite {
			t.Errorf("%s: CanWrite(%q) = %v", tc.name, tc.token, got)
		}
	}
}
