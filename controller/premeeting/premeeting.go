// Package premeeting prepares rooms for their meetings: at each lead time
// before a session it has the room's agent check the room, and from the first
// lead time until the session ends it watches the room's readiness, raising
// an alert (through package alerts) while the room is not ready and
// resolving it when the room is ready again or the session is over.
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

	"github.com/siaprapat/siaprapat/agent/report"
	"github.com/siaprapat/siaprapat/controller/alerts"
	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/rooms"
	"github.com/siaprapat/siaprapat/controller/sessions"
)

// DefaultLeadTimes are when rooms are checked before a session.
var DefaultLeadTimes = []time.Duration{30 * time.Minute, 10 * time.Minute}

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
	Log     *slog.Logger
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
	return &Planner{opts: opts, sessions: s, fleet: f, commands: d, alerts: a,
		started: map[string]bool{}, triggered: map[string]bool{}, lastCheck: map[string]string{}, next: map[string]upcoming{},
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
		p.Step(ctx, time.Now())
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
	p.send(due)
	var desired []alerts.Alert
	next := map[string]upcoming{}
	for _, s := range list {
		ready, problems := p.readiness(s)
		p.countStart(s, now, ready)
		key := s.Site + "/" + s.Room
		if n, ok := next[key]; !ok || s.Start.Before(n.start) {
			next[key] = upcoming{start: s.Start, ready: ready}
		}
		if !ready && !now.Before(s.Start.Add(-p.leadTimes(s.Site, s.Room)[0])) {
			desired = append(desired, alertFor(s, problems))
		}
	}
	// Rooms with a later session still show their next start.
	for _, s := range p.owned(p.sessions.List(sessions.Filter{From: now})) {
		key := s.Site + "/" + s.Room
		if _, ok := next[key]; !ok && s.Start.After(now) {
			ready, _ := p.readiness(s)
			next[key] = upcoming{start: s.Start, ready: ready}
		}
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
	p.mu.Unlock()
	if p.alerts != nil {
		p.alerts.Sync(ctx, desired, now)
	}
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

// readiness says whether the room is ready for the session and, if not, why.
func (p *Planner) readiness(s sessions.Session) (bool, []string) {
	v, ok := p.fleet.Get(s.Site, s.Room)
	if !ok {
		return false, []string{"no agent has ever reported for this room"}
	}
	p.mu.Lock()
	checkID := p.lastCheck[s.ID]
	p.mu.Unlock()
	if c, ok := p.commands.Get(checkID); ok && c.Status != commands.Pending && c.Status != commands.Done &&
		(v.Report == nil || c.FinishedAt.After(v.ReceivedAt)) {
		// The pre-meeting check found no answer and nothing newer came since.
		return false, []string{"pre-meeting check " + string(c.Status) + ": " + c.Reason}
	}
	switch v.State {
	case fleet.Ready, fleet.Degraded:
		return true, nil
	case fleet.Offline:
		return false, []string{"the room's agent is offline since " + v.Since.UTC().Format(time.RFC3339)}
	case fleet.Unknown:
		return false, []string{"no recent report from the room's agent (since " + v.Since.UTC().Format(time.RFC3339) + ")"}
	}
	var problems []string
	for _, c := range v.Report.Checks {
		if c.Verdict == report.Error && len(c.Rules) == 0 {
			problems = append(problems, fmt.Sprintf("%s %s: could not check: %s", c.Check, c.Target, c.Reason))
		}
		for _, r := range c.Rules {
			if r.Verdict == report.Fail || r.Verdict == report.Error {
				problems = append(problems, fmt.Sprintf("%s (%s %s): %s; want %s", r.Rule, c.Check, c.Target, r.Reason, r.Want))
			}
		}
	}
	if len(problems) == 0 {
		problems = []string{"the room is not ready"}
	}
	return false, problems
}

// Location is where session times are shown in alert texts when the session
// does not say: Indonesia's western zone (WIB).
var Location = mustLocation("Asia/Jakarta")

func mustLocation(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		return time.FixedZone("WIB", 7*3600)
	}
	return l
}

func alertFor(s sessions.Session, problems []string) alerts.Alert {
	start := s.Start.In(Location).Format("2006-01-02 15:04 MST")
	summary := fmt.Sprintf("Room %s/%s is not ready for %q at %s", s.Site, s.Room, s.Title, start)
	return alerts.Alert{
		Key: s.Site + "/" + s.Room + "/" + s.ID,
		Labels: map[string]string{
			"alertname": "SiaprapatRoomNotReady", "site": s.Site, "room": s.Room, "session": s.ID, "severity": "critical",
		},
		Annotations: map[string]string{
			"summary":       summary,
			"summary_id":    fmt.Sprintf("Ruang %s/%s belum siap untuk %q pada %s", s.Site, s.Room, s.Title, start),
			"description":   strings.Join(problems, "\n"),
			"session_title": s.Title,
			"session_start": s.Start.Format(time.RFC3339),
			"organizer":     s.Organizer,
		},
	}
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
