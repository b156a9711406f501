package board

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// roomData is one room's page.
type roomData struct {
	*page
	Site, Room  string
	URL         string
	Zone        string
	State       fleet.State
	Since       string
	Agent       string
	LastReport  string
	FirstSeen   string
	Causes      []causeRow
	Checks      []checkRow
	Peripherals []wire.Peripheral
	Timeline    []timelineRow
	Upcoming    []meetingRow
	Check       *checkView // the check this page follows (?check=ID)
	CheckError  string
	HasReport   bool
}

// causeRow is one of the room's causes with its verdict, so that what
// blocks the room (fail, error) reads apart from a warning.
type causeRow struct {
	Text    string
	Verdict wire.Verdict
}

// checkRow is one check of the newest report, with its rules.
type checkRow struct {
	Name, Target string
	Verdict      wire.Verdict
	Reason       string // the cause's words when it is one, else the agent's reason
	Rules        []ruleRow
}

type ruleRow struct {
	Rule     string
	Name     string // what the rule measures, in words; empty when not known
	Verdict  wire.Verdict
	Observed string
	Want     string
	Reason   string // the cause's words when it is one, else the agent's reason
}

type timelineRow struct {
	At      string
	Ago     string
	Verdict wire.RoomVerdict
	First   string // the first problem, in the page's language
	More    int    // problems besides the first
}

type checkView struct {
	ID      string
	Pending bool
	Status  string
	Verdict wire.RoomVerdict
	Causes  []string
}

// timelineLength is how many of a room's reports its page lists.
const timelineLength = 20

// roomFromPath reads a /rooms/{site}/{room} path; false (with an answer
// sent) for a bad name.
func (b *Board) roomFromPath(w http.ResponseWriter, r *http.Request) (site, room string, ok bool) {
	site, room = r.PathValue("site"), r.PathValue("room")
	for _, f := range []struct{ field, v string }{{"site", site}, {"room", room}} {
		if err := wire.CheckName(f.field, f.v); err != nil {
			b.message(w, r, http.StatusBadRequest, "notfound.title", "badname.text", err.Error())
			return "", "", false
		}
	}
	return site, room, true
}

func (b *Board) roomPage(w http.ResponseWriter, r *http.Request, v *visit) {
	site, room, ok := b.roomFromPath(w, r)
	if !ok {
		return
	}
	p := b.page(r, v, "fleet", "room.title", site+"/"+room)
	loc := b.cfg.Zone(site, room)
	view, known := b.cfg.Fleet.Get(site, room)
	if !known {
		text := p.T("room.notfound", site+"/"+room)
		if at := b.cfg.Fleet.RemovedAt(site, room); !at.IsZero() {
			text = p.T("room.removed", site+"/"+room, p.When(at, loc))
		}
		b.render(w, r, http.StatusNotFound, "message", struct {
			*page
			Text string
		}{p, text})
		return
	}
	at := readiness.Context{Standard: b.cfg.Standard, Loc: loc, Now: p.now}
	d := roomData{page: p, Site: site, Room: room, URL: RoomURL(site, room), Zone: zoneName(loc, p.now),
		State: view.State, Since: p.Clock(view.Since, loc), Agent: view.AgentStatus, FirstSeen: p.When(view.FirstSeen, loc)}
	d.LiveEvery = 5000
	causes := readiness.OfRoom(&view, time.Time{}, at)
	for _, c := range causes {
		d.Causes = append(d.Causes, causeRow{Text: p.Cause(c), Verdict: c.Verdict})
	}
	rep, err := b.cfg.Fleet.NewestReport(site, room) // whole, from the fleet's store
	if err != nil {
		b.cfg.Log.Error("board: read the room's newest report", "site", site, "room", room, "err", err)
	}
	if rep != nil {
		d.HasReport = true
		d.LastReport = p.Clock(rep.MeasuredAt, loc) + " (" + p.Ago(rep.MeasuredAt) + ")"
		d.Checks = checkRows(p, rep, readiness.OfReport(rep, at), b.cfg.Standard)
		d.Peripherals = rep.Peripherals
	}
	if b.cfg.History != nil {
		reps, err := b.cfg.History.Latest(site, room, timelineLength)
		if err != nil {
			b.cfg.Log.Error("board: read the report history", "site", site, "room", room, "err", err)
		}
		for _, rep := range reps {
			row := timelineRow{At: p.Clock(rep.MeasuredAt, loc), Ago: p.Ago(rep.MeasuredAt), Verdict: readiness.Verdict(rep)}
			if cs := readiness.OfReport(rep, at); len(cs) > 0 {
				row.First, row.More = p.Cause(cs[0]), len(cs)-1
			}
			d.Timeline = append(d.Timeline, row)
		}
	}
	firing := b.firingBySession()
	for _, s := range b.cfg.Sessions.List(sessions.Filter{Site: site, Room: room, From: p.now, To: p.now.Add(7 * 24 * time.Hour)}) {
		m := b.meeting(p, s, firing)
		m.Start = p.When(s.Start, loc)
		d.Upcoming = append(d.Upcoming, m)
	}
	q := r.URL.Query()
	if id := q.Get("check"); id != "" {
		c, ok := b.cfg.Commands.Get(id)
		if !ok || c.Site != site || c.Room != room {
			d.CheckError = p.T("room.checkunknown")
		} else {
			cv := &checkView{ID: c.ID, Pending: c.Status == commands.Pending, Status: p.CheckStatus(c, loc), Verdict: c.Verdict}
			for _, cause := range readiness.OfCommand(c, at) {
				cv.Causes = append(cv.Causes, p.Cause(cause))
			}
			d.Check = cv
			if cv.Pending {
				d.LiveEvery = 1000 // the answer comes within seconds
			}
		}
	}
	if e := q.Get("error"); e != "" {
		key := "check.err." + e
		if _, ok := phrases[key]; !ok {
			key = "check.err.other"
		}
		d.CheckError = p.T(key)
	}
	b.render(w, r, http.StatusOK, "room", d)
}

// checkRows lays out a report's checks and rules. A check or rule that is a
// cause is worded by the cause (readiness), never by the board.
func checkRows(p *page, rep *wire.Report, causes []readiness.Cause, std *standard.Standard) []checkRow {
	byKey := map[string]readiness.Cause{}
	for _, c := range causes {
		byKey[c.Check+"\x00"+c.Target+"\x00"+c.Rule] = c
	}
	var out []checkRow
	for _, c := range rep.Checks {
		row := checkRow{Name: p.CheckName(c.Check), Target: c.Target, Verdict: c.Verdict, Reason: c.Reason}
		if cause, ok := byKey[c.Check+"\x00"+c.Target+"\x00"]; ok {
			row.Reason = p.Cause(cause)
		}
		for _, rr := range c.Rules {
			rule := ruleRow{Rule: rr.Rule, Name: p.RuleName(std, c.Check, rr.Rule), Verdict: rr.Verdict, Want: rr.Want, Reason: rr.Reason}
			if p.Lang == Indonesian {
				rule.Want = readiness.WantID(rr.Want)
			}
			if rr.Observed != nil {
				rule.Observed = observed(std, rr.Rule, *rr.Observed)
				if p.Lang == Indonesian {
					rule.Observed = readiness.WantID(rule.Observed) // 17,2 GB; ya, tidak
				}
			}
			if cause, ok := byKey[c.Check+"\x00"+c.Target+"\x00"+rr.Rule]; ok {
				rule.Reason = p.Cause(cause)
			}
			row.Rules = append(row.Rules, rule)
		}
		out = append(out, row)
	}
	return out
}

// observed formats a rule's measurement with its unit, as the standard
// writes it.
func observed(std *standard.Standard, rule string, v float64) string {
	if std != nil {
		if r, ok := std.Rule(rule); ok {
			return standard.Format(r.Measurement, v)
		}
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// zoneName is a zone's abbreviation now and its IANA name: "WITA
// (Asia/Makassar)".
func zoneName(loc *time.Location, now time.Time) string {
	abbr, _ := now.In(loc).Zone()
	if abbr == loc.String() {
		return abbr
	}
	return abbr + " (" + loc.String() + ")"
}

// checkNow asks the room's agent to check the room, through the same
// dispatcher and the same admin rule as POST /api/v1/rooms/{site}/{room}/checks,
// and goes back to the room's page, which follows the check.
func (b *Board) checkNow(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	site, room, ok := b.roomFromPath(w, r)
	if !ok {
		return
	}
	v := b.visit(r)
	if !v.canWrite {
		b.message(w, r, http.StatusForbidden, "forbidden.title", "room.checkadmin")
		return
	}
	if !v.csrfOK(r) {
		b.message(w, r, http.StatusForbidden, "forbidden.title", "csrf.text")
		return
	}
	back := RoomURL(site, room)
	c, err := b.cfg.Commands.Start(site, room, nil, 0)
	if err != nil {
		code := "other"
		switch {
		case errors.Is(err, commands.ErrUnknownRoom):
			code = "unknown"
		case errors.Is(err, commands.ErrBusy):
			code = "busy"
		case errors.Is(err, commands.ErrCannotSend):
			code = "send"
		}
		b.cfg.Log.Warn("board: check not started", "site", site, "room", room, "err", err)
		http.Redirect(w, r, back+"?error="+code, http.StatusSeeOther)
		return
	}
	b.cfg.Log.Info("board: check started", "site", site, "room", room, "check", c.ID, "remote", r.RemoteAddr)
	http.Redirect(w, r, back+"?check="+url.QueryEscape(c.ID), http.StatusSeeOther)
}
