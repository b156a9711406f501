package api

import (
	"net/http"

	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/wire"
)

// CalendarFeeds tells the state of the rooms' iCalendar feeds.
type CalendarFeeds interface {
	States() []sessions.FeedState
}

// listCalendars answers GET /api/v1/calendars[?site=&room=]: each room's
// feed with its last poll, status and error, sessions, and the events it
// skipped with their reasons, so a technician sees "3 events skipped:
// unknown time zone X" without reading the controller's log.
func (s *Server) listCalendars(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, p := range []string{"site", "room"} {
		if v := q.Get(p); v != "" {
			if err := wire.CheckName(p, v); err != nil {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
		}
	}
	out := []sessions.FeedState{}
	if s.Calendars != nil {
		for _, st := range s.Calendars.States() {
			if (q.Get("site") == "" || st.Site == q.Get("site")) && (q.Get("room") == "" || st.Room == q.Get("room")) && s.Shard.Owns(st.Site) {
				out = append(out, st)
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"calendars": out})
}
