// Package api serves the controller's HTTP interface: the JSON API, the
// Prometheus metrics and health endpoints.
package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/siaprapat/siaprapat/agent/report"
	"github.com/siaprapat/siaprapat/controller/fleet"
)

// Server holds what the handlers need.
type Server struct {
	Fleet    *fleet.Fleet
	Gatherer prometheus.Gatherer
	// Ready reports whether the controller can take reports (its MQTT
	// session is up); /readyz answers 503 while it cannot.
	Ready func() error
	Log   *slog.Logger
}

// Handler returns the HTTP routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.Log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /api/v1/rooms", s.listRooms)
	mux.HandleFunc("GET /api/v1/rooms/{site}/{room}", s.getRoom)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no API endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, `siaprapat controller

GET /metrics                      Prometheus metrics
GET /api/v1/rooms                 every room with its state
GET /api/v1/rooms/{site}/{room}   one room with its newest report
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

// Problem is a rule that did not pass.
type Problem struct {
	Check   string         `json:"check"`
	Target  string         `json:"target"`
	Rule    string         `json:"rule"`
	Verdict report.Verdict `json:"verdict"`
	Reason  string         `json:"reason,omitempty"`
}

// RoomSummary is a room in the list.
type RoomSummary struct {
	Site         string      `json:"site"`
	Room         string      `json:"room"`
	State        fleet.State `json:"state"`
	Since        time.Time   `json:"since"`
	AgentStatus  string      `json:"agent_status,omitempty"`
	LastReportAt *time.Time  `json:"last_report_at,omitempty"`
	Problems     []Problem   `json:"problems,omitempty"`
}

// RoomDetail is one room with its newest report.
type RoomDetail struct {
	RoomSummary
	StatusAt   *time.Time     `json:"status_at,omitempty"`
	ReceivedAt *time.Time     `json:"received_at,omitempty"`
	FirstSeen  time.Time      `json:"first_seen"`
	Report     *report.Report `json:"report,omitempty"`
}

func summary(v fleet.View) RoomSummary {
	s := RoomSummary{Site: v.Site, Room: v.Room.Room, State: v.State, Since: v.Since, AgentStatus: v.AgentStatus}
	if v.Report != nil {
		t := v.Report.MeasuredAt
		s.LastReportAt = &t
		for _, c := range v.Report.Checks {
			if c.Verdict == report.Error && len(c.Rules) == 0 {
				s.Problems = append(s.Problems, Problem{Check: c.Check, Target: c.Target, Verdict: c.Verdict, Reason: c.Reason})
			}
			for _, r := range c.Rules {
				if r.Verdict == report.Warn || r.Verdict == report.Fail || r.Verdict == report.Error {
					s.Problems = append(s.Problems, Problem{Check: c.Check, Target: c.Target, Rule: r.Rule, Verdict: r.Verdict, Reason: r.Reason})
				}
			}
		}
	}
	return s
}

func (s *Server) listRooms(w http.ResponseWriter, _ *http.Request) {
	views := s.Fleet.Rooms()
	out := struct {
		FreshnessSeconds float64       `json:"freshness_seconds"`
		Rooms            []RoomSummary `json:"rooms"`
	}{s.Fleet.Freshness().Seconds(), make([]RoomSummary, 0, len(views))}
	for _, v := range views {
		out.Rooms = append(out.Rooms, summary(v))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getRoom(w http.ResponseWriter, r *http.Request) {
	site, room := r.PathValue("site"), r.PathValue("room")
	if err := report.CheckName("site", site); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := report.CheckName("room", room); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	v, ok := s.Fleet.Get(site, room)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("room %s/%s is not known: no agent has reported for it", site, room))
		return
	}
	d := RoomDetail{RoomSummary: summary(v), FirstSeen: v.FirstSeen, Report: v.Report}
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

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to tell it
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
