package main

// The agent's footprint (go run ./bench -footprint): siaprapat-agent run,
// idle between its checks, beside node_exporter scraped as Prometheus
// would, both for the same window on the same machine; then the cost of
// one full check (siaprapat-agent check --json) and of one node_exporter
// scrape.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/siaprapat/siaprapat/agent"
)

// The targets for the agent, idle.
const (
	targetIdleRSS = 25e6  // bytes
	targetIdleCPU = 0.005 // of one core
)

// Prometheus's Accept header for a scrape (its default scrape protocols).
const promAccept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

type footprintConfig struct {
	enabled      bool
	window       time.Duration
	warmup       time.Duration
	sample       time.Duration
	scrapeEvery  time.Duration
	runs         int
	nodeExporter string
}

// footprintFlags adds the footprint mode's flags to fs.
func footprintFlags(fs *flag.FlagSet) *footprintConfig {
	fc := &footprintConfig{}
	fs.BoolVar(&fc.enabled, "footprint", false, "measure the agent's footprint beside node_exporter instead of the fleet (writes its own section of -out)")
	fs.DurationVar(&fc.window, "footprint-time", 10*time.Minute, "footprint: how long both idle processes are measured, after the warm-up")
	fs.DurationVar(&fc.warmup, "footprint-warmup", time.Minute, "footprint: time after the start left out (the agent's first check and network test)")
	fs.DurationVar(&fc.sample, "footprint-sample", time.Second, "footprint: how often RSS and CPU are read from /proc")
	fs.DurationVar(&fc.scrapeEvery, "footprint-scrape", 15*time.Second, "footprint: how often node_exporter is scraped (Prometheus's default scrape interval)")
	fs.IntVar(&fc.runs, "footprint-runs", 5, "footprint: runs of siaprapat-agent check and single scrapes of node_exporter measured")
	fs.StringVar(&fc.nodeExporter, "node-exporter", "prometheus-node-exporter", "footprint: node_exporter binary (Debian package prometheus-node-exporter)")
	return fc
}

// idle is one process's figures over the window.
type idle struct {
	Name        string
	CPU         time.Duration // user + system (and waited-for children) over the window
	RSSMedian   int64
	RSSMax      int64
	Peak        int64 // VmHWM at the end: the highest RSS since the start
	Anon        int64 // RssAnon at the end
	File        int64 // RssFile at the end: mapped files, the binary's pages mostly
	Samples     int
	PerInterval []time.Duration // agent: CPU in each of its check intervals
}

func (i idle) cpuShare(window time.Duration) float64 { return i.CPU.Seconds() / window.Seconds() }

// checkRun is one siaprapat-agent check.
type checkRun struct {
	Wall, CPU time.Duration
	MaxRSS    int64
	Checks    map[string]checkOutcome
}

type checkOutcome struct {
	Verdict  string
	Reason   string
	Duration time.Duration
}

type checkVariant struct {
	Name string
	Args []string
	Runs []checkRun
}

type scrapeRun struct {
	Wall, CPU time.Duration
	Bytes     int64 // as sent (gzip)
}

type footprint struct {
	started, measured time.Time
	took              time.Duration
	window            time.Duration
	agent, exporter   idle
	controllerCPU     time.Duration
	systemBusy        float64 // the machine's CPU busy over the window, in cores
	load              [2]string
	scrapes           int
	scrapeErrors      int
	scrapeWall        []time.Duration
	scrapeBytes       int64
	variants          []*checkVariant
	single            []scrapeRun
	exporterVersion   string
	agentInterval     time.Duration
	lastReport        string
	notes             []string
}

func (f *footprint) note(format string, args ...any) {
	f.notes = append(f.notes, fmt.Sprintf(format, args...))
}

func runFootprint(ctx context.Context, cfg *config, fc *footprintConfig, tmp string) error {
	if fc.window < time.Minute || fc.runs < 1 || fc.sample <= 0 || fc.scrapeEvery <= 0 {
		return fmt.Errorf("-footprint-time %v, -footprint-runs %d: want at least 1m and 1 run, and positive -footprint-sample and -footprint-scrape", fc.window, fc.runs)
	}
	neBin, err := exec.LookPath(fc.nodeExporter)
	if err != nil {
		return fmt.Errorf("node_exporter is not installed (Debian package prometheus-node-exporter): %w", err)
	}
	agentBin := filepath.Join(tmp, "siaprapat-agent")
	logf("building the agent")
	if err := goCmd("", nil, "build", "-o", agentBin, "./agent/cmd/siaprapat-agent"); err != nil {
		return err
	}
	if cfg.controller == "" {
		cfg.controller = filepath.Join(tmp, "siaprapat-controller")
		logf("building the controller")
		if err := goCmd("", nil, "build", "-o", cfg.controller, "./controller/cmd/siaprapat-controller"); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp(tmp, "footprint-")
	if err != nil {
		return err
	}
	defer cleanup(cfg, dir)

	f := &footprint{started: time.Now(), window: fc.window, exporterVersion: firstLine(neBin, "--version")}
	if err := measureFootprint(ctx, cfg, fc, f, dir, agentBin, neBin); err != nil {
		return err
	}
	f.took = time.Since(f.started)
	section := renderFootprint(fc, f)
	fmt.Println()
	fmt.Print(section)
	if cfg.out != "" {
		if err := writeFootprintSection(cfg.out, section); err != nil {
			return err
		}
		logf("footprint written to %s", cfg.out)
	}
	return nil
}

func measureFootprint(ctx context.Context, cfg *config, fc *footprintConfig, f *footprint, dir, agentBin, neBin string) error {
	httpPort, err := freePort()
	if err != nil {
		return err
	}
	mqttPort, err := freePort()
	if err != nil {
		return err
	}
	nePort, err := freePort()
	if err != nil {
		return err
	}
	const token = "bench-footprint-probe-token"
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	ctrl, err := startProc("controller", dir, cfg.controller, "serve", "--http", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--mqtt-listen", fmt.Sprintf("127.0.0.1:%d", mqttPort), "--data", filepath.Join(dir, "controller-data"),
		"--log-level", "warn", "--probe-token", token)
	if err != nil {
		return err
	}
	defer stopLogged(ctrl)
	if err := waitHTTP(ctx, ctrl, base+"/metrics"); err != nil {
		return err
	}
	if err := waitTCP(ctx, ctrl, fmt.Sprintf("127.0.0.1:%d", mqttPort)); err != nil {
		return err
	}
	neURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", nePort)
	ne, err := startProc("node_exporter", dir, neBin, fmt.Sprintf("--web.listen-address=127.0.0.1:%d", nePort))
	if err != nil {
		return err
	}
	defer stopLogged(ne)
	if err := waitHTTP(ctx, ne, neURL); err != nil {
		return err
	}
	// The agent as an enrolled room PC runs it: its defaults, a spool, the
	// controller's probe for the network test.
	agentArgs := []string{"--probe-url", base, "--probe-token", token}
	ag, err := startProc("agent", dir, agentBin, append([]string{"run", "--broker", fmt.Sprintf("mqtt://127.0.0.1:%d", mqttPort),
		"--site", "bench", "--room", "footprint", "--data", filepath.Join(dir, "agent-data")}, agentArgs...)...)
	if err != nil {
		return err
	}
	defer stopLogged(ag)
	f.agentInterval = agent.DefaultInterval

	// node_exporter is scraped from its start, as Prometheus would, until
	// the window ends.
	scrapeCtx, stopScrapes := context.WithCancel(ctx)
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		client := &http.Client{Timeout: 10 * time.Second}
		tick := time.NewTicker(fc.scrapeEvery)
		defer tick.Stop()
		for {
			start := time.Now()
			n, err := scrape(client, neURL)
			if err != nil {
				f.scrapeErrors++
			} else {
				f.scrapes++
				f.scrapeWall = append(f.scrapeWall, time.Since(start))
				f.scrapeBytes = n
			}
			select {
			case <-scrapeCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	logf("agent and node_exporter started; warm-up %v, then %v measured", fc.warmup, fc.window)
	sleepCtx(ctx, fc.warmup)
	if err := errors.Join(ag.exited(), ne.exited(), ctrl.exited()); err != nil {
		stopScrapes()
		return err
	}
	f.load[0] = loadAvg()
	f.measured = time.Now()
	busy0, total0 := systemCPU()
	agCPU0, neCPU0, ctrlCPU0 := cpuOf(ag), cpuOf(ne), ctrl.cpu()
	var agRSS, neRSS []int64
	type point struct {
		at  time.Time
		cpu time.Duration
	}
	points := []point{{f.measured, agCPU0}}
	tick := time.NewTicker(fc.sample)
	end := f.measured.Add(fc.window)
	for now := time.Now(); now.Before(end); now = time.Now() {
		select {
		case <-ctx.Done():
			tick.Stop()
			stopScrapes()
			return ctx.Err()
		case <-tick.C:
		}
		agRSS = append(agRSS, ag.rss().RSS)
		neRSS = append(neRSS, ne.rss().RSS)
		points = append(points, point{time.Now(), cpuOf(ag)})
	}
	tick.Stop()
	elapsed := time.Since(f.measured)
	f.window = elapsed
	agCPU1, neCPU1, ctrlCPU1 := cpuOf(ag), cpuOf(ne), ctrl.cpu()
	busy1, total1 := systemCPU()
	f.load[1] = loadAvg()
	stopScrapes()
	<-scraped
	if err := errors.Join(ag.exited(), ne.exited(), ctrl.exited()); err != nil {
		return err
	}
	if total1 > total0 {
		f.systemBusy = float64(busy1-busy0) / float64(total1-total0) * float64(runtime.NumCPU())
	}
	agMem, neMem := ag.rss(), ne.rss()
	f.agent = idle{Name: "siaprapat-agent run", CPU: agCPU1 - agCPU0, RSSMedian: medianInt(agRSS), RSSMax: slices.Max(agRSS),
		Peak: agMem.Peak, Anon: agMem.Anon, File: agMem.File, Samples: len(agRSS)}
	f.exporter = idle{Name: "node_exporter", CPU: neCPU1 - neCPU0, RSSMedian: medianInt(neRSS), RSSMax: slices.Max(neRSS),
		Peak: neMem.Peak, Anon: neMem.Anon, File: neMem.File, Samples: len(neRSS)}
	f.controllerCPU = ctrlCPU1 - ctrlCPU0
	// The agent's CPU in each whole check interval of the window.
	if iv := f.agentInterval; iv > 0 {
		from := points[0]
		for _, p := range points[1:] {
			if p.at.Sub(from.at) >= iv {
				f.agent.PerInterval = append(f.agent.PerInterval, p.cpu-from.cpu)
				from = p
			}
		}
	}
	f.lastReport = lastReport(base)
	if f.scrapeErrors > 0 {
		f.note("%d of node_exporter's scrapes failed", f.scrapeErrors)
	}
	if n := logLines(ag.log, "level=ERROR"); n > 0 {
		f.note("the agent logged %d errors (its log: %s)", n, ag.log)
	}

	// One scrape of node_exporter at a time, its CPU from the threads'
	// schedstat (nanoseconds; /proc/PID/stat counts in 10 ms ticks).
	logf("single scrapes of node_exporter")
	client := &http.Client{Timeout: 10 * time.Second}
	for range fc.runs {
		sleepCtx(ctx, 2*time.Second)
		c0 := threadsCPU(ne.cmd.Process.Pid)
		start := time.Now()
		n, err := scrape(client, neURL)
		wall := time.Since(start)
		time.Sleep(100 * time.Millisecond) // what the handler finishes after the last byte
		c1 := threadsCPU(ne.cmd.Process.Pid)
		if err != nil {
			f.note("a single scrape of node_exporter failed: %v", err)
			continue
		}
		f.single = append(f.single, scrapeRun{Wall: wall, CPU: c1 - c0, Bytes: n})
	}

	// The full check, then its parts: the minute's check without the
	// network test, and the network test the agent runs every 30 minutes.
	f.variants = []*checkVariant{
		{Name: "all checks", Args: nil},
		{Name: "all but network (the check of each interval)", Args: []string{"--only", "host,peripherals,camera,audio"}},
		{Name: "network only (every 30 min by default)", Args: []string{"--only", "network"}},
	}
	for _, v := range f.variants {
		logf("siaprapat-agent check --json %s, %d times", strings.Join(v.Args, " "), fc.runs)
		for range fc.runs {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r, err := runCheck(ctx, agentBin, dir, append(append([]string{"check", "--json"}, v.Args...), agentArgs...))
			if err != nil {
				f.note("%s: %v", v.Name, err)
				continue
			}
			v.Runs = append(v.Runs, r)
		}
	}
	return nil
}

func stopLogged(p *proc) {
	if err := p.stop(30 * time.Second); err != nil {
		logf("  %s stop: %v", p.name, err)
	}
}

// cpuOf is the process's CPU time with that of the children it waited for.
func cpuOf(p *proc) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 15 {
		return 0
	}
	var ticks float64
	for _, s := range f[11:15] { // utime, stime, cutime, cstime
		v, _ := strconv.ParseFloat(s, 64)
		ticks += v
	}
	return time.Duration(ticks / clockTick * float64(time.Second))
}

// threadsCPU sums the time on CPU of the process's threads, in ns.
func threadsCPU(pid int) time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		ns, _ := strconv.ParseInt(strings.Fields(string(b) + " 0")[0], 10, 64)
		sum += ns
	}
	return time.Duration(sum)
}

// systemCPU returns the machine's busy and total jiffies (/proc/stat).
func systemCPU() (busy, total int64) {
	b, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(b), "\n")
	for i, s := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseInt(s, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// scrape reads url as Prometheus does and returns the bytes received.
func scrape(client *http.Client, url string) (int64, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", promAccept)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return n, err
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return n, nil
}

// runCheck runs the agent's one-off check and reads its rusage and report.
func runCheck(ctx context.Context, bin, dir string, args []string) (checkRun, error) {
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	r := checkRun{Wall: time.Since(start)}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return r, err
	}
	// A failed verdict exits non-zero; the report on stdout still counts.
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.CPU = time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
		r.MaxRSS = ru.Maxrss << 10
	}
	var rep struct {
		Checks []struct {
			Check    string  `json:"check"`
			Verdict  string  `json:"verdict"`
			Reason   string  `json:"reason"`
			Duration float64 `json:"duration_seconds"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return r, fmt.Errorf("siaprapat-agent %s: no report (%v): %s", strings.Join(args, " "), err, tail2(errOut.String(), 500))
	}
	r.Checks = map[string]checkOutcome{}
	for _, c := range rep.Checks {
		r.Checks[c.Check] = checkOutcome{Verdict: c.Verdict, Reason: c.Reason, Duration: time.Duration(c.Duration * float64(time.Second))}
	}
	return r, nil
}

func tail2(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// lastReport is the age of the footprint room's last report at the
// controller, as its /metrics says.
func lastReport(base string) string {
	resp, err := http.Get(base + "/metrics?name[]=siaprapat_room_last_report_timestamp_seconds")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "siaprapat_room_last_report_timestamp_seconds{") && strings.Contains(l, `room="footprint"`) {
			f := strings.Fields(l)
			ts, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				break
			}
			return fmt.Sprintf("%.0f s before the end of the window", time.Since(time.Unix(0, int64(ts*1e9))).Seconds())
		}
	}
	return "none received"
}

func logLines(path, substr string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), substr)
}

func medianInt(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func renderFootprint(fc *footprintConfig, f *footprint) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("## Agent footprint, %s\n\n", f.started.UTC().Format("2006-01-02 15:04 MST"))
	p("- Machine: %s, %d cores, %s memory, Linux %s\n", cpuModel(), runtime.NumCPU(), memTotal(), osRelease())
	p("- Software: %s; siaprapat %s; node_exporter: %s\n", runtime.Version(), gitRevision(), f.exporterVersion)
	p("- Command: `%s` (took %v)\n", commandLine(), f.took.Round(time.Second))
	p("- Idle: `siaprapat-agent run` with its defaults (every %v all checks, the network test at most every %v; a spool directory; the controller's probe on loopback as the network test's peer), reporting to the controller (embedded broker, loopback, fresh data directory); beside it node_exporter with its default collectors, scraped every %v as Prometheus does (its Accept header, gzip). Both started together; the first %v left out; then %v measured: RSS read from /proc every %v, CPU (user + system, with waited-for children) the difference over the window.\n",
		f.agentInterval, agent.DefaultNetworkEvery, fc.scrapeEvery, fc.warmup, f.window.Round(time.Second), fc.sample)
	p("- Machine load (other sessions share the 2 cores): load average %s at the window's start, %s at its end; the whole machine was busy %.2f cores on average over the window.\n", f.load[0], f.load[1], f.systemBusy)
	p("- This VM has no camera, no microphone and no sound server: the camera and audio checks fail in well under 0.1 s instead of capturing (the camera's 2 s window and the audio's recording are not in these figures); the peripherals check finds no USB bus and is skipped.\n\n")

	p("### Idle over %v\n\n", f.window.Round(time.Second))
	p("| process | RSS median | RSS max | peak (VmHWM) | of RSS: anonymous / files | CPU (of one core) | CPU time |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, i := range []idle{f.agent, f.exporter} {
		p("| %s | %s | %s | %s | %s / %s | %.3f %% | %.2f s |\n", i.Name, mib(i.RSSMedian), mib(i.RSSMax), mib(i.Peak), mib(i.Anon), mib(i.File),
			100*i.cpuShare(f.window), i.CPU.Seconds())
	}
	p("| ratio agent / node_exporter | %s | %s | %s | %s / %s | %s | |\n",
		ratio(float64(f.agent.RSSMedian), float64(f.exporter.RSSMedian)), ratio(float64(f.agent.RSSMax), float64(f.exporter.RSSMax)),
		ratio(float64(f.agent.Peak), float64(f.exporter.Peak)), ratio(float64(f.agent.Anon), float64(f.exporter.Anon)),
		ratio(float64(f.agent.File), float64(f.exporter.File)), ratio(f.agent.CPU.Seconds(), f.exporter.CPU.Seconds()))
	p("\nAnonymous and file-backed RSS at the end of the window (/proc/PID/status RssAnon, RssFile).\n")
	p("\nnode_exporter: %d scrapes in all, median %s, %s each (gzip). The controller, for reference: %.3f %% of a core over the window. The newest report the controller holds from the agent was measured %s.\n",
		f.scrapes, ms(median(f.scrapeWall)), kib(f.scrapeBytes), 100*f.controllerCPU.Seconds()/f.window.Seconds(), f.lastReport)
	if pi := f.agent.PerInterval; len(pi) > 0 {
		p("The agent's CPU in each %v interval of the window (one check and its report each): median %s, min %s, max %s (%d intervals).\n",
			f.agentInterval, ms(median(pi)), ms(slices.Min(pi)), ms(slices.Max(pi)), len(pi))
	}

	p("\n### Cost of one check (median of %d runs)\n\n", fc.runs)
	p("| run | wall | CPU (user + system) | max RSS |\n|---|---:|---:|---:|\n")
	for _, v := range f.variants {
		if len(v.Runs) == 0 {
			continue
		}
		var wall, cpu, rss []time.Duration
		for _, r := range v.Runs {
			wall = append(wall, r.Wall)
			cpu = append(cpu, r.CPU)
			rss = append(rss, time.Duration(r.MaxRSS))
		}
		p("| %s: `siaprapat-agent check %s` | %s | %s | %s |\n", v.Name, strings.Join(append([]string{"--json"}, v.Args...), " "), ms(median(wall)), ms(median(cpu)), mib(int64(median(rss))))
	}
	if len(f.single) > 0 {
		var wall, cpu []time.Duration
		for _, s := range f.single {
			wall = append(wall, s.Wall)
			cpu = append(cpu, s.CPU)
		}
		p("| node_exporter, one scrape (CPU: its threads' schedstat before and after) | %s | %s | (%s resident) |\n", ms(median(wall)), ms(median(cpu)), mib(f.exporter.RSSMedian))
	}
	p("\n`check` is a fresh process each run: its figures include starting the binary and loading the standard and the hardware profiles. Inside `run` the same checks cost the agent's CPU per interval above; the network test moves up to its byte budget each way through the controller's probe on loopback, which also spends CPU (not counted here).\n")
	if v := f.variants[0]; len(v.Runs) > 0 {
		p("\nEach check within the full run (median duration; verdict and reason of the first run):\n\n")
		var names []string
		for n := range v.Runs[0].Checks {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			var ds []time.Duration
			for _, r := range v.Runs {
				ds = append(ds, r.Checks[n].Duration)
			}
			c := v.Runs[0].Checks[n]
			reason := ""
			if c.Reason != "" {
				reason = ": " + c.Reason
			}
			p("- %s: %s, %s%s\n", n, ms(median(ds)), c.Verdict, reason)
		}
	}

	p("\n### Targets\n\n| target | measured | met |\n|---|---|---|\n")
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "no"
	}
	p("| agent idle RSS under 25 MB (median) | median %.1f MB, max %.1f MB (%s, %s) | %s |\n", float64(f.agent.RSSMedian)/1e6, float64(f.agent.RSSMax)/1e6,
		mib(f.agent.RSSMedian), mib(f.agent.RSSMax), yes(f.agent.RSSMedian < targetIdleRSS))
	p("| agent idle CPU under 0.5 %% of a core | %.3f %% | %s |\n", 100*f.agent.cpuShare(f.window), yes(f.agent.cpuShare(f.window) < targetIdleCPU))
	if len(f.notes) > 0 {
		p("\n### Notes of this run\n\n")
		for _, n := range f.notes {
			p("- %s\n", n)
		}
	}
	return b.String()
}

func kib(n int64) string { return fmt.Sprintf("%.1f KiB", float64(n)/1024) }

// Markers around the footprint section, written by -footprint alone.
const (
	footprintBegin = "<!-- bench:footprint:begin (written by go run ./bench -footprint; edit outside) -->"
	footprintEnd   = "<!-- bench:footprint:end -->"
)

// writeFootprintSection replaces the footprint section of the file; the
// first time, it goes right after the results section (or at the end).
func writeFootprintSection(path, section string) error {
	return writeMarked(path, footprintBegin, footprintEnd, endMarker, section)
}
