// Package premeeting prepares rooms for their meetings: at each lead time
// before a session it has the room's agent check the room, and from the first
// lead time until the session ends it watches the room's readiness, raising
// an alert (through package alerts) while the room is not ready. The alert
// is calm: it changes only when its causes do, an agent away for less than
// a grace period changes nothing, and it resolves only on a report measured
// after the failure that passes; a session that ends, is cancelled or moves
// ends its alert saying so.
package premeeting

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/alerts"
	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/controller/rooms"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// DefaultLeadTimes are when rooms are checked before a session.
var DefaultLeadTimes = []time.Duration{30 * time.Minute, 10 * time.Minute}

// DefaultOfflineGrace is how long an agent may be away (a restart, a
// package upgrade) before its room counts as offline for its meetings.
const DefaultOfflineGrace = 2 * time.Minute

// Options configure a Planner.
type Options struct {
	LeadTimes    []time.Duration // default DefaultLeadTimes
	Rooms        *rooms.Config   // rooms with lead times of their own; may be nil
	CheckTimeout time.Duration   // how long an agent has to answer; default 2 min
	Tick         time.Duration   // how often the schedule is looked at; default 1 s
	// Owns says which sites' sessions this planner checks (its controller's
	// shard); nil: every site.
	Owns func(site string) bool
	// Sending is how many checks are sent at once, each waiting for the
	// broker's acknowledgement; default DefaultSending.
	Sending int
	// OfflineGrace is how long an agent may be offline before its room
	// counts as offline for a session: within it the room is judged by its
	// newest report. Default DefaultOfflineGrace; negative: none.
	OfflineGrace time.Duration
	// Standard is the controller's standard: the limits the causes' words
	// quote. May be nil.
	Standard *standard.Standard
	// Zone is a room's time zone, for the times alerts show; nil, or a nil
	// answer, means WIB.
	Zone func(site, room string) *time.Location
	Now  func() time.Time // the clock Run steps by; time.Now when nil
	Log  *slog.Logger
}

// DefaultSending is how many checks the planner sends at once. A send waits
// for the broker's PUBACK (a millisecond or more); one after another, 10,000
// rooms whose checks fall due together would wait tens of seconds for the last.
const DefaultSending = 64

// Planner runs the pre-meeting checks and decides which alerts fire.
type Planner struct {
	opts     Options
	sessions *sessions.Store
	fleet    *fleet.Fleet
	commands *commands.Dispatcher
	alerts   *alerts.Manager

	mu        sync.Mutex
	started   map[string]bool // sessions whose start has been counted
	startedN  *prometheus.CounterVec
	triggered map[string]bool   // session id + lead time: check sent
	lastCheck map[string]string // session id -> id of its latest pre-meeting check
	resent    map[string]bool   // ids of checks that found the agent offline and were sent again
	next      map[string]upcoming
}

type upcoming struct {
	start time.Time
	ready bool
}

// New returns a planner.
func New(opts Options, s *sessions.Store, f *fleet.Fleet, d *commands.Dispatcher, a *alerts.Manager) *Planner {
	if len(opts.LeadTimes) == 0 {
		opts.LeadTimes = DefaultLeadTimes
	}
	opts.LeadTimes = slices.Clone(opts.LeadTimes)
	slices.Sort(opts.LeadTimes)
	slices.Reverse(opts.LeadTimes)
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = commands.DefaultTimeout
	}
	if opts.Tick <= 0 {
		opts.Tick = time.Second
	}
	if opts.Sending <= 0 {
		opts.Sending = DefaultSending
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.OfflineGrace == 0 {
		opts.OfflineGrace = DefaultOfflineGrace
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Planner{opts: opts, sessions: s, fleet: f, commands: d, alerts: a,
		started: map[string]bool{}, triggered: map[string]bool{}, lastCheck: map[string]string{}, resent: map[string]bool{}, next: map[string]upcoming{},
		startedN: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siaprapat_sessions_started_total",
			Help: "Sessions that started, by site and by whether their room was ready (true/false) at the start: the share a province reports.",
		}, []string{"site", "ready"})}
}

// Run looks at the schedule every tick until the context ends.
func (p *Planner) Run(ctx context.Context) {
	t := time.NewTicker(p.opts.Tick)
	defer t.Stop()
	for {
		p.Step(ctx, p.opts.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// leadTimes returns a room's lead times, longest first.
func (p *Planner) leadTimes(site, room string) []time.Duration {
	leads := slices.Clone(p.opts.Rooms.LeadTimes(site, room, p.opts.LeadTimes))
	slices.Sort(leads)
	slices.Reverse(leads)
	return leads
}

// LeadTimes are when a room is checked before each of its sessions,
// longest first.
func (p *Planner) LeadTimes(site, room string) []time.Duration { return p.leadTimes(site, room) }

// LastCheck is the id of the newest pre-meeting check sent for a session
// that has not ended; false when none was sent.
func (p *Planner) LastCheck(sessionID string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id, ok := p.lastCheck[sessionID]
	return id, ok
}

// window is the longest lead time of any room.
func (p *Planner) window() time.Duration {
	w := p.opts.LeadTimes[0]
	if p.opts.Rooms != nil {
		for _, r := range p.opts.Rooms.Rooms {
			for _, l := range r.LeadTimes {
				w = max(w, l)
			}
		}
	}
	return w
}

// owned keeps the sessions of the sites this planner checks.
func (p *Planner) owned(list []sessions.Session) []sessions.Session {
	if p.opts.Owns == nil {
		return list
	}
	return slices.DeleteFunc(list, func(s sessions.Session) bool { return !p.opts.Owns(s.Site) })
}

// Step sends the checks that are due and syncs the alerts, as of now.
func (p *Planner) Step(ctx context.Context, now time.Time) {
	window := p.window()
	list := p.owned(p.sessions.List(sessions.Filter{From: now, To: now.Add(window + p.opts.Tick)}))
	var due []dueCheck
	for _, s := range list {
		due = append(due, p.due(s, now)...)
	}
	due = append(due, p.again(list, now)...)
	p.send(due)
	var desired []alerts.Alert
	next := map[string]upcoming{}
	for _, s := range list {
		a := p.assess(s, now)
		p.countStart(s, now, a.ready)
		key := s.Site + "/" + s.Room
		if n, ok := next[key]; !ok || s.Start.Before(n.start) {
			next[key] = upcoming{start: s.Start, ready: a.ready}
		}
		if now.Before(s.Start.Add(-p.leadTimes(s.Site, s.Room)[0])) || p.alerts == nil {
			continue
		}
		firing, isFiring := p.alerts.Get(alerts.KeyFor(s))
		switch {
		case !a.ready:
			desired = append(desired, alerts.For(s, p.zone(s.Site, s.Room), a.blocking, a.failedAt))
		case isFiring && !a.recovered(firing.FailedAt):
			// Ready by a report no newer than the failure (the one read
			// again when an agent comes back): not a recovery yet.
			desired = append(desired, firing)
		}
	}
	// Rooms with a later session still show their next start: the
	// earliest, found without copying or sorting every session.
	later := map[string]sessions.Session{}
	p.sessions.Each(sessions.Filter{From: now}, func(s *sessions.Session) {
		if !s.Start.After(now) || (p.opts.Owns != nil && !p.opts.Owns(s.Site)) {
			return
		}
		key := s.Site + "/" + s.Room
		if _, ok := next[key]; ok {
			return
		}
		if l, ok := later[key]; !ok || s.Start.Before(l.Start) || (s.Start.Equal(l.Start) && s.ID < l.ID) {
			later[key] = *s
		}
	})
	for key, s := range later {
		next[key] = upcoming{start: s.Start, ready: p.assess(s, now).ready}
	}
	p.mu.Lock()
	p.next = next
	// Forget the sessions that are over.
	active := map[string]bool{}
	for _, s := range list {
		active[s.ID] = true
	}
	for id := range p.lastCheck {
		if !active[id] {
			delete(p.lastCheck, id)
		}
	}
	for id := range p.started {
		if !active[id] {
			delete(p.started, id)
		}
	}
	for key := range p.triggered {
		if id, _, _ := strings.Cut(key, "@"); !active[id] {
			delete(p.triggered, key)
		}
	}
	live := map[string]bool{}
	for _, id := range p.lastCheck {
		live[id] = true
	}
	for id := range p.resent {
		if !live[id] {
			delete(p.resent, id)
		}
	}
	p.mu.Unlock()
	if p.alerts != nil {
		p.alerts.Sync(ctx, desired, p.ends(desired, now), now)
	}
}

// ends says, for each firing alert of this planner's sites that is not
// desired any more, why it ends: its session was deleted or cancelled, is
// over, or moved out of the alert's window; else the room recovered.
func (p *Planner) ends(desired []alerts.Alert, now time.Time) map[string]alerts.End {
	keep := map[string]bool{}
	for _, a := range desired {
		keep[a.Key] = true
	}
	out := map[string]alerts.End{}
	for _, a := range p.alerts.Firing() {
		if keep[a.Key] || (p.opts.Owns != nil && !p.opts.Owns(a.Labels["site"])) {
			continue
		}
		s, ok := p.sessions.Get(a.Labels["session"])
		switch {
		case !ok:
			out[a.Key] = alerts.Cancelled
		case !now.Before(s.End):
			out[a.Key] = alerts.Ended
		case now.Before(s.Start.Add(-p.leadTimes(s.Site, s.Room)[0])):
			out[a.Key] = alerts.Rescheduled
		default:
			out[a.Key] = alerts.Resolved
		}
	}
	return out
}

// zone is the room's time zone for alert texts.
func (p *Planner) zone(site, room string) *time.Location {
	if p.opts.Zone != nil {
		if l := p.opts.Zone(site, room); l != nil {
			return l
		}
	}
	return readiness.Location
}

// countStart counts a session once, as its start comes, with whether its
// room was ready then. A session already under way when the planner first
// sees it (added late, or after a restart) is not counted: its start was not
// seen. Both series of the site exist at 0 before the first start, so that
// Prometheus's increase() sees the first one.
func (p *Planner) countStart(s sessions.Session, now time.Time, ready bool) {
	p.startedN.WithLabelValues(s.Site, "true")
	p.startedN.WithLabelValues(s.Site, "false")
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Before(s.Start) || p.started[s.ID] {
		return
	}
	p.started[s.ID] = true
	if now.Sub(s.Start) > 2*p.opts.Tick+time.Second {
		return
	}
	p.startedN.WithLabelValues(s.Site, strconv.FormatBool(ready)).Inc()
}

// dueCheck is a pre-meeting check to send now.
type dueCheck struct {
	s    sessions.Session
	lead time.Duration
}

// due marks as sent and returns the check of each lead time that has come.
func (p *Planner) due(s sessions.Session, now time.Time) []dueCheck {
	var out []dueCheck
	leads := p.leadTimes(s.Site, s.Room)
	for _, lead := range leads {
		at := s.Start.Add(-lead)
		key := fmt.Sprintf("%s@%v", s.ID, lead)
		p.mu.Lock()
		fire := !now.Before(at) && now.Before(s.Start) && !p.triggered[key]
		if fire {
			p.triggered[key] = true
		}
		p.mu.Unlock()
		if !fire {
			continue
		}
		// A session created less than a lead time before it starts gets one
		// check now, not one per missed lead time.
		for _, shorter := range leads {
			if shorter < lead && !now.Before(s.Start.Add(-shorter)) {
				p.mu.Lock()
				p.triggered[fmt.Sprintf("%s@%v", s.ID, shorter)] = true
				p.mu.Unlock()
			}
		}
		out = append(out, dueCheck{s, lead})
	}
	return out
}

// send sends the checks, up to Options.Sending at once, and returns when
// every one has been sent (or could not be).
func (p *Planner) send(due []dueCheck) {
	work := make(chan dueCheck)
	var wg sync.WaitGroup
	for range min(p.opts.Sending, len(due)) {
		wg.Go(func() {
			for d := range work {
				p.sendOne(d.s, d.lead)
			}
		})
	}
	for _, d := range due {
		work <- d
	}
	close(work)
	wg.Wait()
}

func (p *Planner) sendOne(s sessions.Session, lead time.Duration) {
	c, err := p.commands.Start(s.Site, s.Room, nil, min(p.opts.CheckTimeout, lead))
	if err != nil {
		p.opts.Log.Warn("pre-meeting check not sent", "site", s.Site, "room", s.Room, "session", s.ID, "err", err)
		return
	}
	p.mu.Lock()
	p.lastCheck[s.ID] = c.ID
	p.mu.Unlock()
	p.opts.Log.Info("pre-meeting check sent", "site", s.Site, "room", s.Room, "session", s.ID, "lead", lead, "check", c.ID, "status", c.Status)
}

// assessment is what the planner makes of a room for a session.
type assessment struct {
	ready    bool              // no cause blocks it (warnings only degrade it)
	blocking []readiness.Cause // why it is not ready
	failedAt time.Time         // when the newest evidence of that was taken
	// takenAt is when the room's newest report was taken (zero without
	// one): a firing alert recovers only on a report taken after its failure.
	takenAt time.Time
}

// recovered reports whether the room is ready by a report taken after failedAt.
func (a assessment) recovered(failedAt time.Time) bool {
	return a.ready && a.takenAt.After(failedAt)
}

// assess judges the room for the session, as of now. An agent offline for
// less than the grace period is judged by its newest report, as if it were
// still there; a pre-meeting check that got no answer counts while no
// report came after it was sent.
func (p *Planner) assess(s sessions.Session, now time.Time) assessment {
	at := readiness.Context{Standard: p.opts.Standard, Loc: p.zone(s.Site, s.Room), Now: now}
	v, known := p.fleet.Get(s.Site, s.Room)
	var causes []readiness.Cause
	var out assessment
	if !known {
		causes = readiness.OfRoom(nil, p.fleet.RemovedAt(s.Site, s.Room), at)
	} else {
		if v.State == fleet.Offline && p.opts.OfflineGrace > 0 && now.Sub(v.StatusAt) < p.opts.OfflineGrace {
			v.State, v.Since = v.ReportState(now, p.fleet.Freshness())
		}
		causes = readiness.OfRoom(&v, time.Time{}, at)
		if v.Report != nil {
			out.takenAt = v.ReportTakenAt()
		}
		p.mu.Lock()
		checkID := p.lastCheck[s.ID]
		p.mu.Unlock()
		if c, ok := p.commands.Get(checkID); ok && (c.Status == commands.Timeout || c.Status == commands.Failed) &&
			v.State != fleet.Offline && (v.Report == nil || !v.ReceivedAt.After(c.IssuedAt)) {
			// The pre-meeting check found no answer and nothing came since
			// it was sent.
			causes = append(causes, readiness.OfCommand(c, at)...)
		}
	}
	out.blocking = readiness.Blocking(causes)
	out.ready = len(out.blocking) == 0
	for _, c := range out.blocking {
		if c.Since.After(out.failedAt) {
			out.failedAt = c.Since
		}
	}
	return out
}

// again returns, once per check, the pre-meeting checks that found the
// room's agent offline when they were sent, now that it is back before the
// session starts: a restart at a lead time still gets its room checked.
func (p *Planner) again(list []sessions.Session, now time.Time) []dueCheck {
	var out []dueCheck
	for _, s := range list {
		if !now.Before(s.Start) {
			continue
		}
		p.mu.Lock()
		id := p.lastCheck[s.ID]
		p.mu.Unlock()
		c, ok := p.commands.Get(id)
		if !ok || c.Status != commands.Offline {
			continue
		}
		if v, known := p.fleet.Get(s.Site, s.Room); !known || v.AgentStatus != wire.StatusOnline {
			continue
		}
		p.mu.Lock()
		fire := !p.resent[id]
		p.resent[id] = true
		p.mu.Unlock()
		if fire {
			out = append(out, dueCheck{s, s.Start.Sub(now)})
		}
	}
	return out
}

// Collectors export, per room, its next session's start and whether the room
// is ready for it, and the sessions started.
func (p *Planner) Collectors() []prometheus.Collector {
	return []prometheus.Collector{collector{p}, p.startedN}
}

var (
	nextStartDesc = prometheus.NewDesc("siaprapat_room_next_session_start_timestamp_seconds",
		"Unix time the room's next (or current) session starts.", []string{"site", "room"}, nil)
	nextReadyDesc = prometheus.NewDesc("siaprapat_room_next_session_ready",
		"1 when the room is ready for its next (or current) session, 0 when it is not.", []string{"site", "room"}, nil)
)

type collector struct{ p *Planner }

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- nextStartDesc; ch <- nextReadyDesc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	for key, n := range c.p.next {
		site, room, _ := strings.Cut(key, "/")
		ready := 0.0
		if n.ready {
			ready = 1
		}
		ch <- prometheus.MustNewConstMetric(nextStartDesc, prometheus.GaugeValue, float64(n.start.UnixNano())/1e9, site, room)
		ch <- prometheus.MustNewConstMetric(nextReadyDesc, prometheus.GaugeValue, ready, site, room)
	}
}
