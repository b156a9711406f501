package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/siaprapat/siaprapat/controller/sessions"
)

// sessionBody is what a client sends to create or change a session.
type sessionBody struct {
	Title     string    `json:"title"`
	Organizer string    `json:"organizer"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
}

func readSession(w http.ResponseWriter, r *http.Request) (sessionBody, bool) {
	var b sessionBody
	if err := decodeBody(w, r, 64<<10, &b, false); err != nil {
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
