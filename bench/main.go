// Command bench measures the controller at fleet scale on this machine:
// for each fleet size it starts the controller (with its embedded broker,
// then with Mosquitto) and a load generator of simulated rooms on
// loopback, and measures ingest (with bbolt persistence), the controller's
// CPU and memory at a steady report rate, the delay from publish to
// /metrics, the scrape, and the fan-out of a pre-meeting check to every
// room at once. Beside it, Telegraf bridges the same JSON from the same
// Mosquitto to Prometheus. It prints a table and writes BENCHMARKS.md.
//
//	go run ./bench [-rooms 1000,10000,50000] [-out BENCHMARKS.md]
//
// With -footprint it measures the agent instead, beside node_exporter
// (footprint.go):
//
//	go run ./bench -footprint [-footprint-time 10m]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/siaprapat/siaprapat/standard"
)

// TelegrafVersion is the peer, built as the issue says (a trimmed build
// from the Go module proxy, about a minute).
const (
	TelegrafVersion = "v1.37.2"
	telegrafTags    = "custom,inputs.mqtt_consumer,outputs.prometheus_client,parsers.json"
	telegrafPkg     = "github.com/influxdata/telegraf/cmd/telegraf"
)

type config struct {
	rooms         []int
	brokers       []string
	withTelegraf  bool
	ceiling       bool
	controller    string
	telegraf      string
	mosquitto     string
	interval      time.Duration
	steady        time.Duration
	probes        int
	probeBudget   time.Duration
	scrapes       int
	fanout        bool
	checkDuration time.Duration
	leadTime      time.Duration
	publishers    int
	window        int
	maxConns      int
	ackTimeout    time.Duration
	out           string
	keep          bool
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := &config{}
	rooms := flag.String("rooms", "1000,10000,50000", "fleet sizes, comma-separated")
	brokers := flag.String("brokers", "embedded,mosquitto", "brokers the controller runs with: embedded, mosquitto; none for Telegraf alone")
	flag.BoolVar(&cfg.withTelegraf, "telegraf", true, "measure Telegraf, the peer, at each size")
	flag.BoolVar(&cfg.ceiling, "ceiling", true, "measure the ceiling at each size: the generator and Mosquitto with a subscriber that does nothing")
	flag.StringVar(&cfg.controller, "controller", "", "controller binary (default: built from this tree)")
	flag.StringVar(&cfg.telegraf, "telegraf-bin", "", "Telegraf binary (default: go install "+telegrafPkg+"@"+TelegrafVersion+" into a temporary GOBIN, reused)")
	flag.StringVar(&cfg.mosquitto, "mosquitto", "mosquitto", "Mosquitto binary (Debian package mosquitto)")
	flag.DurationVar(&cfg.interval, "interval", time.Minute, "each room's report interval in the steady state")
	flag.DurationVar(&cfg.steady, "steady", time.Minute, "how long the steady state's CPU is measured")
	flag.IntVar(&cfg.probes, "probes", 40, "reports followed from publish to /metrics")
	flag.DurationVar(&cfg.probeBudget, "probe-budget", time.Minute, "most time spent following them")
	flag.IntVar(&cfg.scrapes, "scrapes", 5, "scrapes of /metrics, plain and gzip each")
	flag.BoolVar(&cfg.fanout, "fanout", true, "measure the fan-out of a pre-meeting check to every room")
	flag.DurationVar(&cfg.checkDuration, "check-duration", 10*time.Second, "how long a simulated room's check takes before it answers")
	flag.DurationVar(&cfg.leadTime, "lead-time", 2*time.Minute, "the controller's --lead-times in the fan-out")
	flag.IntVar(&cfg.publishers, "publishers", 128, "reports in flight at once in a burst")
	flag.IntVar(&cfg.window, "window", 4000, "most burst reports sent and not yet acknowledged as stored by the controller")
	flag.IntVar(&cfg.maxConns, "max-conns", 10000, "most MQTT connections; past this, rooms share connections")
	flag.DurationVar(&cfg.ackTimeout, "ack-timeout", 2*time.Minute, "how long a burst may take past 1 ms a report")
	flag.StringVar(&cfg.out, "out", "BENCHMARKS.md", "file whose results section is rewritten ('' for none)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep each run's directory (logs, data)")
	fc := footprintFlags(flag.CommandLine)
	flag.Parse()
	for _, s := range strings.Split(*rooms, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-rooms %q: want positive numbers separated by commas", *rooms)
		}
		cfg.rooms = append(cfg.rooms, n)
	}
	for _, b := range strings.Split(*brokers, ",") {
		switch b = strings.TrimSpace(b); b {
		case "none":
		case "embedded", "mosquitto":
			cfg.brokers = append(cfg.brokers, b)
		default:
			return fmt.Errorf("-brokers %q: want embedded and/or mosquitto, or none (Telegraf alone)", *brokers)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	std, err := standard.Default()
	if err != nil {
		return err
	}
	tmp := filepath.Join(os.TempDir(), "siaprapat-bench")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if fc.enabled {
		return runFootprint(ctx, cfg, fc, tmp)
	}
	if cfg.controller == "" {
		cfg.controller = filepath.Join(tmp, "siaprapat-controller")
		logf("building the controller")
		if err := goCmd("", nil, "build", "-o", cfg.controller, "./controller/cmd/siaprapat-controller"); err != nil {
			return err
		}
	}
	if path, err := exec.LookPath(cfg.mosquitto); err != nil {
		return fmt.Errorf("mosquitto is not installed (Debian package mosquitto): %w", err)
	} else {
		cfg.mosquitto = path
	}
	if cfg.withTelegraf && cfg.telegraf == "" {
		gobin := filepath.Join(tmp, "telegraf-"+TelegrafVersion)
		cfg.telegraf = filepath.Join(gobin, "telegraf")
		if _, err := os.Stat(cfg.telegraf); err != nil {
			logf("installing Telegraf %s (a trimmed build, about a minute) into %s", TelegrafVersion, gobin)
			if err := goCmd(tmp, []string{"GOBIN=" + gobin}, "install", "-tags", telegrafTags, telegrafPkg+"@"+TelegrafVersion); err != nil {
				return err
			}
		}
	}

	started := time.Now()
	var results []*result
	for _, n := range cfg.rooms {
		for _, b := range cfg.brokers {
			logf("siaprapat, %s broker, %d rooms", b, n)
			r, err := runController(ctx, cfg, std, b, n)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				logf("  failed: %v", err)
				r = &result{System: "siaprapat, " + b, Rooms: n}
				r.note("run failed: %v", err)
			}
			results = append(results, r)
		}
		if cfg.withTelegraf {
			logf("Telegraf + Mosquitto, %d rooms", n)
			r, err := runTelegraf(ctx, cfg, std, n)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				logf("  failed: %v", err)
				r = &result{System: "Telegraf + Mosquitto", Rooms: n}
				r.note("run failed: %v", err)
			}
			results = append(results, r)
		}
		if cfg.ceiling {
			logf("%s, %d rooms", ceilingSystem, n)
			r, err := runCeiling(ctx, cfg, std, n)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				logf("  failed: %v", err)
				r = &result{System: ceilingSystem, Rooms: n}
				r.note("run failed: %v", err)
			}
			results = append(results, r)
		}
	}
	section := renderResults(cfg, results, started, time.Since(started))
	fmt.Println()
	fmt.Print(section)
	if cfg.out != "" {
		if err := writeSection(cfg.out, section); err != nil {
			return err
		}
		logf("results written to %s", cfg.out)
	}
	return nil
}

func goCmd(dir string, env []string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// Markers around the part of BENCHMARKS.md that each run rewrites.
const (
	beginMarker = "<!-- bench:results:begin (written by make bench; edit outside) -->"
	endMarker   = "<!-- bench:results:end -->"
)

// writeSection replaces the results section of the file, keeping what is
// written around it, or creates the file.
func writeSection(path, section string) error {
	return writeMarked(path, beginMarker, endMarker, "", section)
}

// writeMarked replaces the part of the file between begin and end with
// section, keeping what is written around it. Without the markers the
// section goes right after the marker after (if given and found), else at
// the end; without the file, it is created.
func writeMarked(path, begin, end, after, section string) error {
	block := begin + "\n" + section + end + "\n"
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.WriteFile(path, []byte("# Benchmarks\n\n"+block), 0o644)
	case err != nil:
		return err
	}
	s := string(old)
	if i, j := strings.Index(s, begin), strings.Index(s, end); i >= 0 && j > i {
		return os.WriteFile(path, []byte(s[:i]+block+blankBefore(s[j+len(end):])), 0o644)
	}
	if j := strings.Index(s, after); after != "" && j >= 0 {
		at := j + len(after)
		return os.WriteFile(path, []byte(s[:at]+"\n\n"+block+blankBefore(s[at:])), 0o644)
	}
	return os.WriteFile(path, []byte(strings.TrimRight(s, "\n")+"\n\n"+block), 0o644)
}

// blankBefore is what follows a block: a blank line, then the rest.
func blankBefore(rest string) string {
	if rest = strings.TrimLeft(rest, "\n"); rest != "" {
		return "\n" + rest
	}
	return ""
}
