package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/history"
	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/wire"
)

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
	// Waiting, when not zero, counts reports (of every room) that could not
	// be written yet (a full disk) and so are not in this list.
	Waiting int `json:"waiting,omitempty"`
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
	if _, ok := s.Fleet.Get(site, room); !ok && !s.History.Has(site, room) {
		// (A room the fleet lost, to serve --repair of its store, still
		// has its history.)
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
	if page.Waiting > 0 {
		s.Log.Warn("listed the report history without the reports that could not be written yet", "site", site, "room", room, "waiting", page.Waiting)
	}
	writeJSON(w, http.StatusOK, ReportList{Site: site, Room: room, Since: query.Since, Reports: page.Reports, More: page.Next != "", Next: page.Next, Waiting: page.Waiting})
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
	if err := decodeBody(w, r, 4<<10, &b, false); err != nil {
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
