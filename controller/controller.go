// Package controller assembles the controller: the embedded broker (or an
// external one), ingest, the fleet store, metrics, the HTTP API and the web board.
package controller

import (
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

	"github.com/siaprapat/siaprapat/controller/agents"
	"github.com/siaprapat/siaprapat/controller/alerts"
	"github.com/siaprapat/siaprapat/controller/api"
	"github.com/siaprapat/siaprapat/controller/board"
	"github.com/siaprapat/siaprapat/controller/broker"
	"github.com/siaprapat/siaprapat/controller/commands"
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
	acker    *acker
	probe    *probe.Server
	mqtt     ingest.Session
	commands *commands.Dispatcher
	sessions *sessions.Store
	alerts   *alerts.Manager
	stopPlan context.CancelFunc
	planDone chan struct{}
	http     *http.Server
	httpLn   net.Listener

	closeOnce sync.Once
	closeErr  error
}

// Start starts every part and returns once the HTTP API listens; the MQTT
// session connects in the background (see /readyz).
func Start(cfg Config) (_ *Controller, err error) {
	if cfg.Standard == nil {
		return nil, errors.New("no readiness standard")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Shard != nil && cfg.Broker == "" {
		return nil, fmt.Errorf("shard %s without an external broker: shards share one broker", cfg.Shard)
	}
	if cfg.Shard != nil {
		all := cfg.Rooms
		cfg.Rooms = cfg.Rooms.Only(cfg.Shard.Owns)
		if all != nil {
			cfg.Log.Info("shard", "sites", cfg.Shard.String(), "rooms_file_rooms", len(cfg.Rooms.Rooms), "other_shards_rooms", len(all.Rooms)-len(cfg.Rooms.Rooms))
		}
	}
	c := &Controller{cfg: cfg, log: cfg.Log}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()

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

	c.fleet, err = fleet.Open(cfg.DataDir, fleet.Options{Freshness: cfg.Standard.Freshness, MaxRooms: cfg.MaxRooms, Now: cfg.Now, Log: c.log}, func(error) { storeErrors.Inc() })
	if err != nil {
		return nil, err
	}
	c.log.Info("fleet store open", "dir", cfg.DataDir, "rooms", c.fleet.Len())
	if cfg.Shard != nil {
		// Rooms stored when this controller owned other sites leave its
		// fleet: their reports now go to the shard that owns them.
		var left []string
		for _, v := range c.fleet.Rooms() {
			if !cfg.Shard.Owns(v.Site) {
				c.fleet.Remove(v.Site, v.Room.Room)
				left = append(left, v.Site+"/"+v.Room.Room)
			}
		}
		if len(left) > 0 {
			c.log.Warn("rooms of sites outside this shard left the fleet", "shard", cfg.Shard.String(), "rooms", len(left), "first", left[0])
		}
	}
	// Stored reports are acknowledged to their agents over the MQTT
	// session made below (inline in the embedded broker, else a client).
	c.acker = newAcker(procReg, cfg.Now, c.log.With("component", "acks"))
	hopts := cfg.History
	hopts.Log = c.log.With("component", "history")
	hopts.OnError = func(error) { storeErrors.Inc() }
	hopts.OnStored = c.acker.stored
	hopts.Now = cfg.Now
	if c.history, err = history.Open(cfg.DataDir, hopts); err != nil {
		return nil, err
	}

	procReg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "siaprapat_history_pending_bytes",
		Help: "Reports waiting to be written to the report history, in bytes (bounded: past the bound, reports are refused unacknowledged and their agents send them again).",
	}, func() float64 { return float64(c.history.PendingBytes()) }))
	procReg.MustRegister(c.history.Collectors()...)

	// The fleet's own families are written straight from the fleet at each
	// scrape (metrics.Handler): at 10,000 rooms a registry's gather and
	// encoding of them takes seconds. The planner's go through fleetReg.
	fleetMetrics := metrics.New(c.fleet)
	fleetReg := prometheus.NewRegistry()
	in, err := ingest.New(ingest.Options{Fleet: c.fleet, History: c.history, Rooms: cfg.Rooms, Standard: cfg.Standard,
		Shard: cfg.Shard, Now: cfg.Now, Log: c.log.With("component", "ingest")}, procReg)
	if err != nil {
		return nil, err
	}
	if cfg.Shard != nil {
		info := prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "siaprapat_controller_shard_info",
			Help:        "1, labelled with the sites this controller owns (--shard); absent when it owns every site.",
			ConstLabels: prometheus.Labels{"sites": cfg.Shard.String()},
		})
		info.Set(1)
		procReg.MustRegister(info)
	}

	// Commands go out through the MQTT session made below; results
	// come back through ingest, wired before any message can arrive.
	c.commands, err = commands.New(publisherFunc(func(topic string, payload []byte) error {
		return c.mqtt.Publish(topic, payload)
	}), c.fleet, procReg, cfg.Now)
	if err != nil {
		return nil, err
	}
	in.Results = func(site, room string, res *wire.Result) { c.commands.Resolve(site, room, res) }

	brokerURL := cfg.Broker
	switch {
	case cfg.Broker != "":
		u, err := wire.BrokerURL(cfg.Broker)
		if err != nil {
			return nil, err
		}
		c.log.Info("using external MQTT broker", "broker", u.Redacted())
	case cfg.MQTTTLSListen != "" && cfg.MQTTListen == "":
		return nil, errors.New("--mqtt-tls-listen without --mqtt-listen: the controller's own client uses the plain listener; keep it on loopback (--mqtt-listen 127.0.0.1:1883)")
	case cfg.MQTTListen != "":
		if c.agents, err = agents.Open(cfg.DataDir); err != nil {
			return nil, err
		}
		// The controller's own client logs in with a password made afresh
		// at every start: it never leaves this process.
		var pw [24]byte
		_, _ = rand.Read(pw[:])
		password := hex.EncodeToString(pw[:])
		c.broker, err = broker.Start(broker.Options{
			Listen: cfg.MQTTListen, TLSListen: cfg.MQTTTLSListen, TLSCert: cfg.MQTTTLSCert, TLSKey: cfg.MQTTTLSKey,
			ClientCA: cfg.MQTTClientCA, RequireLogin: cfg.MQTTRequireLogin, Agents: c.agents, ControllerPassword: password,
			Registerer: procReg, Log: c.log,
		})
		if err != nil {
			return nil, err
		}
		brokerURL = c.broker.URL()
		cfg.Username, cfg.Password = broker.ControllerUser, password
		c.log.Info("embedded MQTT broker listening", "addr", c.broker.Addr(), "tls", c.broker.TLSAddr(),
			"anonymous_from_loopback", c.broker.Anonymous(), "enrolled_agents", c.agents.Len())
		if !c.broker.Anonymous() && c.agents.Len() == 0 {
			c.log.Warn("the embedded broker refuses clients without credentials (it listens beyond loopback, or --mqtt-require-login) and no agent is enrolled yet: enrol each room with 'siaprapat-controller agent add SITE/ROOM'")
		}
	default:
		return nil, errors.New("no MQTT broker: give --broker URL for an external one, or --mqtt-listen ADDR for the embedded one")
	}
	if c.broker != nil {
		// Inside its own broker the controller subscribes inline: no
		// connection, and no queue that drops messages past its length.
		inline, err := c.broker.Inline(ingest.Filters(cfg.Shard), in.Handle)
		if err != nil {
			return nil, err
		}
		c.mqtt = inline
	} else {
		tcp, err := ingest.Dial(ingest.ClientOptions{
			Broker: brokerURL, Username: cfg.Username, Password: cfg.Password, Log: c.log.With("component", "mqtt"),
			Filters: ingest.Filters(cfg.Shard),
		}, in.Handle)
		if err != nil {
			return nil, err
		}
		c.mqtt = tcp
	}
	c.acker.use(c.mqtt.Notify)
	procReg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "siaprapat_controller_broker_connected",
		Help: "1 while the controller is connected and subscribed to its MQTT broker.",
	}, func() float64 {
		if c.mqtt.Connected() {
			return 1
		}
		return 0
	}))

	c.sessions, err = sessions.Open(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	c.alerts, err = alerts.New(alerts.Options{
		Alertmanagers: cfg.Alertmanagers, Webhooks: cfg.Webhooks, DataDir: cfg.DataDir, Now: cfg.Now, Log: c.log.With("component", "alerts"),
	}, procReg)
	if err != nil {
		return nil, err
	}
	plan := premeeting.New(premeeting.Options{LeadTimes: cfg.LeadTimes, Rooms: cfg.Rooms, Owns: cfg.Shard.Owns,
		OfflineGrace: cfg.OfflineGrace, Standard: cfg.Standard, Zone: c.zone, Now: cfg.Now, Log: c.log.With("component", "premeeting")},
		c.sessions, c.fleet, c.commands, c.alerts)
	fleetReg.MustRegister(plan.Collectors()...)
	feeds, err := sessions.NewFeeds(c.sessions, cfg.Rooms, sessions.FeedOptions{Interval: cfg.CalendarInterval, Now: cfg.Now, Log: c.log.With("component", "calendar")}, procReg)
	if err != nil {
		return nil, err
	}
	// Each room's agent learns its sessions (retained on its schedule topic) and stays quiet in them.
	announcer := schedule.New(c.sessions, schedulePublisher{c.mqtt}, schedule.Options{Rooms: fleetRooms(c.fleet), Owns: cfg.Shard.Owns, Changes: c.sessions.Changes(), Now: cfg.Now, Log: c.log.With("component", "schedule")})
	procReg.MustRegister(announcer.Collectors()...)
	var planCtx context.Context
	planCtx, c.stopPlan = context.WithCancel(context.Background())
	c.planDone = make(chan struct{})
	go func() {
		defer close(c.planDone)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			feeds.Run(planCtx)
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.alerts.Run(planCtx)
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			announcer.Run(planCtx)
		}()
		plan.Run(planCtx)
		wg.Wait()
	}()

	pcfg := cfg.Probe
	pcfg.Log = c.log.With("component", "probe")
	if c.agents != nil {
		pcfg.Authorize = func(token string) (string, bool) {
			a, ok := c.agents.ByToken(token)
			return a.Username, ok
		}
	}
	if c.probe, err = probe.New(pcfg); err != nil {
		return nil, err
	}
	procReg.MustRegister(probeCollector{c.probe})

	srv := &api.Server{
		Probe:       c.probe,
		Fleet:       c.fleet,
		History:     c.history,
		Commands:    c.commands,
		Sessions:    c.sessions,
		Zones:       zones{c},
		Standard:    cfg.Standard,
		Now:         cfg.Now,
		Token:       cfg.APIToken,
		ReadToken:   cfg.APIReadToken,
		MetricsAuth: cfg.MetricsAuth,
		OpenWrites:  cfg.APIOpenWrites,
		Shard:       cfg.Shard,
		Metrics:     metrics.Handler(fleetMetrics, prometheus.Gatherers{procReg, fleetReg}, c.log.With("component", "metrics")),
		Agents:      c.enroller(),
		Calendars:   feeds,
		Ready: func() error {
			if !c.mqtt.Connected() {
				return fmt.Errorf("not connected to the MQTT broker %s", redacted(brokerURL))
			}
			return nil
		},
		Log: c.log,
	}
	if srv.Board, err = board.New(board.Config{Fleet: c.fleet, History: c.history, Commands: c.commands, Sessions: c.sessions,
		Alerts: c.alerts, Planner: plan, Zone: c.zone, Standard: cfg.Standard, Access: srv, Now: cfg.Now, Log: c.log.With("component", "board")}); err != nil {
		return nil, err
	}
	c.httpLn, err = net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		return nil, fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTPListen, err)
	}
	udpAddr := cfg.ProbeUDP
	if udpAddr == "" {
		udpAddr = c.httpLn.Addr().String()
	}
	if c.probe.Enabled() {
		if err := c.probe.ListenUDP(udpAddr); err != nil {
			return nil, fmt.Errorf("network probe: %w", err)
		}
		go c.probe.Serve(context.Background())
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
	go func() {
		if err := c.http.Serve(c.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("HTTP server stopped", "err", err)
		}
	}()
	c.log.Info("HTTP API listening", "addr", c.httpLn.Addr().String())
	switch {
	case cfg.APIToken == "" && cfg.APIOpenWrites:
		c.log.Warn("--api-open-writes: the API's writing requests (sessions, checks, zones) are open to anyone who reaches the HTTP port; set --api-token")
	case cfg.APIToken == "":
		c.log.Info("no --api-token: the API's writing requests are taken from this machine only")
	}
	return c, nil
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

// publisherFunc adapts a function to commands.Publisher.
type publisherFunc func(topic string, payload []byte) error

func (f publisherFunc) Publish(topic string, payload []byte) error { return f(topic, payload) }

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
	if c.stopPlan != nil {
		c.stopPlan()
		<-c.planDone
	}
	if c.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, c.http.Shutdown(ctx))
		cancel()
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
	if c.agents != nil {
		errs = append(errs, c.agents.Close())
	}
	if c.fleet != nil {
		errs = append(errs, c.fleet.Close())
	}
	if c.history != nil {
		errs = append(errs, c.history.Close())
	}
	if c.acker != nil {
		c.acker.close()
	}
	if c.sessions != nil {
		errs = append(errs, c.sessions.Close())
	}
	if c.alerts != nil {
		errs = append(errs, c.alerts.Close())
	}
	return errors.Join(errs...)
}

// enroller is the controller as an api.Enroller, or nil without an
// embedded broker (an external broker has its own users).
func (c *Controller) enroller() api.Enroller {
	if c.agents == nil {
		return nil
	}
	return enroller{c}
}

type enroller struct{ c *Controller }

// Enrol makes a room's credentials; enrolling again replaces them and
// closes any session logged in with the old ones.
func (e enroller) Enrol(site, room string) (agents.Agent, string, error) {
	a, secret, err := e.c.agents.Add(site, room, e.c.cfg.Now())
	if err == nil {
		if n := e.c.broker.Kick(a.Username); n > 0 {
			e.c.log.Info("agent enrolled again: closed the session using the old secret", "user", a.Username)
		}
	}
	return a, secret, err
}

// Revoke removes a room's credentials, disconnects its agent, clears its
// retained status and forgets the room: it leaves the metrics and the API.
func (e enroller) Revoke(site, room string) error {
	if err := e.c.agents.Remove(site, room); err != nil {
		return err
	}
	kicked := e.c.broker.Kick(agents.Username(site, room))
	if err := e.c.mqtt.ClearRetained(wire.Topic(site, room, wire.KindStatus)); err != nil {
		e.c.log.Warn("could not clear the revoked room's retained status; it may reappear as offline", "site", site, "room", room, "err", err)
	}
	e.c.fleet.Revoke(site, room, e.c.cfg.Now())
	e.c.log.Info("agent revoked", "site", site, "room", room, "connections_closed", kicked)
	return nil
}

func (e enroller) List() []agents.Agent { return e.c.agents.List() }
