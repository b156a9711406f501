// Command siaprapat-agent checks a video-conference room against the
// readiness standard and reports to the controller over MQTT.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/siaprapat/siaprapat/agent"
	"github.com/siaprapat/siaprapat/agent/audio"
	"github.com/siaprapat/siaprapat/agent/camera"
	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/agent/host"
	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/netcheck"
	"github.com/siaprapat/siaprapat/agent/peripherals"
	"github.com/siaprapat/siaprapat/agent/quiet"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/agent/spool"
	"github.com/siaprapat/siaprapat/internal/boltfile"
	"github.com/siaprapat/siaprapat/internal/cli"
	"github.com/siaprapat/siaprapat/internal/config"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

const usage = `usage: siaprapat-agent <command> [flags]

commands:
  run       check the room every interval and report to the controller over MQTT
  check     check the room once and print the verdicts (exit 0 ready or degraded, 1 not ready, 2 could not check)
  enroll    write this room's configuration with its credentials (from the controller's
            'agent add' file, or by asking the controller)
  service   install or uninstall the agent as a Windows service
  simulate  simulate a fleet of rooms against a broker (demo and load generator)
  version   print the version

Run 'siaprapat-agent <command> -h' for a command's flags.
`

// Exit codes of check.
const (
	exitReady    = 0 // ready or degraded
	exitNotReady = 1
	exitNoCheck  = 2 // could not check (bad flags, bad standard, nothing measured)
)

func main() {
	restoreStdout()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitNoCheck
	}
	switch args[0] {
	case "run":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runDaemon(ctx, args[1:], stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "enroll":
		return enroll(args[1:], stdout, stderr)
	case "service":
		return serviceCmd(args[1:], stdout, stderr)
	case "simulate":
		return simulate(args[1:], stderr)
	case "version", "--version", "-version":
		cli.PrintVersion(stdout, "siaprapat-agent")
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "siaprapat-agent: unknown command %q\n\n%s", args[0], usage)
	return exitNoCheck
}

// common holds the flags run and check share.
type common struct {
	only     *string
	stdFile  *string
	timeout  *time.Duration
	logLevel *string
	sysfs    *string
	profiles *string

	cameraSource  *string
	cameraWindow  *time.Duration
	cameraDevices cli.List
	micSource     *string
	audioWindow   *time.Duration
	microphone    *string
	speaker       *string
	noLoopback    *bool
	loopbackEvery *time.Duration
	probeURL      *string
	probeToken    *string
	networkEvery  *time.Duration
	networkWindow *time.Duration
	quietMargin   *time.Duration
	busyWindow    *time.Duration
	mqttPassword  string // run's --password, once parsed: the probe takes it too
	// clock is the PC's clock against the controller's: run measures it
	// from the acknowledgements, the host check reports it.
	clock *host.ClockOffset
	// spoolRepairs counts the damaged spools run moved aside (--repair);
	// the host check reports it.
	spoolRepairs *atomic.Int64
}

func commonFlags(fs *flag.FlagSet) *common {
	c := &common{
		clock:        &host.ClockOffset{},
		spoolRepairs: &atomic.Int64{},
		only:         fs.String("only", "", "comma-separated checks to run (default: all): "+strings.Join(checkNames(), ",")),
		stdFile:      fs.String("standard", "", "readiness standard YAML file (default: the embedded siaprapat-default)"),
		timeout:      fs.Duration("check-timeout", runner.DefaultTimeout, "deadline for each check"),
		logLevel:     fs.String("log-level", "info", "log level: debug, info, warn or error"),
		sysfs:        fs.String("sysfs", peripherals.DefaultSysfs, "sysfs root the peripherals check reads USB devices from (a captured tree for inspection)"),
		profiles:     fs.String("profiles", "", "directory of hardware profile YAML files (default: the embedded firmware-profiles/devices)"),

		cameraSource:  fs.String("camera-source", "", "camera check input: '' for this PC's cameras, file:PATH.y4m for a recorded clip (ffmpeg -f yuv4mpegpipe)"),
		cameraWindow:  fs.Duration("camera-window", camera.DefaultWindow, "how long each camera is captured, from its first frame"),
		micSource:     fs.String("mic-source", "", "audio check input: '' for this PC's microphone, file:PATH.wav for a recording (PCM WAV)"),
		audioWindow:   fs.Duration("audio-window", audio.DefaultWindow, "how long the microphone is recorded"),
		microphone:    fs.String("microphone", "", "microphone to check, by part of its name (default: the system's default input)"),
		speaker:       fs.String("speaker", "", "speaker the loopback plays on, by part of its name (default: the system's default output)"),
		noLoopback:    fs.Bool("no-loopback", false, "never play the loopback test signal (rooms that must stay silent)"),
		loopbackEvery: fs.Duration("loopback-every", audio.DefaultLoopbackEvery, "least time between two loopback test signals; checks in between measure the microphone only (0: every check)"),
	}
	c.probeURL = fs.String("probe-url", "", "the controller's base URL for the network test, e.g. http://controller:9780; none: the network check is skipped")
	c.probeToken = fs.String("probe-token", "", "token for the controller's probe; default: the agent's MQTT password, which enrolled agents use")
	c.networkEvery = fs.Duration("network-every", agent.DefaultNetworkEvery, "least time between two network tests (each moves tens of MB); checks in between repeat the last figures; 0: every check")
	c.networkWindow = fs.Duration("network-window", netcheck.DefaultWindow, "longest measured time per direction of the network test (after a 1.5 s ramp-up); it stops earlier once the rate is steady")
	c.busyWindow = fs.Duration("network-busy-window", netcheck.DefaultBusyWindow, "how long the PC's interface counters are watched before a network test: a link carrying more than a third of the last measured rate is not tested (0: not watched)")
	c.quietMargin = fs.Duration("quiet-margin", quiet.DefaultMargin, "quiet time before each of the room's meetings and after it: no network test, no loopback sound, no camera opened (0: none)")
	fs.Var(&c.cameraDevices, "camera-device", "camera to check: on Linux /dev/videoN or a /dev/v4l/by-id link, on Windows (part of) its name, e.g. \"C920\" (repeatable; default: every camera)")
	return c
}

func checkNames() []string {
	var names []string
	checks, _ := agent.Checks(agent.Hardware{}) // the zero configuration is valid
	for _, c := range checks {
		names = append(names, c.Name())
	}
	return names
}

// margin is the quiet gate's margin: --quiet-margin, where 0 means none.
func (c *common) margin() time.Duration {
	if *c.quietMargin == 0 {
		return -1
	}
	return *c.quietMargin
}

// newRunner builds the runner from the shared flags; the checks log to log
// (nil discards).
func (c *common) newRunner(site, room string, log *slog.Logger) (*runner.Runner, error) {
	std, err := standard.Load(*c.stdFile)
	if err != nil {
		return nil, err
	}
	profiles, err := peripherals.LoadProfilesDir(*c.profiles)
	if err != nil {
		return nil, err
	}
	every := *c.loopbackEvery
	if every == 0 {
		every = -1 // audio.Config: every check
	}
	// The probe takes the agent's MQTT secret by default, as the
	// controller's does for enrolled agents.
	probe, token := *c.probeURL, cmp.Or(*c.probeToken, c.mqttPassword)
	if *c.networkEvery < 0 || *c.networkWindow < 0 || *c.busyWindow < 0 {
		return nil, fmt.Errorf("--network-every %v, --network-window %v, --network-busy-window %v: must not be negative", *c.networkEvery, *c.networkWindow, *c.busyWindow)
	}
	busy := *c.busyWindow
	if busy == 0 {
		busy = -1 // netcheck.Config: not watched
	}
	all, err := agent.Checks(agent.Hardware{
		Clock:        c.clock,
		SpoolRepairs: c.spoolRepairs,
		Network:      netcheck.Config{Probe: probe, Token: token, Room: site + "/" + room, Window: *c.networkWindow, BusyWindow: busy},
		NetworkEvery: *c.networkEvery,
		Sysfs:        *c.sysfs, Profiles: profiles, Log: log,
		Camera: camera.Config{Source: *c.cameraSource, Window: *c.cameraWindow, Devices: c.cameraDevices},
		Audio: audio.Config{Source: *c.micSource, Window: *c.audioWindow, Microphone: *c.microphone, Speaker: *c.speaker,
			NoLoopback: *c.noLoopback, LoopbackEvery: every},
	})
	if err != nil {
		return nil, err
	}
	checks, err := runner.Select(all, runner.ParseOnly(*c.only))
	if err != nil {
		return nil, fmt.Errorf("--only: %w", err)
	}
	if *c.timeout <= 0 {
		return nil, fmt.Errorf("--check-timeout %v: must be positive", *c.timeout)
	}
	if *c.quietMargin < 0 || *c.quietMargin > 24*time.Hour {
		return nil, fmt.Errorf("--quiet-margin %v: want 0 to 24h", *c.quietMargin)
	}
	return &runner.Runner{
		Site: site, Room: room, AgentVersion: cli.Version(), Standard: std,
		Checks: checks, Timeout: *c.timeout,
	}, nil
}

func parse(fs *flag.FlagSet, args []string) bool {
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		return false
	}
	return true
}

// runFlags are run's flags: the keys of the agent's configuration file.
type runFlags struct {
	fs           *flag.FlagSet
	configFile   *string
	checkConfig  *bool
	brokerURL    *string
	site         *string
	room         *string
	interval     *time.Duration
	keepAlive    *time.Duration
	username     *string
	password     *string
	dataDir      *string
	spoolReports *int
	spoolBytes   *int64
	repair       *bool
	cf           *common
}

func newRunFlags(stderr io.Writer) *runFlags {
	fs := flag.NewFlagSet("siaprapat-agent run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config.SetUsage(fs, runOptions())
	return &runFlags{
		fs:           fs,
		configFile:   fs.String("config", "", "configuration file (YAML, its keys are these flags' names; flags given here override it), e.g. "+defaultConfigFile()),
		checkConfig:  fs.Bool("check-config", false, "check the flags and the configuration file, print a summary, exit"),
		brokerURL:    fs.String("broker", "mqtt://127.0.0.1:1883", "MQTT broker URL (mqtt://, tcp://, mqtts://, ssl://)"),
		site:         fs.String("site", "", "site (region or office) of this room (required)"),
		room:         fs.String("room", "", "room id (required)"),
		interval:     fs.Duration("interval", agent.DefaultInterval, "how often to check the room and report"),
		keepAlive:    fs.Duration("keepalive", link.DefaultKeepAlive, "MQTT keepalive; the broker declares the agent offline after 1.5 times this without a word"),
		username:     fs.String("username", "", "MQTT user name"),
		password:     fs.String("password", "", "MQTT password"),
		dataDir:      fs.String("data", "", "directory for the spool of reports waiting for the controller (spool.db), the room's schedule (schedule.json) and the last network test (last-network.json, repeated after a restart until --network-every is over); none: reports the broker cannot take are dropped"),
		spoolReports: fs.Int("spool-max-reports", spool.DefaultLimits.MaxReports, "most reports the spool keeps (the oldest are dropped first)"),
		spoolBytes:   fs.Int64("spool-max-bytes", spool.DefaultLimits.MaxBytes, "most bytes the spool keeps (the oldest are dropped first)"),
		repair:       fs.Bool("repair", false, "move a damaged spool aside (kept as spool.db.damaged-TIME) and start with an empty one; without it the agent refuses to start on a damaged spool"),
		cf:           commonFlags(fs),
	}
}

// Environment variables of the agent's settings.
var (
	envPassword   = []string{"SIAPRAPAT_MQTT_PASSWORD"}
	envProbeURL   = []string{"SIAPRAPAT_PROBE_URL", "SIAPRAPAT_CONTROLLER"}
	envProbeToken = []string{"SIAPRAPAT_PROBE_TOKEN"}
	envAPIToken   = []string{"SIAPRAPAT_API_TOKEN"}
)

// runOptions is how run's flags meet the environment and the agent's
// configuration file, whose keys are run's flags.
func runOptions() config.Options {
	return config.Options{
		Command: "siaprapat-agent run",
		Skip:    []string{"config", "check-config"},
		Env:     map[string][]string{"password": envPassword, "probe-url": envProbeURL, "probe-token": envProbeToken},
	}
}

func (rf *runFlags) command() config.Command {
	return config.Command{Flags: rf.fs, File: true, Options: runOptions()}
}

func runDaemon(ctx context.Context, args []string, stderr io.Writer) int {
	rf := newRunFlags(stderr)
	cf := rf.cf
	if !parse(rf.fs, args) {
		return exitNoCheck
	}
	var file *config.File
	fail := func(err error) int {
		fmt.Fprintf(stderr, "siaprapat-agent: %v\n", file.Annotate(err))
		return exitNoCheck
	}
	file, err := config.Resolve(rf.fs, *rf.configFile, runOptions())
	if err != nil {
		return fail(err)
	}
	log, err := cli.Logger(stderr, *cf.logLevel)
	if err != nil {
		return fail(err)
	}
	if *rf.site == "" && *rf.room == "" && file != nil {
		return fail(fmt.Errorf("%s names no site and room: enrol this room first (siaprapat-agent enroll)", file.Path))
	}
	if err := wire.CheckName("--site", *rf.site); err != nil {
		return fail(err)
	}
	if err := wire.CheckName("--room", *rf.room); err != nil {
		return fail(err)
	}
	if _, err := wire.BrokerURL(*rf.brokerURL); err != nil {
		return fail(err)
	}
	cf.mqttPassword = *rf.password
	r, err := cf.newRunner(*rf.site, *rf.room, log.With("site", *rf.site, "room", *rf.room))
	if err != nil {
		return fail(err)
	}
	if *rf.interval <= 0 {
		return fail(fmt.Errorf("--interval %v: must be positive", *rf.interval))
	}
	if *rf.keepAlive < time.Second || *rf.keepAlive > 65535*time.Second {
		return fail(fmt.Errorf("--keepalive %v: want 1s to 18h12m15s", *rf.keepAlive))
	}
	if *rf.checkConfig {
		printRunSummary(stderr, rf, r, file)
		return 0
	}
	log = log.With("site", *rf.site, "room", *rf.room)
	r.Log = log
	sched, err := quiet.OpenSchedule(*rf.dataDir, *rf.site, *rf.room, log)
	if err != nil {
		return fail(err)
	}
	r.Quiet = agent.Gate(sched, cf.margin(), log)
	if *rf.dataDir != "" {
		// A restart repeats the last network test until --network-every is over.
		r.Keep = runner.FileKeeper(*rf.dataDir)
	}
	log.Info("starting siaprapat-agent", "version", cli.Version(), "broker", link.Describe(*rf.brokerURL), "interval", *rf.interval, "standard", r.Standard.String())
	acfg := agent.Config{
		Link: link.Options{
			Broker: *rf.brokerURL, Site: *rf.site, Room: *rf.room, KeepAlive: *rf.keepAlive,
			Username: *rf.username, Password: *rf.password,
		},
		Interval: *rf.interval,
		Runner:   r,
		DataDir:  *rf.dataDir,
		Spool:    spool.Limits{MaxReports: *rf.spoolReports, MaxBytes: *rf.spoolBytes},
		Schedule: sched,
		Clock:    cf.clock,
		Log:      log,
	}
	err = agent.Run(ctx, acfg)
	var de *boltfile.DamagedError
	if err != nil && *rf.repair && errors.As(err, &de) {
		moved, merr := boltfile.MoveAside(de.Path, time.Now())
		if merr != nil {
			return fail(fmt.Errorf("%v; and --repair could not move it aside: %w", err, merr))
		}
		cf.spoolRepairs.Add(1)
		log.Warn("--repair: moved a damaged spool aside; starting with an empty one (the host check reports spool_repairs)", "file", de.Path, "kept_as", moved, "reason", de.Reason)
		err = agent.Run(ctx, acfg)
	}
	if err != nil {
		return fail(err)
	}
	log.Info("stopped")
	return 0
}

// printRunSummary is run --check-config's answer: what the agent would do.
func printRunSummary(w io.Writer, rf *runFlags, r *runner.Runner, file *config.File) {
	var names []string
	for _, c := range r.Checks {
		names = append(names, c.Name())
	}
	login := "without credentials"
	if *rf.username != "" {
		login = "as " + *rf.username
		if *rf.password == "" {
			login += " (no password: set password or SIAPRAPAT_MQTT_PASSWORD)"
		}
	}
	spooled := "no spool (reports the broker cannot take are dropped)"
	if *rf.dataDir != "" {
		spooled = "spool in " + *rf.dataDir
	}
	fmt.Fprintf(w, "configuration ok: room %s/%s, broker %s %s, every %v, checks %s, standard %s, %s\n",
		*rf.site, *rf.room, link.Describe(*rf.brokerURL), login, *rf.interval, strings.Join(names, ","), r.Standard, spooled)
	if file != nil {
		fmt.Fprintf(w, "configuration file %s: %d settings\n", file.Path, file.Settings())
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// localRoom names this PC for a local check when no --room is given.
func localRoom() string {
	h, _ := os.Hostname()
	h = strings.Trim(unsafeName.ReplaceAllString(h, "-"), "-._")
	if len(h) > 64 {
		h = h[:64]
	}
	if !wire.ValidName(h) {
		return "local"
	}
	return h
}

// checkFlags are check's flags; it reads the agent's configuration file,
// whose keys are run's flags.
type checkFlags struct {
	fs         *flag.FlagSet
	asJSON     *bool
	site       *string
	room       *string
	configFile *string
	cf         *common
}

func newCheckFlags(stderr io.Writer) *checkFlags {
	fs := flag.NewFlagSet("siaprapat-agent check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kf := &checkFlags{
		fs:         fs,
		asJSON:     fs.Bool("json", false, "print the Report as JSON instead of a table"),
		site:       fs.String("site", "local", "site named in the report"),
		room:       fs.String("room", "", "room named in the report (default: this PC's host name)"),
		configFile: fs.String("config", "", "the agent's configuration file: check with its settings (flags given here override it)"),
		cf:         commonFlags(fs),
	}
	config.SetUsage(fs, kf.options())
	return kf
}

// options is how check's flags meet the environment and the agent's file:
// the keys of run's flags that check has not are accepted and left alone,
// but the MQTT password, which the network probe takes by default.
func (kf *checkFlags) options() config.Options {
	var others []string
	newRunFlags(io.Discard).fs.VisitAll(func(f *flag.Flag) {
		if kf.fs.Lookup(f.Name) == nil && f.Name != "password" {
			others = append(others, f.Name)
		}
	})
	return config.Options{
		Command: "siaprapat-agent run",
		Skip:    []string{"config", "check-config", "json"},
		Others:  others,
		Env:     map[string][]string{"password": envPassword, "probe-url": envProbeURL, "probe-token": envProbeToken},
		Secrets: []config.Secret{{Key: "password", Value: &kf.cf.mqttPassword,
			Usage: "the agent's MQTT password (run's --password): the network probe's token when --probe-token is not given"}},
	}
}

func (kf *checkFlags) command() config.Command {
	return config.Command{Flags: kf.fs, File: true, Options: kf.options()}
}

func check(args []string, stdout, stderr io.Writer) int {
	kf := newCheckFlags(stderr)
	asJSON, site, room, cf := kf.asJSON, kf.site, kf.room, kf.cf
	if !parse(kf.fs, args) {
		return exitNoCheck
	}
	var file *config.File
	fail := func(err error) int {
		fmt.Fprintf(stderr, "siaprapat-agent check: %v\n", file.Annotate(err))
		return exitNoCheck
	}
	file, err := config.Resolve(kf.fs, *kf.configFile, kf.options())
	if err != nil {
		return fail(err)
	}
	if *room == "" {
		*room = localRoom()
	}
	log, err := cli.Logger(stderr, *cf.logLevel)
	if err != nil {
		return fail(err)
	}
	if err := wire.CheckName("--site", *site); err != nil {
		return fail(err)
	}
	if err := wire.CheckName("--room", *room); err != nil {
		return fail(err)
	}
	r, err := cf.newRunner(*site, *room, log)
	if err != nil {
		return fail(err)
	}
	r.Log = log
	// A check by hand stays as quiet as the daemon: in the meetings of the
	// schedule the daemon keeps (with --config naming its data directory),
	// and while a meeting app holds the devices.
	var sched *quiet.Schedule
	if file != nil && file.Other("data") != "" {
		dir := file.Other("data")
		if sched, err = quiet.OpenSchedule(dir, *site, *room, log); err != nil {
			return fail(err)
		}
	}
	r.Quiet = agent.Gate(sched, cf.margin(), log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := r.Run(ctx)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return fail(err)
		}
	} else {
		printTable(stdout, rep, r.Standard)
	}
	return exitCode(rep)
}

// exitCode maps a report to check's exit code: 2 when nothing could be
// measured, 1 when not ready, 0 when ready or degraded.
func exitCode(rep *wire.Report) int {
	measured := false
	for _, c := range rep.Checks {
		if c.Verdict != wire.Error {
			measured = true
		}
	}
	switch {
	case !measured:
		return exitNoCheck
	case rep.Verdict == wire.NotReady:
		return exitNotReady
	}
	return exitReady
}

func printTable(w io.Writer, rep *wire.Report, std *standard.Standard) {
	fmt.Fprintf(w, "siaprapat check of %s/%s, standard %s, %s\n\n", rep.Site, rep.Room, std, rep.MeasuredAt.Local().Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tTARGET\tRULE\tVERDICT\tOBSERVED\tWANT\tREASON")
	for _, c := range rep.Checks {
		if len(c.Rules) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t%s\t\t\t%s\n", c.Check, c.Target, strings.ToUpper(string(c.Verdict)), c.Reason)
			continue
		}
		for _, rr := range c.Rules {
			obs := "-"
			if rr.Observed != nil {
				obs = standard.Format(measurementOf(std, rr.Rule), *rr.Observed)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Check, c.Target, rr.Rule, strings.ToUpper(string(rr.Verdict)), obs, rr.Want, rr.Reason)
		}
	}
	tw.Flush()
	for _, c := range rep.Checks {
		if len(c.Rules) > 0 && c.Reason != "" {
			fmt.Fprintf(w, "\nnote (%s): %s\n", c.Check, c.Reason)
		}
	}
	fmt.Fprintf(w, "\nroom verdict: %s\n", strings.ToUpper(string(rep.Verdict)))
}

func measurementOf(std *standard.Standard, rule string) string {
	if r, ok := std.Rule(rule); ok {
		return r.Measurement
	}
	return ""
}

type simulateFlags struct {
	fs                  *flag.FlagSet
	brokerURL           *string
	rooms, sites        *int
	interval, keepAlive *time.Duration
	seed                *uint64
	stdFile, logLevel   *string
}

func newSimulateFlags(stderr io.Writer) *simulateFlags {
	fs := flag.NewFlagSet("siaprapat-agent simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &simulateFlags{
		fs:        fs,
		brokerURL: fs.String("broker", "mqtt://127.0.0.1:1883", "MQTT broker URL"),
		rooms:     fs.Int("rooms", 20, "simulated rooms"),
		sites:     fs.Int("sites", 3, "sites the rooms are spread over"),
		interval:  fs.Duration("interval", agent.DefaultInterval, "how often each room reports"),
		keepAlive: fs.Duration("keepalive", link.DefaultKeepAlive, "MQTT keepalive of each simulated agent"),
		seed:      fs.Uint64("seed", 1, "seed of the drawn measurements"),
		stdFile:   fs.String("standard", "", "readiness standard YAML file (default: the embedded siaprapat-default)"),
		logLevel:  fs.String("log-level", "info", "log level: debug, info, warn or error"),
	}
}

func simulate(args []string, stderr io.Writer) int {
	sf := newSimulateFlags(stderr)
	brokerURL, rooms, sites, interval, keepAlive, seed, stdFile, logLevel :=
		sf.brokerURL, sf.rooms, sf.sites, sf.interval, sf.keepAlive, sf.seed, sf.stdFile, sf.logLevel
	if !parse(sf.fs, args) {
		return exitNoCheck
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "siaprapat-agent simulate: %v\n", err)
		return exitNoCheck
	}
	log, err := cli.Logger(stderr, *logLevel)
	if err != nil {
		return fail(err)
	}
	std, err := standard.Load(*stdFile)
	if err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("simulating a fleet", "rooms", *rooms, "sites", *sites, "interval", *interval, "broker", link.Describe(*brokerURL))
	stats, err := fleetsim.Run(ctx, fleetsim.Options{
		Broker: *brokerURL, Rooms: *rooms, Sites: *sites, Interval: *interval, KeepAlive: *keepAlive,
		Seed: *seed, Standard: std, AgentVersion: cli.Version() + "-sim", Log: log,
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return 0
		}
		return fail(err)
	}
	log.Info("simulation stopped", "published", stats.Published.Load(), "failed", stats.Failed.Load(), "drops", stats.Drops.Load())
	return 0
}
