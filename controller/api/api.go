// Package api serves the controller's HTTP interface: the JSON API, the
// Prometheus metrics and health endpoints.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/siaprapat/siaprapat/controller/agents"
	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/history"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/controller/shard"
	"github.com/siaprapat/siaprapat/standard"
)

// Server holds what the handlers need.
type Server struct {
	Fleet   *fleet.Fleet
	History *history.History // may be nil: no report history
	// AgentBroker is the scheme and port of the broker agents use (e.g.
	// mqtt://:1883), told on enrolment with the host the client asked.
	AgentBroker string
	Commands    *commands.Dispatcher
	Sessions    *sessions.Store
	// Zones gives each room's time zone (times in causes are shown in it)
	// and sets it for rooms the rooms file does not; may be nil (WIB).
	Zones Zones
	// Standard is the controller's standard: the limits causes quote.
	Standard *standard.Standard
	Now      func() time.Time // the clock; time.Now when nil
	// Shard is the sites this controller owns; rooms of other sites get
	// 421 Misdirected Request. nil owns every site.
	Shard *shard.Set
	// Metrics serves /metrics; when nil, promhttp serves Gatherer.
	Metrics  http.Handler
	Gatherer prometheus.Gatherer
	// Ready reports whether the controller can take reports (its MQTT
	// session is up); /readyz answers 503 while it cannot.
	Ready func() error
	// Token, when set, is the admin token: required as "Authorization:
	// Bearer TOKEN" on every request that changes something (POST, PUT,
	// DELETE), and good for reads too.
	Token string
	// ReadToken, when set, is required (or the admin token) on every read
	// of the API; when empty, reads are open.
	ReadToken string
	// MetricsAuth makes /metrics take the read (or admin) token too.
	MetricsAuth bool
	// OpenWrites lets anyone who reaches the port make writing requests
	// while there is no admin token; without it (the default) they are
	// taken from this machine only.
	OpenWrites bool
	// Agents enrols and revokes agents; nil means this controller does not.
	Agents Enroller
	// Calendars tells the rooms' iCalendar feeds' state; nil lists none.
	Calendars CalendarFeeds
	// Probe serves the network probe under /probe/v1/; nil means none.
	Probe http.Handler
	// Board serves the web board (controller/board) at /; nil: / lists the
	// endpoints in plain text, as /api/ always does.
	Board http.Handler
	Log   *slog.Logger
}

// Zones gives and sets rooms' time zones.
type Zones interface {
	// Zone is the room's zone and where it comes from: rooms_file, api or default.
	Zone(site, room string) (*time.Location, string)
	// SetZone sets the room's zone ("" clears it); ErrZoneFromFile when
	// the rooms file sets it.
	SetZone(site, room, zone string) error
}

// ErrZoneFromFile says a room's zone is the rooms file's to set.
var ErrZoneFromFile = errors.New("the room's zone comes from the rooms file")

// Enroller enrols the agent of a room (making its credentials) and revokes it.
type Enroller interface {
	Enrol(site, room string) (agents.Agent, string, error)
	Revoke(site, room string) error
	List() []agents.Agent
}

// Handler returns the HTTP routes.
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/{$}", s.index)
	if s.Board != nil {
		mux.Handle("/", s.Board)
	} else {
		mux.HandleFunc("GET /{$}", s.index)
	}
	metrics := s.Metrics
	if metrics == nil {
		metrics = promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{
			ErrorLog:      slog.NewLogLogger(s.Log.Handler(), slog.LevelError),
			ErrorHandling: promhttp.ContinueOnError,
		})
	}
	if s.MetricsAuth {
		metrics = s.reader(metrics.ServeHTTP)
	}
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /api/v1/rooms", s.reader(s.listRooms))
	mux.HandleFunc("GET /api/v1/rooms/{site}/{room}", s.reader(s.getRoom))
	mux.HandleFunc("GET /api/v1/rooms/{site}/{room}/reports", s.reader(s.listReports))
	mux.HandleFunc("GET /api/v1/rooms/{site}/{room}/zone", s.reader(s.getZone))
	mux.HandleFunc("PUT /api/v1/rooms/{site}/{room}/zone", s.authorized(s.putZone))
	mux.HandleFunc("POST /api/v1/rooms/{site}/{room}/checks", s.authorized(s.startCheck))
	mux.HandleFunc("GET /api/v1/checks/{id}", s.reader(s.getCheck))
	mux.HandleFunc("POST /api/v1/rooms/{site}/{room}/sessions", s.authorized(s.createSession))
	mux.HandleFunc("GET /api/v1/sessions", s.reader(s.listSessions))
	mux.HandleFunc("GET /api/v1/sessions/{id}", s.reader(s.getSession))
	mux.HandleFunc("PUT /api/v1/sessions/{id}", s.authorized(s.updateSession))
	mux.HandleFunc("DELETE /api/v1/sessions/{id}", s.authorized(s.deleteSession))
	mux.HandleFunc("GET /api/v1/calendars", s.reader(s.listCalendars))
	if s.Probe != nil {
		mux.Handle("/probe/v1/", s.Probe) // its own token check: agents' secrets
	}
	mux.HandleFunc("GET /api/v1/agents", s.admin(s.listAgents))
	mux.HandleFunc("POST /api/v1/agents", s.admin(s.addAgent))
	mux.HandleFunc("DELETE /api/v1/agents/{site}/{room}", s.admin(s.removeAgent))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no API endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, `siaprapat controller

GET /                             the web board (rooms, meetings); this list is also at /api/
GET /metrics                      Prometheus metrics
GET /api/v1/rooms                 every room with its state
GET /api/v1/rooms/{site}/{room}   one room with its newest report
GET /api/v1/rooms/{site}/{room}/reports?since=RFC3339[&limit=N][&after=NEXT]   its report history, oldest first
GET|PUT /api/v1/rooms/{site}/{room}/zone   the room's time zone: {"zone": "Asia/Makassar"}
POST /api/v1/rooms/{site}/{room}/checks[?wait=90s]
                                  check a room now (body, optional: {"checks": ["host"], "timeout": "2m"})
GET /api/v1/checks/{id}           a check's status and verdict
POST /api/v1/rooms/{site}/{room}/sessions   add a meeting: {"title", "start", "end", "organizer"} (RFC 3339)
GET /api/v1/sessions?from=&to=&site=&room=  meetings (RFC 3339 bounds)
GET|PUT|DELETE /api/v1/sessions/{id}        one meeting
GET /healthz                      the process is up
GET /readyz                       the controller is connected to its MQTT broker
`)
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.Ready != nil {
		if err := s.Ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	fmt.Fprintln(w, "ready")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "<= 70 %" as it is, for people reading with curl
	_ = enc.Encode(v)        // the client went away; nothing to tell it
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// decodeBody reads the request's body, one JSON object of at most limit
// bytes, into v; it refuses unknown fields and anything after the object.
// With optional, an empty body (however sent) leaves v as it was.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any, optional bool) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if optional && errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("more after the JSON object")
	}
	return nil
}
