// Package controller assembles the controller: the embedded broker (or an
// external one), ingest, the fleet store, metrics, the HTTP API and the web board.
package controller

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"golang.org/x/sync/errgroup"

	"github.com/siaprapat/siaprapat/controller/acks"
	"github.com/siaprapat/siaprapat/controller/agents"
	"github.com/siaprapat/siaprapat/controller/alerts"
	"github.com/siaprapat/siaprapat/controller/api"
	"github.com/siaprapat/siaprapat/controller/board"
	"github.com/siaprapat/siaprapat/controller/broker"
	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/enrolment"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/history"
	"github.com/siaprapat/siaprapat/controller/ingest"
	"github.com/siaprapat/siaprapat/controller/metrics"
	"github.com/siaprapat/siaprapat/controller/premeeting"
	"github.com/siaprapat/siaprapat/controller/probe"
	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/controller/rooms"
	"github.com/siaprapat/siaprapat/controller/schedule"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/controller/shard"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// Defaults for Config.
const (
	DefaultHTTPListen = ":9780"
	DefaultDataDir    = "data"
)

// Config configures a controller.
type Config struct {
	HTTPListen string // address of the HTTP API and /metrics
	MQTTListen string // embedded broker address; "" runs no plain listener
	// MQTTTLSListen is the embedded broker's TLS listener ("" for none), with
	// its certificate and key files, and optionally the CA of agents' client
	// certificates (common name SITE/ROOM).
	MQTTTLSListen, MQTTTLSCert, MQTTTLSKey, MQTTClientCA string
	// MQTTRequireLogin makes the embedded broker refuse clients without
	// credentials even on loopback.
	MQTTRequireLogin bool
	Broker           string // external broker URL; when set, no embedded broker runs
	Username         string // credentials for the external broker
	Password         string
	DataDir          string // where fleet.db lives
	MaxRooms         int    // 0 means fleet.DefaultMaxRooms
	// Shard, when set, is the sites this controller owns among several
	// sharing one external broker; nil owns every site.
	Shard *shard.Set
	Rooms *rooms.Config // per room: devices, calendar, zone, lead times; may be nil
	// Alertmanagers are the Alertmanager base URLs readiness alerts go to.
	Alertmanagers []string
	// Webhooks receive a JSON message per alert firing or resolved.
	Webhooks []string
	// LeadTimes are when rooms are checked before a session; default 30 and 10 min.
	LeadTimes []time.Duration
	// OfflineGrace is how long an agent may be away before its room counts
	// as offline for a meeting (premeeting.DefaultOfflineGrace when zero;
	// negative: none).
	OfflineGrace time.Duration
	// Zone is where the times of rooms that neither the rooms file nor the
	// API gives a zone are shown; WIB (Asia/Jakarta) when nil.
	Zone *time.Location
	// CalendarInterval is how often the rooms' iCalendar feeds are read.
	CalendarInterval time.Duration
	// APIToken, when set, is the admin token: required on the API's writing
	// requests and to enrol agents from other machines.
	APIToken string
	// APIReadToken, when set, is required (or the admin token) to read the
	// API; MetricsAuth makes /metrics take it too.
	APIReadToken string
	MetricsAuth  bool
	// APIOpenWrites takes the API's writing requests from anyone who
	// reaches the port while there is no admin token; by default they are
	// taken from this machine only.
	APIOpenWrites bool
	// History bounds the report history (zero values: its defaults).
	History history.Options
	// Probe configures the network probe agents test their links against
	// (under /probe/v1/ on the HTTP port, UDP echo on ProbeUDP). Enrolled
	// agents use their MQTT secret as its token; Probe.Tokens adds others.
	Probe probe.Config
	// ProbeUDP is the UDP echo's address; "" is the HTTP listener's address.
	ProbeUDP string
	Standard *standard.Standard
	// Repaired names the data files moved aside as damaged before this
	// start (serve --repair), for siaprapat_store_repairs_total.
	Repaired []string
	// Now is the one clock every part that decides reads (the planner,
	// alerts, the fleet's freshness, commands, feeds); time.Now when nil.
	Now func() time.Time
	Log *slog.Logger
}

// Controller is a running controller.
type Controller struct {
	cfg      Config
	log      *slog.Logger
	broker   *broker.Broker
	agents   *agents.Store
	fleet    *fleet.Fleet
	history  *history.History
	sessions *sessions.Store
	alerts   *alerts.Manager
	probe    *probe.Server
	mqtt     ingest.Session
	http     *http.Server
	httpLn   net.Listener

	// The long-lived parts run in one group; stop ends them all.
	group *errgroup.Group
	ctx   context.Context
	stop  context.CancelFunc

	closeOnce sync.Once
	closeErr  error
}

// check validates a configuration and fills in its defaults.
func (cfg Config) check() (Config, error) {
	if cfg.Standard == nil {
		return cfg, errors.New("no readiness standard")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.Broker != "":
		if _, err := wire.BrokerURL(cfg.Broker); err != nil {
			return cfg, err
		}
	case cfg.Shard != nil:
		return cfg, CheckShard(cfg.Shard, cfg.Broker)
	case cfg.MQTTTLSListen != "" && cfg.MQTTListen == "":
		return cfg, errors.New("--mqtt-tls-listen without --mqtt-listen: the controller's own client uses the plain listener; keep it on loopback (--mqtt-listen 127.0.0.1:1883)")
	case cfg.MQTTListen == "":
		return cfg, errors.New("no MQTT broker: give --broker URL for an external one, or --mqtt-listen ADDR for the embedded one")
	}
	if cfg.Shard != nil {
		all := cfg.Rooms
		cfg.Rooms = cfg.Rooms.Only(cfg.Shard.Owns)
		if all != nil {
			cfg.Log.Info("shard", "sites", cfg.Shard.String(), "rooms_file_rooms", len(cfg.Rooms.Rooms), "other_shards_rooms", len(all.Rooms)-len(cfg.Rooms.Rooms))
		}
	}
	return cfg, nil
}

// CheckShard says why a shard cannot run: it needs an external broker.
func CheckShard(sh *shard.Set, broker string) error {
	if sh != nil && broker == "" {
		return fmt.Errorf("--shard %s without --broker: shards share one external broker (each agent reports to it, and the controller owning its site takes the report); the embedded broker serves one controller's agents alone", sh)
	}
	return nil
}

// Start starts every part and returns once the HTTP API listens; the MQTT
// session connects in the background (see /readyz). The parts are built in
// order, each with what it needs: the stores, the MQTT session, what
// publishes through it (acknowledgements, commands, schedules), ingest, the
// planner and its feeds, the API; then the session is subscribed and the
// long-lived parts run as one group.
func Start(cfg Config) (_ *Controller, err error) {
	if cfg, err = cfg.check(); err != nil {
		return nil, err
	}
	c := &Controller{cfg: cfg, log: cfg.Log}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	log := func(component string) *slog.Logger { return c.log.With("component", component) }

	procReg, storeErrors := processRegistry(cfg)

	// The stores.
	if c.fleet, err = fleet.Open(cfg.DataDir, fleet.Options{Freshness: cfg.Standard.Freshness, MaxRooms: cfg.MaxRooms, Now: cfg.Now, Log: c.log}, func(error) { storeErrors.Inc() }); err != nil {
		return nil, err
	}
	c.log.Info("fleet store open", "dir", cfg.DataDir, "rooms", c.fleet.Len())
	c.leaveOtherShards()
	if c.sessions, err = sessions.Open(cfg.DataDir); err != nil {
		return nil, err
	}

	// The MQTT session: inside the embedded broker, or a client of an
	// external one. Nothing flows until it is subscribed, below.
	brokerURL := cfg.Broker
	if cfg.Broker != "" {
		ext, err := ingest.NewClient(ingest.ClientOptions{
			Broker: cfg.Broker, Username: cfg.Username, Password: cfg.Password, Log: log("mqtt"), Filters: ingest.Filters(cfg.Shard),
		})
		if err != nil {
			return nil, err
		}
		c.mqtt = ext
		c.log.Info("using external MQTT broker", "broker", redacted(cfg.Broker))
	} else {
		if err := c.startBroker(procReg); err != nil {
			return nil, err
		}
		brokerURL = c.broker.URL()
		c.mqtt = c.broker.Inline(ingest.Filters(cfg.Shard))
	}
	procReg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "siaprapat_controller_broker_connected",
		Help: "1 while the controller is connected and subscribed to its MQTT broker.",
	}, func() float64 {
		if c.mqtt.Connected() {
			return 1
		}
		return 0
	}))

	// What publishes through the session, and what it feeds.
	acker := acks.New(c.mqtt, procReg, cfg.Now, log("acks"))
	cmds, err := commands.New(c.mqtt, c.fleet, procReg, cfg.Now)
	if err != nil {
		return nil, err
	}
	hopts := cfg.History
	hopts.Log = log("history")
	hopts.OnError = func(error) { storeErrors.Inc() }
	hopts.OnStored = acker.Stored
	hopts.Now = cfg.Now
	if c.history, err = history.Open(cfg.DataDir, hopts); err != nil {
		return nil, err
	}
	procReg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "siaprapat_history_pending_bytes",
		Help: "Reports waiting to be written to the report history, in bytes (bounded: past the bound, reports are refused unacknowledged and their agents send them again).",
	}, func() float64 { return float64(c.history.PendingBytes()) }))
	procReg.MustRegister(c.history.Collectors()...)
	in, err := ingest.New(ingest.Options{Fleet: c.fleet, History: c.history, Rooms: cfg.Rooms, Standard: cfg.Standard,
		Shard: cfg.Shard, Results: func(site, room string, res *wire.Result) { cmds.Resolve(site, room, res) }, Now: cfg.Now, Log: log("ingest")}, procReg)
	if err != nil {
		return nil, err
	}

	// The planner: sessions from the API and the calendars, readiness
	// checks before them, alerts; and each room's agent learns its
	// sessions (retained on its schedule topic) to stay quiet in them.
	if c.alerts, err = alerts.New(alerts.Options{
		Alertmanagers: cfg.Alertmanagers, Webhooks: cfg.Webhooks, DataDir: cfg.DataDir, Now: cfg.Now, Log: log("alerts"),
	}, procReg); err != nil {
		return nil, err
	}
	plan := premeeting.New(premeeting.Options{LeadTimes: cfg.LeadTimes, Rooms: cfg.Rooms, Owns: cfg.Shard.Owns,
		OfflineGrace: cfg.OfflineGrace, Standard: cfg.Standard, Zone: c.zone, Now: cfg.Now, Log: log("premeeting")},
		c.sessions, c.fleet, cmds, c.alerts)
	// The fleet's own families are written straight from the fleet at each
	// scrape (metrics.Handler): at 10,000 rooms a registry's gather and
	// encoding of them takes seconds. The planner's go through fleetReg.
	fleetReg := prometheus.NewRegistry()
	fleetReg.MustRegister(plan.Collectors()...)
	feeds, err := sessions.NewFeeds(c.sessions, cfg.Rooms, sessions.FeedOptions{Interval: cfg.CalendarInterval, Now: cfg.Now, Log: log("calendar")}, procReg)
	if err != nil {
		return nil, err
	}
	announcer := schedule.New(c.sessions, schedulePublisher{c.mqtt}, schedule.Options{Rooms: fleetRooms(c.fleet), Owns: cfg.Shard.Owns, Changes: c.sessions.Changes(), Now: cfg.Now, Log: log("schedule")})
	procReg.MustRegister(announcer.Collectors()...)

	// The network probe agents test their links against.
	pcfg := cfg.Probe
	pcfg.Log = log("probe")
	if c.agents != nil {
		pcfg.Authorize = func(token string) (string, bool) {
			a, ok := c.agents.ByToken(token)
			return a.Username, ok
		}
	}
	if c.probe, err = probe.New(pcfg); err != nil {
		return nil, err
	}
	procReg.MustRegister(c.probe.Collector())

	// The HTTP API, /metrics and the web board.
	srv := &api.Server{
		Probe:       c.probe,
		Fleet:       c.fleet,
		History:     c.history,
		Commands:    cmds,
		Sessions:    c.sessions,
		Zones:       zones{c},
		Standard:    cfg.Standard,
		Now:         cfg.Now,
		Token:       cfg.APIToken,
		ReadToken:   cfg.APIReadToken,
		MetricsAuth: cfg.MetricsAuth,
		OpenWrites:  cfg.APIOpenWrites,
		Shard:       cfg.Shard,
		Metrics:     metrics.Handler(metrics.New(c.fleet), prometheus.Gatherers{procReg, fleetReg}, log("metrics")),
		Calendars:   feeds,
		AgentBroker: agentBroker(cfg),
		Ready: func() error {
			if !c.mqtt.Connected() {
				return fmt.Errorf("not connected to the MQTT broker %s", redacted(brokerURL))
			}
			return nil
		},
		Log: c.log,
	}
	if c.agents != nil {
		srv.Agents = enrolment.New(c.agents, c.broker, c.mqtt, c.fleet, cfg.Now, log("enrolment"))
	}
	if srv.Board, err = board.New(board.Config{Fleet: c.fleet, History: c.history, Commands: cmds, Sessions: c.sessions,
		Alerts: c.alerts, Planner: plan, Zone: c.zone, Standard: cfg.Standard, Access: srv, Now: cfg.Now, Log: log("board")}); err != nil {
		return nil, err
	}
	if c.httpLn, err = net.Listen("tcp", cfg.HTTPListen); err != nil {
		return nil, fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTPListen, err)
	}
	if c.probe.Enabled() {
		udpAddr := cmp.Or(cfg.ProbeUDP, c.httpLn.Addr().String())
		if err := c.probe.ListenUDP(udpAddr); err != nil {
			return nil, fmt.Errorf("network probe: %w", err)
		}
		c.log.Info("network probe listening", "http", "/probe/v1/", "udp", c.probe.UDPAddr().String())
	}
	// Slow clients cannot hold connections: headers within 10 s, a request
	// body within 30 s (the API's are a few KiB), idle keep-alives for 2 min.
	// No write timeout: a check's ?wait= answers after up to 10 min. The
	// probe's transfers set their own deadlines, per request.
	c.http = &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}

	// Messages flow, and the long-lived parts run, as one group: the
	// first to fail stops the others (Done tells), as Close does.
	if err := c.mqtt.Subscribe(in.Handle); err != nil {
		return nil, err
	}
	var ctx context.Context
	ctx, c.stop = context.WithCancel(context.Background())
	c.group, c.ctx = errgroup.WithContext(ctx)
	c.run("acknowledgements", acker.Run)
	c.run("calendar feeds", done(feeds.Run))
	c.run("alerts", done(c.alerts.Run))
	c.run("schedules", done(announcer.Run))
	c.run("planner", done(plan.Run))
	if c.probe.Enabled() {
		c.run("network probe", c.probe.Serve)
	}
	c.run("HTTP server", func(ctx context.Context) error {
		stopped := context.AfterFunc(ctx, func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = c.http.Shutdown(sctx)
		})
		defer stopped()
		if err := c.http.Serve(c.httpLn); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	c.log.Info("HTTP API listening", "addr", c.httpLn.Addr().String())
	switch {
	case cfg.APIToken == "" && cfg.APIOpenWrites:
		c.log.Warn("--api-open-writes: the API's writing requests (sessions, checks, zones) are open to anyone who reaches the HTTP port; set --api-token")
	case cfg.APIToken == "":
		c.log.Info("no --api-token: the API's writing requests are taken from this machine only")
	}
	return c, nil
}

// processRegistry is the registry of the controller's own metrics (the
// fleet's are written apart, by metrics.Handler), with the store counters
// every part shares.
func processRegistry(cfg Config) (*prometheus.Registry, prometheus.Counter) {
	procReg := prometheus.NewRegistry()
	storeErrors := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "siaprapat_store_write_errors_total",
		Help: "Failed writes of the fleet store or the report history (what failed stays queued and is retried).",
	})
	repairs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "siaprapat_store_repairs_total",
		Help: "Damaged data files moved aside at start (--repair), by file, since the controller started.",
	}, []string{"file"})
	for _, f := range []string{"fleet.db", "history.db", "alerts.db", "sessions.db", "agents.db"} {
		repairs.WithLabelValues(f)
	}
	for _, f := range cfg.Repaired {
		repairs.WithLabelValues(f).Inc()
	}
	procReg.MustRegister(
		repairs,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("siaprapat_controller"),
		storeErrors,
	)
	if cfg.Shard != nil {
		info := prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "siaprapat_controller_shard_info",
			Help:        "1, labelled with the sites this controller owns (--shard); absent when it owns every site.",
			ConstLabels: prometheus.Labels{"sites": cfg.Shard.String()},
		})
		info.Set(1)
		procReg.MustRegister(info)
	}

	return procReg, storeErrors
}

// run runs one long-lived part in the group. A part may end when it has
// nothing to do (no calendars to read); one that fails stops the others.
func (c *Controller) run(name string, part func(context.Context) error) {
	c.group.Go(func() error {
		err := part(c.ctx)
		if err != nil && c.ctx.Err() == nil {
			err = fmt.Errorf("%s: %w", name, err)
			c.log.Error("a part of the controller failed; stopping the others", "err", err)
			return err
		}
		return nil
	})
}

// done adapts a part that returns when its context ends, or when it has
// nothing to do.
func done(run func(context.Context)) func(context.Context) error {
	return func(ctx context.Context) error {
		run(ctx)
		return nil
	}
}

// leaveOtherShards removes from the fleet the rooms stored when this
// controller owned other sites: their reports now go to the shard that
// owns them.
func (c *Controller) leaveOtherShards() {
	if c.cfg.Shard == nil {
		return
	}
	var left []string
	for _, v := range c.fleet.Rooms() {
		if !c.cfg.Shard.Owns(v.Site) {
			c.fleet.Remove(v.Site, v.Room.Room)
			left = append(left, v.Site+"/"+v.Room.Room)
		}
	}
	if len(left) > 0 {
		c.log.Warn("rooms of sites outside this shard left the fleet", "shard", c.cfg.Shard.String(), "rooms", len(left), "first", left[0])
	}
}

// startBroker opens the enrolled agents' store and starts the embedded
// broker with it.
func (c *Controller) startBroker(reg prometheus.Registerer) (err error) {
	cfg := c.cfg
	if c.agents, err = agents.Open(cfg.DataDir); err != nil {
		return err
	}
	// The controller's own session logs in with a password made afresh at
	// every start: it never leaves this process.
	var pw [24]byte
	_, _ = rand.Read(pw[:])
	c.broker, err = broker.Start(broker.Options{
		Listen: cfg.MQTTListen, TLSListen: cfg.MQTTTLSListen, TLSCert: cfg.MQTTTLSCert, TLSKey: cfg.MQTTTLSKey,
		ClientCA: cfg.MQTTClientCA, RequireLogin: cfg.MQTTRequireLogin, Agents: c.agents, ControllerPassword: hex.EncodeToString(pw[:]),
		Registerer: reg, Log: c.log,
	})
	if err != nil {
		return err
	}
	c.log.Info("embedded MQTT broker listening", "addr", c.broker.Addr(), "tls", c.broker.TLSAddr(),
		"anonymous_from_loopback", c.broker.Anonymous(), "enrolled_agents", c.agents.Len())
	if !c.broker.Anonymous() && c.agents.Len() == 0 {
		c.log.Warn("the embedded broker refuses clients without credentials (it listens beyond loopback, or --mqtt-require-login) and no agent is enrolled yet: enrol each room with 'siaprapat-controller agent add SITE/ROOM'")
	}
	return nil
}

// zone is a room's time zone: the rooms file's, else the one set through
// the API, else the controller's default (WIB).
func (c *Controller) zone(site, room string) *time.Location {
	if r := c.cfg.Rooms.Get(site, room); r != nil && r.Zone != "" {
		return r.Location()
	}
	if l := c.sessions.Zone(site, room); l != nil {
		return l
	}
	if c.cfg.Zone != nil {
		return c.cfg.Zone
	}
	return readiness.Location
}

// zones is the controller as an api.Zones: rooms' zones, settable through
// the API where the rooms file does not set them.
type zones struct{ c *Controller }

func (z zones) Zone(site, room string) (*time.Location, string) {
	if r := z.c.cfg.Rooms.Get(site, room); r != nil && r.Zone != "" {
		return r.Location(), "rooms_file"
	}
	if l := z.c.sessions.Zone(site, room); l != nil {
		return l, "api"
	}
	return z.c.zone(site, room), "default"
}

func (z zones) SetZone(site, room, zone string) error {
	if r := z.c.cfg.Rooms.Get(site, room); r != nil && r.Zone != "" {
		return fmt.Errorf("%w: the rooms file gives %s/%s the zone %s; change it there", api.ErrZoneFromFile, site, room, r.Zone)
	}
	return z.c.sessions.SetZone(site, room, zone)
}

// redacted hides a password in a broker URL, for logs and answers.
func redacted(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(broker URL)"
}

// HTTPAddr is the address the HTTP API listens on.
func (c *Controller) HTTPAddr() string { return c.httpLn.Addr().String() }

// BrokerURL is the embedded broker's URL, or "" when an external one is used.
func (c *Controller) BrokerURL() string {
	if c.broker == nil {
		return ""
	}
	return c.broker.URL()
}

// BrokerTLSURL is the embedded broker's MQTT over TLS URL, "" without one.
func (c *Controller) BrokerTLSURL() string {
	if c.broker == nil || c.broker.TLSAddr() == "" {
		return ""
	}
	return "mqtts://" + c.broker.TLSAddr()
}

// Done is closed when the controller stops: by Close, or because one of
// its long-lived parts failed (Err says which).
func (c *Controller) Done() <-chan struct{} { return c.ctx.Done() }

// Err says why the controller stopped on its own, or nil.
func (c *Controller) Err() error {
	select {
	case <-c.ctx.Done():
		return context.Cause(c.ctx)
	default:
		return nil
	}
}

// WaitReady waits until the controller is subscribed to its broker.
func (c *Controller) WaitReady(ctx context.Context) error { return c.mqtt.WaitConnected(ctx) }

// Close stops every part, writing the fleet store last. Later calls return
// the first call's result.
func (c *Controller) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.close() })
	return c.closeErr
}

func (c *Controller) close() error {
	var errs []error
	if c.stop != nil {
		c.stop()
		_ = c.group.Wait() // a part's failure was logged, and told by Err
	}
	if c.probe != nil {
		errs = append(errs, c.probe.Close())
	}
	if c.mqtt != nil {
		c.mqtt.Close()
	}
	if c.broker != nil {
		errs = append(errs, c.broker.Close())
	}
	// The stores last, the fleet's among them (it writes what is dirty).
	if c.agents != nil {
		errs = append(errs, c.agents.Close())
	}
	if c.fleet != nil {
		errs = append(errs, c.fleet.Close())
	}
	if c.history != nil {
		errs = append(errs, c.history.Close())
	}
	if c.sessions != nil {
		errs = append(errs, c.sessions.Close())
	}
	if c.alerts != nil {
		errs = append(errs, c.alerts.Close())
	}
	return errors.Join(errs...)
}

// agentBroker is the scheme and port of the embedded broker's listener for
// agents (TLS where it has one), "" when there is none or its port is
// chosen at start.
func agentBroker(cfg Config) string {
	scheme, listen := "mqtt", cfg.MQTTListen
	if cfg.MQTTTLSListen != "" {
		scheme, listen = "mqtts", cfg.MQTTTLSListen
	}
	_, port, err := net.SplitHostPort(listen)
	if cfg.Broker != "" || err != nil || port == "" || port == "0" {
		return ""
	}
	return scheme + "://" + net.JoinHostPort("", port)
}
