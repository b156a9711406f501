// Command siaprapat-controller keeps the fleet's readiness state: it runs (or
// joins) the MQTT broker the agents report to, stores each room's state, and
// serves Prometheus metrics and a JSON API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/siaprapat/siaprapat/controller"
	"github.com/siaprapat/siaprapat/controller/alerts"
	"github.com/siaprapat/siaprapat/controller/broker"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/history"
	"github.com/siaprapat/siaprapat/controller/premeeting"
	"github.com/siaprapat/siaprapat/controller/probe"
	"github.com/siaprapat/siaprapat/controller/rooms"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/controller/shard"
	"github.com/siaprapat/siaprapat/internal/boltfile"
	"github.com/siaprapat/siaprapat/internal/cli"
	"github.com/siaprapat/siaprapat/internal/config"
	"github.com/siaprapat/siaprapat/standard"
)

const usage = `usage: siaprapat-controller <command> [flags]

commands:
  serve     run the controller (embedded MQTT broker, store, metrics, API)
  check     check a room now through a running controller (exit 0 ready or degraded,
            1 not ready, 2 could not check)
  agent     enrol (add), revoke (remove) or list the agents allowed on the embedded broker
  version   print the version

Run 'siaprapat-controller <command> -h' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "agent":
		return agentCmd(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		cli.PrintVersion(stdout, "siaprapat-controller")
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "siaprapat-controller: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// serveFlags are serve's flags: the keys of the controller's configuration file.
type serveFlags struct {
	fs               *flag.FlagSet
	httpListen       *string
	mqttListen       *string
	mqttRequireLogin *bool
	mqttTLSListen    *string
	mqttTLSCert      *string
	mqttTLSKey       *string
	mqttClientCA     *string
	brokerURL        *string
	username         *string
	password         *string
	shardFlag        *string
	dataDir          *string
	maxRooms         *int
	stdFile          *string
	roomsFile        *string
	alertmanagers    cli.List
	apiToken         *string
	apiReadToken     *string
	metricsAuth      *bool
	apiOpenWrites    *bool
	webhooks         cli.List
	leadTimes        *string
	offlineGrace     *time.Duration
	zoneName         *string
	calendarInterval *time.Duration
	probeTokens      cli.List
	probeMaxSessions *int
	probeMaxBytes    *int64
	probeUDP         *string
	historyAge       *time.Duration
	historyPerRoom   *int
	historyBytes     *int64
	logLevel         *string
	repair           *bool
	checkConfig      *bool
	configFile       *string
}

func newServeFlags(stderr io.Writer) *serveFlags {
	fs := flag.NewFlagSet("siaprapat-controller serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := &serveFlags{fs: fs}
	config.SetUsage(fs, serveOptions)
	sf.httpListen = fs.String("http", controller.DefaultHTTPListen, "address of the HTTP API and /metrics")
	sf.mqttListen = fs.String("mqtt-listen", broker.DefaultListen, "address of the embedded MQTT broker; beyond loopback every client must log in (enrolled agents); '' turns the broker off")
	sf.mqttRequireLogin = fs.Bool("mqtt-require-login", false, "refuse MQTT clients without credentials even on loopback (beyond loopback they always must log in)")
	sf.mqttTLSListen = fs.String("mqtt-tls-listen", "", "address of the embedded broker's MQTT over TLS listener, e.g. :8883 (needs --mqtt-tls-cert and --mqtt-tls-key)")
	sf.mqttTLSCert = fs.String("mqtt-tls-cert", "", "PEM certificate file of the TLS listener")
	sf.mqttTLSKey = fs.String("mqtt-tls-key", "", "PEM key file of the TLS listener")
	sf.mqttClientCA = fs.String("mqtt-client-ca", "", "PEM CA file: agents may log in on the TLS listener with a client certificate whose common name is SITE/ROOM")
	sf.brokerURL = fs.String("broker", "", "external MQTT broker URL (mqtt://, tcp://, mqtts://, ssl://); turns the embedded broker off")
	sf.username = fs.String("username", "", "user name for the external broker")
	sf.password = fs.String("password", "", "password for the external broker")
	sf.shardFlag = fs.String("shard", "", "sites this controller owns when several share one external broker (--broker): site names or patterns with '*', comma-separated, e.g. 'kalbar-*,kaltim'; default every site")
	sf.dataDir = fs.String("data", controller.DefaultDataDir, "data directory: fleet.db, history.db, alerts.db, sessions.db and agents.db (the embedded broker's enrolled agents); a backup needs them all")
	sf.maxRooms = fs.Int("max-rooms", fleet.DefaultMaxRooms, "most rooms the fleet keeps; messages for further new rooms are refused and counted")
	sf.stdFile = fs.String("standard", "", "readiness standard YAML file (default: the embedded siaprapat-default)")
	sf.roomsFile = fs.String("rooms", "", "rooms file: the devices, calendar, zone and lead times of each room (YAML, see docs/controller.md)")
	fs.Var(&sf.alertmanagers, "alertmanager", "Alertmanager URL readiness alerts go to, e.g. http://localhost:9093 (repeatable)")
	sf.apiToken = fs.String("api-token", "", "admin token, required as 'Authorization: Bearer TOKEN' on the API's writing requests and to enrol agents from other machines")
	sf.apiReadToken = fs.String("api-read-token", "", "read token: when set, reading the API takes it (or the admin token)")
	sf.metricsAuth = fs.Bool("metrics-auth", false, "make /metrics take the read (or admin) token too")
	sf.apiOpenWrites = fs.Bool("api-open-writes", false, "without --api-token, take the API's writing requests (sessions, checks) from anyone who reaches the HTTP port; by default only from this machine")
	fs.Var(&sf.webhooks, "webhook", "URL that receives a JSON message (Bahasa Indonesia and English) per alert firing or resolved (repeatable)")
	sf.leadTimes = fs.String("lead-times", "30m,10m", "when rooms are checked before a session, comma-separated (a room may set its own in the rooms file)")
	sf.offlineGrace = fs.Duration("offline-grace", premeeting.DefaultOfflineGrace, "how long an agent may be away (a restart) before its room counts as offline for a meeting's alert; 0 for none")
	sf.zoneName = fs.String("zone", rooms.DefaultZone, "time zone of rooms that neither the rooms file nor the API gives one (Asia/Jakarta WIB, Asia/Makassar WITA, Asia/Jayapura WIT)")
	sf.calendarInterval = fs.Duration("calendar-interval", sessions.DefaultFeedInterval, "how often the rooms' iCalendar feeds are read")
	fs.Var(&sf.probeTokens, "probe-token", "token agents may use on the network probe besides their enrolled secrets (repeatable)")
	sf.probeMaxSessions = fs.Int("probe-max-sessions", probe.DefaultMaxSessions, "network tests the probe runs at once; more are told to retry later")
	sf.probeMaxBytes = fs.Int64("probe-max-bytes", probe.DefaultMaxBytesPerSession, "bytes one network test may move in each direction")
	sf.probeUDP = fs.String("probe-udp", "", "address of the probe's UDP echo (default: the --http address, on UDP)")
	sf.historyAge = fs.Duration("history-max-age", history.DefaultMaxAge, "reports older than this leave the report history")
	sf.historyPerRoom = fs.Int("history-max-per-room", history.DefaultMaxPerRoom, "most reports the history keeps per room (the oldest leave first)")
	sf.historyBytes = fs.Int64("history-max-bytes", history.DefaultMaxBytes, "most bytes of disk the report history's file uses (pages in use): past it, the oldest reports of every room alike leave first")
	sf.logLevel = fs.String("log-level", "info", "log level: debug, info, warn or error")
	sf.repair = fs.Bool("repair", false, "move aside each damaged data file (kept as FILE.damaged-TIME) and start with an empty one; without it the controller refuses to start on a damaged file")
	sf.checkConfig = fs.Bool("check-config", false, "check the flags, the configuration file and the standard, then exit")
	sf.configFile = fs.String("config", "", "configuration file (YAML, its keys are these flags' names; flags given here override it), e.g. /etc/siaprapat/controller.yaml")
	return sf
}

// serveOptions is how serve's flags meet the environment and the
// configuration file, whose keys are serve's flags.
var serveOptions = config.Options{
	Command: "siaprapat-controller serve",
	Skip:    []string{"config", "check-config"},
	Env: map[string][]string{
		"password":       envPassword,
		"api-token":      envAPIToken,
		"api-read-token": {"SIAPRAPAT_API_READ_TOKEN"},
		"probe-token":    {"SIAPRAPAT_PROBE_TOKEN"},
	},
}

func (sf *serveFlags) command() config.Command {
	return config.Command{Flags: sf.fs, File: true, Options: serveOptions}
}

func serve(args []string, stderr io.Writer) int {
	sf := newServeFlags(stderr)
	if err := sf.fs.Parse(args); err != nil {
		return 2
	}
	if sf.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "siaprapat-controller serve: unexpected argument %q\n", sf.fs.Arg(0))
		return 2
	}
	var file *config.File
	fail := func(err error) int {
		fmt.Fprintf(stderr, "siaprapat-controller: %v\n", file.Annotate(err))
		return 1
	}
	file, err := config.Resolve(sf.fs, *sf.configFile, serveOptions)
	if err != nil {
		return fail(err)
	}
	log, err := cli.Logger(stderr, *sf.logLevel)
	if err != nil {
		return fail(err)
	}
	std, err := standard.Load(*sf.stdFile)
	if err != nil {
		return fail(err)
	}
	leads, err := parseLeadTimes(*sf.leadTimes)
	if err != nil {
		return fail(err)
	}
	if *sf.offlineGrace < 0 || *sf.offlineGrace > time.Hour {
		return fail(fmt.Errorf("--offline-grace %v: want 0 (none) to 1h", *sf.offlineGrace))
	}
	grace := *sf.offlineGrace
	if grace == 0 {
		grace = -1 // premeeting: none
	}
	zone, err := time.LoadLocation(*sf.zoneName)
	if err != nil || *sf.zoneName == "" || *sf.zoneName == "Local" {
		return fail(fmt.Errorf("--zone %q: want an IANA time zone such as Asia/Jakarta, Asia/Makassar or Asia/Jayapura", *sf.zoneName))
	}
	var rc *rooms.Config
	if *sf.roomsFile != "" {
		if rc, err = rooms.Load(*sf.roomsFile); err != nil {
			return fail(err)
		}
	}
	sh, err := shard.Parse(*sf.shardFlag)
	if err != nil {
		return fail(fmt.Errorf("--%w", err))
	}
	if err := controller.CheckShard(sh, *sf.brokerURL); err != nil {
		return fail(err)
	}
	explicit := map[string]bool{}
	sf.fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if *sf.brokerURL != "" {
		if explicit["mqtt-tls-listen"] {
			return fail(errors.New("--broker and --mqtt-tls-listen both given: the TLS listener belongs to the embedded broker"))
		}
		if explicit["mqtt-listen"] && *sf.mqttListen != "" {
			return fail(errors.New("--broker and --mqtt-listen both given: use the external broker (--broker) or the embedded one (--mqtt-listen), not both"))
		}
		*sf.mqttListen = ""
	}
	if *sf.maxRooms < 1 {
		return fail(fmt.Errorf("--max-rooms %d: want at least 1", *sf.maxRooms))
	}
	if *sf.probeMaxSessions < 1 || *sf.probeMaxBytes < 1<<20 {
		return fail(fmt.Errorf("--probe-max-sessions %d, --probe-max-bytes %d: want at least 1 session and 1 MiB", *sf.probeMaxSessions, *sf.probeMaxBytes))
	}
	if err := alerts.CheckURLs(sf.alertmanagers, sf.webhooks); err != nil {
		return fail(err)
	}
	if *sf.calendarInterval < sessions.MinFeedInterval {
		return fail(fmt.Errorf("--calendar-interval %v: want at least %v (a calendar server is asked once per room each interval)", *sf.calendarInterval, sessions.MinFeedInterval))
	}
	if *sf.historyAge < time.Hour || *sf.historyPerRoom < 1 {
		return fail(fmt.Errorf("--history-max-age %v, --history-max-per-room %d: want at least 1h and at least 1 report", *sf.historyAge, *sf.historyPerRoom))
	}
	if *sf.historyBytes < history.MinMaxBytes {
		return fail(fmt.Errorf("--history-max-bytes %d: want at least %d (16 MiB)", *sf.historyBytes, history.MinMaxBytes))
	}
	if *sf.metricsAuth && *sf.apiReadToken == "" && *sf.apiToken == "" {
		return fail(errors.New("--metrics-auth needs a token to check: give --api-read-token (for Prometheus) or --api-token"))
	}
	if *sf.checkConfig {
		fmt.Fprintf(stderr, "configuration ok: standard %s (%s), %d rules, freshness %v\n", std, std.File(), len(std.Rules), std.Freshness)
		if rc != nil {
			fmt.Fprintf(stderr, "rooms file %s: %d rooms\n", *sf.roomsFile, len(rc.Rooms))
		}
		if sh != nil {
			fmt.Fprintf(stderr, "shard: sites %s\n", sh)
			if rc != nil {
				fmt.Fprintf(stderr, "rooms file %s: %d rooms in this shard\n", *sf.roomsFile, len(rc.Only(sh.Owns).Rooms))
			}
		}
		if file != nil {
			fmt.Fprintf(stderr, "configuration file %s: %d settings\n", file.Path, file.Settings())
		}
		return 0
	}
	log.Info("starting siaprapat-controller", "version", cli.Version(), "standard", std.String(), "freshness", std.Freshness)
	cfg := controller.Config{
		HTTPListen:       *sf.httpListen,
		History:          history.Options{MaxAge: *sf.historyAge, MaxPerRoom: *sf.historyPerRoom, MaxBytes: *sf.historyBytes},
		Probe:            probe.Config{Tokens: sf.probeTokens, MaxSessions: *sf.probeMaxSessions, MaxBytesPerSession: *sf.probeMaxBytes},
		ProbeUDP:         *sf.probeUDP,
		MQTTListen:       *sf.mqttListen,
		MQTTTLSListen:    *sf.mqttTLSListen,
		MQTTRequireLogin: *sf.mqttRequireLogin,
		MQTTTLSCert:      *sf.mqttTLSCert,
		MQTTTLSKey:       *sf.mqttTLSKey,
		MQTTClientCA:     *sf.mqttClientCA,
		APIReadToken:     *sf.apiReadToken,
		MetricsAuth:      *sf.metricsAuth,
		APIOpenWrites:    *sf.apiOpenWrites,
		Broker:           *sf.brokerURL,
		Username:         *sf.username,
		Password:         *sf.password,
		DataDir:          *sf.dataDir,
		MaxRooms:         *sf.maxRooms,
		Shard:            sh,
		Rooms:            rc,
		Alertmanagers:    sf.alertmanagers,
		Webhooks:         sf.webhooks,
		APIToken:         *sf.apiToken,
		LeadTimes:        leads,
		OfflineGrace:     grace,
		Zone:             zone,
		CalendarInterval: *sf.calendarInterval,
		Standard:         std,
		Log:              log,
	}
	c, err := startRepairing(cfg, *sf.repair)
	if err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case <-c.Done():
		err := c.Err()
		c.Close()
		return fail(fmt.Errorf("stopped: %w", err))
	}
	if err := c.Close(); err != nil {
		return fail(fmt.Errorf("stop: %w", err))
	}
	return 0
}

// startRepairing starts the controller; with repair, a data file it finds
// damaged is moved aside (and counted) and the start tried again, up to
// once per file.
func startRepairing(cfg controller.Config, repair bool) (*controller.Controller, error) {
	for {
		c, err := controller.Start(cfg)
		var de *boltfile.DamagedError
		if err == nil || !repair || !errors.As(err, &de) || slices.Contains(cfg.Repaired, filepath.Base(de.Path)) {
			return c, err
		}
		moved, merr := boltfile.MoveAside(de.Path, time.Now())
		if merr != nil {
			return nil, fmt.Errorf("%v; and --repair could not move it aside: %w", err, merr)
		}
		cfg.Log.Warn("--repair: moved a damaged data file aside; starting with an empty one", "file", de.Path, "kept_as", moved, "reason", de.Reason)
		cfg.Repaired = append(cfg.Repaired, filepath.Base(de.Path))
	}
}

func parseLeadTimes(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, p := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d <= 0 || d > 24*time.Hour {
			return nil, fmt.Errorf("--lead-times %q: want durations from 1s to 24h separated by commas, e.g. 30m,10m", s)
		}
		out = append(out, d)
	}
	return out, nil
}
