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

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("siaprapat-controller serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpListen := fs.String("http", controller.DefaultHTTPListen, "address of the HTTP API and /metrics")
	mqttListen := fs.String("mqtt-listen", broker.DefaultListen, "address of the embedded MQTT broker; beyond loopback every client must log in (enrolled agents); '' turns the broker off")
	mqttRequireLogin := fs.Bool("mqtt-require-login", false, "refuse MQTT clients without credentials even on loopback (beyond loopback they always must log in)")
	mqttTLSListen := fs.String("mqtt-tls-listen", "", "address of the embedded broker's MQTT over TLS listener, e.g. :8883 (needs --mqtt-tls-cert and --mqtt-tls-key)")
	mqttTLSCert := fs.String("mqtt-tls-cert", "", "PEM certificate file of the TLS listener")
	mqttTLSKey := fs.String("mqtt-tls-key", "", "PEM key file of the TLS listener")
	mqttClientCA := fs.String("mqtt-client-ca", "", "PEM CA file: agents may log in on the TLS listener with a client certificate whose common name is SITE/ROOM")
	brokerURL := fs.String("broker", "", "external MQTT broker URL (mqtt://, tcp://, mqtts://, ssl://); turns the embedded broker off")
	username := fs.String("username", "", "user name for the external broker")
	password := fs.String("password", "", "password for the external broker (or set SIAPRAPAT_MQTT_PASSWORD)")
	shardFlag := fs.String("shard", "", "sites this controller owns when several share one external broker (--broker): site names or patterns with '*', comma-separated, e.g. 'kalbar-*,kaltim'; default every site")
	dataDir := fs.String("data", controller.DefaultDataDir, "data directory (fleet.db, history.db, alerts.db)")
	maxRooms := fs.Int("max-rooms", fleet.DefaultMaxRooms, "most rooms the fleet keeps; messages for further new rooms are refused and counted")
	stdFile := fs.String("standard", "", "readiness standard YAML file (default: the embedded siaprapat-default)")
	roomsFile := fs.String("rooms", "", "rooms file: the devices each room should have (YAML, see README)")
	var alertmanagers cli.List
	fs.Var(&alertmanagers, "alertmanager", "Alertmanager URL readiness alerts go to, e.g. http://localhost:9093 (repeatable)")
	apiToken := fs.String("api-token", "", "admin token, required as 'Authorization: Bearer TOKEN' on the API's writing requests and to enrol agents from other machines (or set SIAPRAPAT_API_TOKEN)")
	apiReadToken := fs.String("api-read-token", "", "read token: when set, reading the API takes it (or the admin token) (or set SIAPRAPAT_API_READ_TOKEN)")
	metricsAuth := fs.Bool("metrics-auth", false, "make /metrics take the read (or admin) token too")
	apiOpenWrites := fs.Bool("api-open-writes", false, "without --api-token, take the API's writing requests (sessions, checks) from anyone who reaches the HTTP port; by default only from this machine")
	var webhooks cli.List
	fs.Var(&webhooks, "webhook", "URL that receives a JSON message (Bahasa Indonesia and English) per alert firing or resolved (repeatable)")
	leadTimes := fs.String("lead-times", "30m,10m", "when rooms are checked before a session, comma-separated (a room may set its own in the rooms file)")
	offlineGrace := fs.Duration("offline-grace", premeeting.DefaultOfflineGrace, "how long an agent may be away (a restart) before its room counts as offline for a meeting's alert; 0 for none")
	zoneName := fs.String("zone", rooms.DefaultZone, "time zone of rooms that neither the rooms file nor the API gives one (Asia/Jakarta WIB, Asia/Makassar WITA, Asia/Jayapura WIT)")
	calendarInterval := fs.Duration("calendar-interval", sessions.DefaultFeedInterval, "how often the rooms' iCalendar feeds are read")
	var probeTokens cli.List
	fs.Var(&probeTokens, "probe-token", "token agents may use on the network probe besides their enrolled secrets (repeatable; or set SIAPRAPAT_PROBE_TOKEN)")
	probeMaxSessions := fs.Int("probe-max-sessions", probe.DefaultMaxSessions, "network tests the probe runs at once; more are told to retry later")
	probeMaxBytes := fs.Int64("probe-max-bytes", probe.DefaultMaxBytesPerSession, "bytes one network test may move in each direction")
	probeUDP := fs.String("probe-udp", "", "address of the probe's UDP echo (default: the --http address, on UDP)")
	historyAge := fs.Duration("history-max-age", history.DefaultMaxAge, "reports older than this leave the report history")
	historyPerRoom := fs.Int("history-max-per-room", history.DefaultMaxPerRoom, "most reports the history keeps per room (the oldest leave first)")
	historyBytes := fs.Int64("history-max-bytes", history.DefaultMaxBytes, "most bytes of disk the report history's file uses (pages in use): past it, the oldest reports of every room alike leave first")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	repair := fs.Bool("repair", false, "move aside each damaged data file (kept as FILE.damaged-TIME) and start with an empty one; without it the controller refuses to start on a damaged file")
	checkConfig := fs.Bool("check-config", false, "check the flags, the configuration file and the standard, then exit")
	configFile := fs.String("config", "", "configuration file (YAML, its keys are these flags' names; flags given here override it), e.g. /etc/siaprapat/controller.yaml")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "siaprapat-controller serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var file *config.File
	fail := func(err error) int {
		fmt.Fprintf(stderr, "siaprapat-controller: %v\n", file.Annotate(err))
		return 1
	}
	if *configFile != "" {
		var err error
		file, err = config.Apply(fs, *configFile, config.Options{
			Command: "siaprapat-controller serve",
			Skip:    []string{"config", "check-config"},
			Env: map[string][]string{
				"password":       {"SIAPRAPAT_MQTT_PASSWORD"},
				"api-token":      {"SIAPRAPAT_API_TOKEN"},
				"api-read-token": {"SIAPRAPAT_API_READ_TOKEN"},
			},
		})
		if err != nil {
			return fail(err)
		}
	}
	log, err := cli.Logger(stderr, *logLevel)
	if err != nil {
		return fail(err)
	}
	std, err := standard.Load(*stdFile)
	if err != nil {
		return fail(err)
	}
	leads, err := parseLeadTimes(*leadTimes)
	if err != nil {
		return fail(err)
	}
	if *offlineGrace < 0 || *offlineGrace > time.Hour {
		return fail(fmt.Errorf("--offline-grace %v: want 0 (none) to 1h", *offlineGrace))
	}
	grace := *offlineGrace
	if grace == 0 {
		grace = -1 // premeeting: none
	}
	zone, err := time.LoadLocation(*zoneName)
	if err != nil || *zoneName == "" || *zoneName == "Local" {
		return fail(fmt.Errorf("--zone %q: want an IANA time zone such as Asia/Jakarta, Asia/Makassar or Asia/Jayapura", *zoneName))
	}
	var rc *rooms.Config
	if *roomsFile != "" {
		if rc, err = rooms.Load(*roomsFile); err != nil {
			return fail(err)
		}
	}
	sh, err := shard.Parse(*shardFlag)
	if err != nil {
		return fail(fmt.Errorf("--%w", err))
	}
	if sh != nil && *brokerURL == "" {
		return fail(fmt.Errorf("--shard %q without --broker: shards share one external broker (each agent reports to it, and the controller owning its site takes the report); the embedded broker serves one controller's agents alone", *shardFlag))
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if *brokerURL != "" {
		if explicit["mqtt-tls-listen"] {
			return fail(errors.New("--broker and --mqtt-tls-listen both given: the TLS listener belongs to the embedded broker"))
		}
		if explicit["mqtt-listen"] && *mqttListen != "" {
			return fail(errors.New("--broker and --mqtt-listen both given: use the external broker (--broker) or the embedded one (--mqtt-listen), not both"))
		}
		*mqttListen = ""
	}
	if *maxRooms < 1 {
		return fail(fmt.Errorf("--max-rooms %d: want at least 1", *maxRooms))
	}
	if t := os.Getenv("SIAPRAPAT_PROBE_TOKEN"); t != "" {
		probeTokens = append(probeTokens, t)
	}
	if *probeMaxSessions < 1 || *probeMaxBytes < 1<<20 {
		return fail(fmt.Errorf("--probe-max-sessions %d, --probe-max-bytes %d: want at least 1 session and 1 MiB", *probeMaxSessions, *probeMaxBytes))
	}
	if err := alerts.CheckURLs(alertmanagers, webhooks); err != nil {
		return fail(err)
	}
	if *calendarInterval < sessions.MinFeedInterval {
		return fail(fmt.Errorf("--calendar-interval %v: want at least %v (a calendar server is asked once per room each interval)", *calendarInterval, sessions.MinFeedInterval))
	}
	if *historyAge < time.Hour || *historyPerRoom < 1 {
		return fail(fmt.Errorf("--history-max-age %v, --history-max-per-room %d: want at least 1h and at least 1 report", *historyAge, *historyPerRoom))
	}
	if *historyBytes < history.MinMaxBytes {
		return fail(fmt.Errorf("--history-max-bytes %d: want at least %d (16 MiB)", *historyBytes, history.MinMaxBytes))
	}
	if *password == "" {
		*password = os.Getenv("SIAPRAPAT_MQTT_PASSWORD")
	}
	if *apiToken == "" {
		*apiToken = os.Getenv("SIAPRAPAT_API_TOKEN")
	}
	if *apiReadToken == "" {
		*apiReadToken = os.Getenv("SIAPRAPAT_API_READ_TOKEN")
	}
	if *metricsAuth && *apiReadToken == "" && *apiToken == "" {
		return fail(errors.New("--metrics-auth needs a token to check: give --api-read-token (for Prometheus) or --api-token"))
	}
	if *checkConfig {
		fmt.Fprintf(stderr, "configuration ok: standard %s (%s), %d rules, freshness %v\n", std, std.File(), len(std.Rules), std.Freshness)
		if rc != nil {
			fmt.Fprintf(stderr, "rooms file %s: %d rooms\n", *roomsFile, len(rc.Rooms))
		}
		if sh != nil {
			fmt.Fprintf(stderr, "shard: sites %s\n", sh)
			if rc != nil {
				fmt.Fprintf(stderr, "rooms file %s: %d rooms in this shard\n", *roomsFile, len(rc.Only(sh.Owns).Rooms))
			}
		}
		if file != nil {
			fmt.Fprintf(stderr, "configuration file %s: %d settings\n", file.Path, file.Settings())
		}
		return 0
	}
	log.Info("starting siaprapat-controller", "version", cli.Version(), "standard", std.String(), "freshness", std.Freshness)
	cfg := controller.Config{
		HTTPListen:       *httpListen,
		History:          history.Options{MaxAge: *historyAge, MaxPerRoom: *historyPerRoom, MaxBytes: *historyBytes},
		Probe:            probe.Config{Tokens: probeTokens, MaxSessions: *probeMaxSessions, MaxBytesPerSession: *probeMaxBytes},
		ProbeUDP:         *probeUDP,
		MQTTListen:       *mqttListen,
		MQTTTLSListen:    *mqttTLSListen,
		MQTTRequireLogin: *mqttRequireLogin,
		MQTTTLSCert:      *mqttTLSCert,
		MQTTTLSKey:       *mqttTLSKey,
		MQTTClientCA:     *mqttClientCA,
		APIReadToken:     *apiReadToken,
		MetricsAuth:      *metricsAuth,
		APIOpenWrites:    *apiOpenWrites,
		Broker:           *brokerURL,
		Username:         *username,
		Password:         *password,
		DataDir:          *dataDir,
		MaxRooms:         *maxRooms,
		Shard:            sh,
		Rooms:            rc,
		Alertmanagers:    alertmanagers,
		Webhooks:         webhooks,
		APIToken:         *apiToken,
		LeadTimes:        leads,
		OfflineGrace:     grace,
		Zone:             zone,
		CalendarInterval: *calendarInterval,
		Standard:         std,
		Log:              log,
	}
	c, err := startRepairing(cfg, *repair)
	if err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("stopping")
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
