// Package api serves the controller's HTTP interface: the JSON API, the
// Prometheus metrics and health endpoints.
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/siaprapat/siaprapat/controller/agents"
	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/history"
	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/controller/shard"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// Server holds what the handlers need.
type Server struct {
	Fleet    *fleet.Fleet
	History  *history.History // may be nil: no report history
	Commands *commands.Dispatcher
	Sessions *sessions.Store
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

// bearer returns the request's bearer token, "" when it has none.
func bearer(r *http.Request) string {
	scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(got)
}

func tokenIs(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="siaprapat"`)
	writeError(w, http.StatusUnauthorized, msg)
}

// CanRead reports whether a request with token may read, by the API's
// rule: any token (or none) when no read token is set, else the read or the
// admin token. The board signs people in by it.
func (s *Server) CanRead(_ *http.Request, token string) bool {
	return s.ReadToken == "" || tokenIs(token, s.ReadToken) || tokenIs(token, s.Token)
}

// CanWrite reports whether a request with token may change something, by
// the API's rule: the admin token when one is set; without one, a request
// from this machine (loopback), or any with OpenWrites.
func (s *Server) CanWrite(r *http.Request, token string) bool {
	if s.Token != "" {
		return tokenIs(token, s.Token)
	}
	return s.OpenWrites || loopback(r)
}

// authorized requires what CanWrite does.
func (s *Server) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.CanWrite(r, bearer(r)) {
			if s.Token != "" {
				unauthorized(w, "this request changes something: send the controller's API token as 'Authorization: Bearer TOKEN'")
			} else {
				writeError(w, http.StatusForbidden, "this controller has no admin token, so it takes requests that change something from its own machine only: start it with --api-token (or --api-open-writes to take them from anyone)")
			}
			return
		}
		h(w, r)
	}
}

// loopback reports whether a request came from this machine.
func loopback(r *http.Request) bool {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// reader requires the read or the admin token, when a read token is set.
func (s *Server) reader(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.CanRead(r, bearer(r)) {
			unauthorized(w, "reading this controller takes a token: send its read or admin API token as 'Authorization: Bearer TOKEN'")
			return
		}
		h(w, r)
	}
}

// admin requires the admin token; without one configured, only this
// machine may call (credentials must not be handed to anyone who asks).
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Agents == nil {
			writeError(w, http.StatusNotFound, "this controller does not enrol agents: it uses an external broker, whose own users and ACL apply")
			return
		}
		if s.Token != "" {
			s.authorized(h)(w, r)
			return
		}
		if !loopback(r) {
			writeError(w, http.StatusForbidden, "enrolling agents from another machine needs the admin token: start the controller with --api-token")
			return
		}
		h(w, r)
	}
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

// RoomSummary is a room in the list. Problems are why it is not ready or
// only degraded (readiness.Cause: the same causes alerts, checks and
// /metrics show); an empty list for a ready room.
type RoomSummary struct {
	Site         string            `json:"site"`
	Room         string            `json:"room"`
	State        fleet.State       `json:"state"`
	Since        time.Time         `json:"since"`
	AgentStatus  string            `json:"agent_status,omitempty"`
	LastReportAt *time.Time        `json:"last_report_at,omitempty"`
	Problems     []readiness.Cause `json:"problems"`
}

// RoomDetail is one room with its newest report.
type RoomDetail struct {
	RoomSummary
	Zone       string       `json:"zone"` // the IANA zone its times are shown in
	StatusAt   *time.Time   `json:"status_at,omitempty"`
	ReceivedAt *time.Time   `json:"received_at,omitempty"`
	FirstSeen  time.Time    `json:"first_seen"`
	Report     *wire.Report `json:"report,omitempty"`
}

// context is what causes' words need for a room, as of now.
func (s *Server) context(site, room string) readiness.Context {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	at := readiness.Context{Standard: s.Standard, Now: now()}
	if s.Zones != nil {
		at.Loc, _ = s.Zones.Zone(site, room)
	}
	return at
}

func (s *Server) summary(v fleet.View) RoomSummary {
	out := RoomSummary{Site: v.Site, Room: v.Room.Room, State: v.State, Since: v.Since, AgentStatus: v.AgentStatus,
		Problems: readiness.OfRoom(&v, time.Time{}, s.context(v.Site, v.Room.Room))}
	if out.Problems == nil {
		out.Problems = []readiness.Cause{}
	}
	if v.Report != nil {
		t := v.Report.MeasuredAt
		out.LastReportAt = &t
	}
	return out
}

func (s *Server) listRooms(w http.ResponseWriter, _ *http.Request) {
	views := s.Fleet.Rooms()
	out := struct {
		FreshnessSeconds float64       `json:"freshness_seconds"`
		Rooms            []RoomSummary `json:"rooms"`
	}{s.Fleet.Freshness().Seconds(), make([]RoomSummary, 0, len(views))}
	for _, v := range views {
		out.Rooms = append(out.Rooms, s.summary(v))
	}
	writeJSON(w, http.StatusOK, out)
}

// unknownRoom answers 404 for a room the fleet does not know, saying when
// its agent was removed if it was.
func (s *Server) unknownRoom(w http.ResponseWriter, site, room string) {
	if at := s.Fleet.RemovedAt(site, room); !at.IsZero() {
		writeError(w, http.StatusNotFound, fmt.Sprintf("room %s/%s is not known: its agent was removed at %s", site, room, at.UTC().Format(time.RFC3339)))
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("room %s/%s is not known: no agent has reported for it", site, room))
}

// roomPath reads the room of a /rooms/{site}/{room}/ path, answering 400
// for a bad name and 421 for a site another shard owns.
func (s *Server) roomPath(w http.ResponseWriter, r *http.Request) (site, room string, ok bool) {
	site, room = r.PathValue("site"), r.PathValue("room")
	for _, f := range []struct{ field, v string }{{"site", site}, {"room", room}} {
		if err := wire.CheckName(f.field, f.v); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return "", "", false
		}
	}
	if !s.Shard.Owns(site) {
		writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf("site %s belongs to another shard: this controller owns sites %s; ask the controller whose --shard includes %s", site, s.Shard, site))
		return "", "", false
	}
	return site, room, true
}

func (s *Server) getRoom(w http.ResponseWriter, r *http.Request) {
	site, room, ok := s.roomPath(w, r)
	if !ok {
		return
	}
	v, ok := s.Fleet.Get(site, room)
	if !ok {
		s.unknownRoom(w, site, room)
		return
	}
	// The fleet keeps what readiness needs of a report; the report
	// itself, whole, is in its store.
	rep, err := s.Fleet.NewestReport(site, room)
	if err != nil {
		s.Log.Error("could not read a room's newest report", "site", site, "room", room, "err", err)
		writeError(w, http.StatusInternalServerError, "could not read the room's newest report; see the controller's log")
		return
	}
	d := RoomDetail{RoomSummary: s.summary(v), Zone: s.context(site, room).Loc.String(), FirstSeen: v.FirstSeen, Report: rep}
	if s.Zones == nil {
		d.Zone = readiness.Location.String()
	}
	if !v.StatusAt.IsZero() {
		t := v.StatusAt
		d.StatusAt = &t
	}
	if !v.ReceivedAt.IsZero() {
		t := v.ReceivedAt
		d.ReceivedAt = &t
	}
	writeJSON(w, http.StatusOK, d)
}

// ReportList is a page of a room's report history, oldest first. When More
// is true, ask again with after=Next: no report is skipped or repeated,
// however many share a measured_at.
type ReportList struct {
	Site    string          `json:"site"`
	Room    string          `json:"room"`
	Since   time.Time       `json:"since"`
	Reports []history.Entry `json:"reports"`
	More    bool            `json:"more"`
	Next    string          `json:"next,omitempty"`
}

func (s *Server) listReports(w http.ResponseWriter, r *http.Request) {
	site, room, ok := s.roomPath(w, r)
	if !ok {
		return
	}
	if s.History == nil {
		writeError(w, http.StatusNotFound, "this controller keeps no report history")
		return
	}
	if _, ok := s.Fleet.Get(site, room); !ok {
		s.unknownRoom(w, site, room)
		return
	}
	q := r.URL.Query()
	var query history.Query
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("since %q: want an RFC 3339 time such as 2026-11-23T08:00:00Z", v))
			return
		}
		query.Since = t
	}
	query.After = q.Get("after")
	query.Limit = 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > history.MaxList {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want a whole number from 1 to %d", v, history.MaxList))
			return
		}
		query.Limit = n
	}
	page, err := s.History.List(site, room, query)
	switch {
	case errors.Is(err, history.ErrCursor):
		writeError(w, http.StatusBadRequest, err.Error()+": give the next of the page before, as it was")
		return
	case err != nil:
		s.Log.Error("could not read the report history", "site", site, "room", room, "err", err)
		writeError(w, http.StatusInternalServerError, "could not read the report history; see the controller's log")
		return
	}
	if page.Reports == nil {
		page.Reports = []history.Entry{}
	}
	writeJSON(w, http.StatusOK, ReportList{Site: site, Room: room, Since: query.Since, Reports: page.Reports, More: page.Next != "", Next: page.Next})
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

// MaxWait bounds ?wait= on a check.
const MaxWait = commands.MaxTimeout + time.Minute

// startCheck sends a check command to the room's agent; with ?wait=D it
// answers when the check has finished (200) or D has passed (202, pending).
func (s *Server) startCheck(w http.ResponseWriter, r *http.Request) {
	site, room, ok := s.roomPath(w, r)
	if !ok {
		return
	}
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > MaxWait {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("wait=%q: want a duration from 0s to %v, e.g. 90s", v, MaxWait))
			return
		}
		wait = d
	}
	var body struct {
		Checks  []string `json:"checks"`
		Timeout string   `json:"timeout"`
	}
	if r.ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			writeError(w, http.StatusBadRequest, "request body: "+err.Error()+`; want {"checks": ["host"], "timeout": "2m"} or nothing`)
			return
		}
	}
	var timeout time.Duration
	if body.Timeout != "" {
		d, err := time.ParseDuration(body.Timeout)
		if err != nil || d <= 0 || d > commands.MaxTimeout {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("timeout %q: want a duration from 1s to %v", body.Timeout, commands.MaxTimeout))
			return
		}
		timeout = d
	}
	c, err := s.Commands.Start(site, room, body.Checks, timeout)
	switch {
	case errors.Is(err, commands.ErrUnknownRoom):
		writeError(w, http.StatusNotFound, err.Error())
		return
	case errors.Is(err, commands.ErrBusy):
		writeError(w, http.StatusTooManyRequests, err.Error())
		return
	case errors.Is(err, commands.ErrCannotSend):
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		c, _ = s.Commands.Wait(ctx, c.ID)
		cancel()
	}
	s.writeCheck(w, c)
}

func (s *Server) getCheck(w http.ResponseWriter, r *http.Request) {
	c, ok := s.Commands.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no check %q (finished checks are kept for a while, not for ever)", r.PathValue("id")))
		return
	}
	s.writeCheck(w, c)
}

// CheckResult is a check as the API answers it: the check, and why it found
// the room not ready or degraded (readiness.Cause; empty while pending and
// for a ready room).
type CheckResult struct {
	commands.Check
	Causes []readiness.Cause `json:"causes"`
}

func (s *Server) writeCheck(w http.ResponseWriter, c commands.Check) {
	code := http.StatusOK
	if c.Status == commands.Pending {
		code = http.StatusAccepted
	}
	out := CheckResult{Check: c, Causes: readiness.OfCommand(c, s.context(c.Site, c.Room))}
	if out.Causes == nil {
		out.Causes = []readiness.Cause{}
	}
	writeJSON(w, code, out)
}

// zoneBody is a room's time zone, as the API takes and gives it.
type zoneBody struct {
	Zone   string `json:"zone"`             // an IANA name: Asia/Jakarta, Asia/Makassar, Asia/Jayapura
	Source string `json:"source,omitempty"` // rooms_file, api or default
}

func (s *Server) getZone(w http.ResponseWriter, r *http.Request) {
	site, room, ok := s.roomPath(w, r)
	if !ok {
		return
	}
	if s.Zones == nil {
		writeJSON(w, http.StatusOK, zoneBody{Zone: readiness.Location.String(), Source: "default"})
		return
	}
	loc, source := s.Zones.Zone(site, room)
	writeJSON(w, http.StatusOK, zoneBody{Zone: loc.String(), Source: source})
}

// putZone sets the zone of a room the rooms file gives none (a room only
// the API knows): its meetings' times are shown in it.
func (s *Server) putZone(w http.ResponseWriter, r *http.Request) {
	site, room, ok := s.roomPath(w, r)
	if !ok {
		return
	}
	if s.Zones == nil {
		writeError(w, http.StatusNotFound, "this controller keeps no room zones")
		return
	}
	var b zoneBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error()+`; want {"zone": "Asia/Makassar"} ("" clears it)`)
		return
	}
	switch err := s.Zones.SetZone(site, room, b.Zone); {
	case errors.Is(err, ErrZoneFromFile):
		writeError(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	loc, source := s.Zones.Zone(site, room)
	writeJSON(w, http.StatusOK, zoneBody{Zone: loc.String(), Source: source})
}

// sessionBody is what a client sends to create or change a session.
type sessionBody struct {
	Title     string    `json:"title"`
	Organizer string    `json:"organizer"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
}

func readSession(w http.ResponseWriter, r *http.Request) (sessionBody, bool) {
	var b sessionBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error()+`; want {"title": "...", "start": "2026-11-24T09:00:00+07:00", "end": "2026-11-24T10:00:00+07:00", "organizer": "..."}`)
		return b, false
	}
	return b, true
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	site, room, ok := s.roomPath(w, r)
	if !ok {
		return
	}
	b, ok := readSession(w, r)
	if !ok {
		return
	}
	sess, err := s.Sessions.Put(sessions.Session{Site: site, Room: room, Title: b.Title, Organizer: b.Organizer, Start: b.Start, End: b.End, Source: "api"})
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, sess)
}

func (s *Server) updateSession(w http.ResponseWriter, r *http.Request) {
	old, ok := s.Sessions.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no session %q", r.PathValue("id")))
		return
	}
	if old.Source != "api" {
		writeError(w, http.StatusConflict, "session "+old.ID+" comes from "+old.Source+"; change it there")
		return
	}
	b, ok := readSession(w, r)
	if !ok {
		return
	}
	old.Title, old.Organizer, old.Start, old.End = b.Title, b.Organizer, b.Start, b.End
	sess, err := s.Sessions.Put(old)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if old, ok := s.Sessions.Get(id); ok && old.Source != "api" {
		writeError(w, http.StatusConflict, "session "+id+" comes from "+old.Source+"; remove it there")
		return
	}
	switch err := s.Sessions.Delete(id); {
	case errors.Is(err, sessions.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("no session %q", id))
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.Sessions.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no session %q", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f sessions.Filter
	for _, p := range []struct {
		name string
		into *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("%s=%q: want an RFC 3339 time, e.g. 2026-11-24T00:00:00+07:00", p.name, v))
				return
			}
			*p.into = t
		}
	}
	f.Site, f.Room = q.Get("site"), q.Get("room")
	list := s.Sessions.List(f)
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
}
