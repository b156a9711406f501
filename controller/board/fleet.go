package board

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/siaprapat/siaprapat/controller/alerts"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/controller/sessions"
)

// fleetData is the fleet page: sites with counts by state, the rooms of
// this page as tiles grouped by site, and the next day's meetings.
type fleetData struct {
	*page
	Site, State, Q string // the filter
	Per            int    // rooms a page when not the default; 0 otherwise
	States         []stateCount
	Sites          []siteRow
	Groups         []roomGroup
	Total          int // rooms in the fleet
	Matching       int // rooms the filter keeps
	First, Last    int // 1-based, of the rooms shown
	PageN, Pages   int
	PrevURL        string
	NextURL        string
	Meetings       []meetingRow
	MoreMeetings   int
}

type stateCount struct {
	State   fleet.State
	N       int
	URL     string
	Current bool
}

type siteRow struct {
	Site    string
	Total   int
	Counts  []stateCount
	URL     string
	Current bool
}

type roomGroup struct {
	Site  string
	Rooms []tile
}

type tile struct {
	Site, Room, URL string
	State           fleet.State
	Since           string
	Cause           string // the first cause, in the page's language
	More            int    // further causes
}

// meetingRow is a meeting with its room's readiness now.
type meetingRow struct {
	Site, Room, RoomURL string
	Title, Organizer    string
	Start, End          string // in the room's zone
	Day                 string // set on the first meeting of each day, on the meetings page
	UnderWay, Over      bool
	State               fleet.State
	Causes              []string
	Alert               string // set when an alert fires for it
	Checks              string // when the pre-meeting checks run
	LastCheck           string // what the newest pre-meeting check found
	Source              string
}

// maxMeetings bounds the fleet page's list of next meetings.
const maxMeetings = 30

// fleetQuery is the fleet page's address with a filter and a page.
func fleetQuery(site, state, q string, per, pageN int) string {
	v := url.Values{}
	if site != "" {
		v.Set("site", site)
	}
	if state != "" {
		v.Set("state", state)
	}
	if q != "" {
		v.Set("q", q)
	}
	if per != 0 {
		v.Set("per", strconv.Itoa(per))
	}
	if pageN > 1 {
		v.Set("page", strconv.Itoa(pageN))
	}
	if len(v) == 0 {
		return "/"
	}
	return "/?" + v.Encode()
}

// RoomURL is the address of a room's page.
func RoomURL(site, room string) string {
	return "/rooms/" + url.PathEscape(site) + "/" + url.PathEscape(room)
}

func (b *Board) fleetPage(w http.ResponseWriter, r *http.Request, v *visit) {
	q := r.URL.Query()
	d := fleetData{page: b.page(r, v, "fleet", "fleet.title"), Site: q.Get("site"), State: q.Get("state"), Q: strings.TrimSpace(q.Get("q"))}
	d.LiveEvery = 5000
	per := PageSize
	if n, err := strconv.Atoi(q.Get("per")); err == nil && n > 0 {
		per = min(n, MaxPageSize)
		if per != PageSize {
			d.Per = per
		}
	}
	d.PageN = 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 {
		d.PageN = n
	}
	valid := false
	for _, s := range fleet.States {
		valid = valid || string(s) == d.State
	}
	if !valid {
		d.State = ""
	}
	needle := strings.ToLower(d.Q)
	match := func(site, room string) bool {
		return needle == "" || strings.Contains(strings.ToLower(site+"/"+room), needle)
	}

	views := b.cfg.Fleet.Rooms() // sorted by site and room
	d.Total = len(views)
	totals := map[fleet.State]int{}
	sites := map[string]map[fleet.State]int{}
	var siteOrder []string
	var kept []fleet.View
	for _, v := range views {
		counts := sites[v.Site]
		if counts == nil {
			counts = map[fleet.State]int{}
			sites[v.Site] = counts
			siteOrder = append(siteOrder, v.Site)
		}
		counts[v.State]++
		if (d.Site != "" && v.Site != d.Site) || !match(v.Site, v.Room.Room) {
			continue
		}
		totals[v.State]++
		if d.State == "" || string(v.State) == d.State {
			kept = append(kept, v)
		}
	}
	for _, s := range fleet.States {
		d.States = append(d.States, stateCount{State: s, N: totals[s], Current: string(s) == d.State,
			URL: fleetQuery(d.Site, string(s), d.Q, d.Per, 1)})
	}
	for _, site := range siteOrder {
		row := siteRow{Site: site, Current: site == d.Site, URL: fleetQuery(site, d.State, d.Q, d.Per, 1)}
		for _, s := range fleet.States {
			n := sites[site][s]
			row.Total += n
			row.Counts = append(row.Counts, stateCount{State: s, N: n, URL: fleetQuery(site, string(s), d.Q, d.Per, 1)})
		}
		d.Sites = append(d.Sites, row)
	}

	d.Matching = len(kept)
	d.Pages = max(1, (len(kept)+per-1)/per)
	d.PageN = min(d.PageN, d.Pages)
	lo, hi := (d.PageN-1)*per, min(d.PageN*per, len(kept))
	if lo < hi {
		d.First, d.Last = lo+1, hi
	}
	if d.PageN > 1 {
		d.PrevURL = fleetQuery(d.Site, d.State, d.Q, d.Per, d.PageN-1)
	}
	if d.PageN < d.Pages {
		d.NextURL = fleetQuery(d.Site, d.State, d.Q, d.Per, d.PageN+1)
	}
	std := b.cfg.Standard
	for _, v := range kept[lo:hi] {
		loc := b.cfg.Zone(v.Site, v.Room.Room)
		t := tile{Site: v.Site, Room: v.Room.Room, URL: RoomURL(v.Site, v.Room.Room), State: v.State, Since: d.Clock(v.Since, loc)}
		if v.State != fleet.Ready {
			causes := readiness.OfRoom(&v, time.Time{}, readiness.Context{Standard: std, Loc: loc, Now: d.now})
			if len(causes) > 0 {
				t.Cause, t.More = d.Cause(causes[0]), len(causes)-1
			}
		}
		if n := len(d.Groups); n == 0 || d.Groups[n-1].Site != v.Site {
			d.Groups = append(d.Groups, roomGroup{Site: v.Site})
		}
		g := &d.Groups[len(d.Groups)-1]
		g.Rooms = append(g.Rooms, t)
	}

	list := b.cfg.Sessions.List(sessions.Filter{From: d.now, To: d.now.Add(24 * time.Hour), Site: d.Site})
	firing := b.firingBySession()
	for _, s := range list {
		if !match(s.Site, s.Room) {
			continue
		}
		if len(d.Meetings) == maxMeetings {
			d.MoreMeetings++
			continue
		}
		d.Meetings = append(d.Meetings, b.meeting(d.page, s, firing))
	}
	b.render(w, r, http.StatusOK, "fleet", d)
}

// firingBySession maps session ids to the alerts firing for them.
func (b *Board) firingBySession() map[string]alerts.Alert {
	out := map[string]alerts.Alert{}
	if b.cfg.Alerts == nil {
		return out
	}
	for _, a := range b.cfg.Alerts.Firing() {
		out[a.Session.ID] = a
	}
	return out
}

// meeting is a session with its room's readiness now (the causes the
// alerts name), and its alert when one fires.
func (b *Board) meeting(p *page, s sessions.Session, firing map[string]alerts.Alert) meetingRow {
	loc := b.cfg.Zone(s.Site, s.Room)
	m := meetingRow{Site: s.Site, Room: s.Room, RoomURL: RoomURL(s.Site, s.Room), Title: s.Title, Organizer: s.Organizer,
		Start: p.Clock(s.Start, loc), End: p.Clock(s.End, loc), UnderWay: !p.now.Before(s.Start) && p.now.Before(s.End),
		Over: !p.now.Before(s.End), Source: s.Source}
	at := readiness.Context{Standard: b.cfg.Standard, Loc: loc, Now: p.now}
	var causes []readiness.Cause
	if v, ok := b.cfg.Fleet.Get(s.Site, s.Room); ok {
		m.State = v.State
		causes = readiness.OfRoom(&v, time.Time{}, at)
	} else {
		m.State = fleet.Unknown
		causes = readiness.OfRoom(nil, b.cfg.Fleet.RemovedAt(s.Site, s.Room), at)
	}
	for _, c := range causes {
		m.Causes = append(m.Causes, p.Cause(c))
	}
	if a, ok := firing[s.ID]; ok && a.Site == s.Site && a.Room == s.Room {
		m.Alert = p.T("sessions.alert")
	}
	return m
}
