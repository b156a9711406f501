package board

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/siaprapat/siaprapat/controller/sessions"
)

// sessionsData is the meetings page: a week of meetings by day, each with
// its room's readiness, its pre-meeting checks and its alert.
type sessionsData struct {
	*page
	Days                          []dayGroup
	None                          string
	EarlierURL, LaterURL, FromURL string
}

type dayGroup struct {
	Day      string
	Meetings []meetingRow
}

// sessionsPage shows the 7 days from ?from=YYYY-MM-DD (today by default),
// days counted in the controller's default zone; each meeting is listed
// under its day and at its time in its room's zone.
func (b *Board) sessionsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	d := sessionsData{page: b.page(r, v, "sessions", "sessions.title")}
	d.LiveEvery = 10000
	home := b.cfg.Zone("", "")
	n := d.now.In(home)
	from := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, home)
	if f, err := time.ParseInLocation("2006-01-02", r.URL.Query().Get("from"), home); err == nil {
		from = f
	}
	to := from.AddDate(0, 0, 7)
	d.EarlierURL = "/sessions?from=" + from.AddDate(0, 0, -7).Format("2006-01-02")
	d.LaterURL = "/sessions?from=" + to.Format("2006-01-02")
	d.FromURL = "/sessions"
	d.None = d.T("sessions.none", d.Date(from, home), d.Date(to.Add(-time.Second), home))

	firing := b.firingBySession()
	byDay := map[string]*dayGroup{}
	var keys []string
	for _, s := range b.cfg.Sessions.List(sessions.Filter{From: from, To: to}) {
		loc := b.cfg.Zone(s.Site, s.Room)
		key := s.Start.In(loc).Format("2006-01-02")
		g := byDay[key]
		if g == nil {
			g = &dayGroup{Day: d.Date(s.Start, loc)}
			byDay[key] = g
			keys = append(keys, key)
		}
		m := b.meeting(d.page, s, firing)
		b.premeeting(d.page, &m, s)
		g.Meetings = append(g.Meetings, m)
	}
	slices.Sort(keys)
	for _, k := range keys {
		d.Days = append(d.Days, *byDay[k])
	}
	b.render(w, r, http.StatusOK, "sessions", d)
}

// premeeting says when a meeting's room is checked before it, and what the
// newest of those checks found.
func (b *Board) premeeting(p *page, m *meetingRow, s sessions.Session) {
	if b.cfg.Planner == nil {
		return
	}
	loc := b.cfg.Zone(s.Site, s.Room)
	var at []string
	for _, lead := range b.cfg.Planner.LeadTimes(s.Site, s.Room) {
		at = append(at, p.Clock(s.Start.Add(-lead), loc))
	}
	if len(at) > 0 {
		m.Checks = p.T("sessions.checksat", strings.Join(at, ", "))
	}
	if id, ok := b.cfg.Planner.LastCheck(s.ID); ok {
		if c, ok := b.cfg.Commands.Get(id); ok {
			m.LastCheck = p.T("sessions.lastcheck", p.CheckStatus(c, loc))
		}
	}
}
