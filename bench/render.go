package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// renderResults writes the results section: the machine, the commands,
// one table per measure, the ratios to Telegraf and the targets.
func renderResults(cfg *config, results []*result, started time.Time, took time.Duration) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("## Results of %s\n\n", started.UTC().Format("2006-01-02 15:04 MST"))
	p("- Machine: %s, %d cores, %s memory, Linux %s, open files %s\n", cpuModel(), runtime.NumCPU(), memTotal(), osRelease(), openFiles())
	p("- Software: %s; %s; Telegraf %s; siaprapat %s\n", runtime.Version(), firstLine(cfg.mosquitto, "-h"), telegrafVersion(cfg), gitRevision())
	p("- Command: `%s` (took %v)\n", commandLine(), took.Round(time.Second))
	p("- Load: simulated rooms (agent/fleetsim: host, camera, audio, network, 2 devices; about %s a report), QoS 1, on loopback;"+
		" one MQTT connection a room up to %d connections, past that %s. The load generator, broker and controller share the machine's cores.\n",
		reportSize(results), cfg.maxConns, sharedConns(results))
	p("- Burst: max(2 x rooms, 20,000) reports, %d in flight to the broker and at most %d not yet acknowledged by the controller (so the burst measures storage, not queues growing), from the first publish to the last acknowledgement of storage (bbolt: history and fleet); CPU is the process's user + system time over that span, per report. Telegraf: the same reports, all at once, until its output has written them.\n", cfg.publishers, cfg.window)
	p("- Steady: every room reports every %v; CPU measured over %v after 5 s; delay: a report's publish until a /metrics scrape (name[]=siaprapat_room_last_report_timestamp_seconds, polled back to back) shows it.\n", cfg.interval, cfg.steady)
	p("- Fan-out: a session for every room starting at the same minute; the controller (--lead-times %v) sends each room a check command; a room answers %v later with a report. From the first command sent to the last result stored (the controller's issued_at and finished_at).\n\n", cfg.leadTime, cfg.checkDuration)

	p("### Ingest (burst, bbolt on)\n\n")
	p("| system | rooms | rooms/conn | reports | stored/s | CPU/report | Mosquitto CPU/report |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		if r.Rate == 0 {
			continue
		}
		p("| %s | %d | %d | %d | %.0f | %s | %s |\n", r.System, r.Rooms, r.RoomsPerConn, r.Stored, r.Rate, us(r.CPUPerMsg), us(r.BrokerCPUPerMsg))
	}
	p("\n### Steady state, delay to /metrics, memory\n\n")
	p("| system | rooms | CPU (of one core) | reports/s | RSS | of which anonymous / bbolt files | RSS/room | delay median | delay p99 (probes) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		if r.SteadyWindow == 0 {
			continue
		}
		p("| %s | %d | %.1f %% | %.0f | %s | %s / %s | %.1f KiB | %s | %s (%d) |\n", r.System, r.Rooms, 100*r.SteadyCPU,
			float64(r.Rooms)/cfg.interval.Seconds(), mib(r.RSS), mib(r.Anon), mib(r.File), float64(r.RSS)/float64(r.Rooms)/1024,
			ms(median(r.Delays)), ms(quantile(r.Delays, 0.99)), len(r.Delays))
	}
	p("\nRSS after the burst and a minute of steady reports; Telegraf's (in the ratios below) right after its burst.\n")
	p("\n### /metrics scrape (median of %d)\n\n", cfg.scrapes)
	p("| system | rooms | plain | bytes | gzip | bytes |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		if r.BytesPlain == 0 {
			continue
		}
		p("| %s | %d | %s | %s | %s | %s |\n", r.System, r.Rooms, ms(r.ScrapePlain), mib(r.BytesPlain), ms(r.ScrapeGzip), mib(r.BytesGzip))
	}
	p("\n### Fan-out of a pre-meeting check\n\n")
	p("| system | rooms | answered | first cmd to last result | of which sending the commands | check's own duration |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		if r.FanoutRooms == 0 {
			continue
		}
		p("| %s | %d | %d | %s | %s | %v |\n", r.System, r.Rooms, r.FanoutAnswered, ms(r.Fanout), ms(r.Dispatch), r.CheckDuration)
	}

	p("\n### Against Telegraf (ratios: siaprapat / Telegraf)\n\n")
	p("| rooms | siaprapat with | ingest rate | CPU/report | RSS | scrape plain | scrape bytes |\n|---:|---|---:|---:|---:|---:|---:|\n")
	for _, t := range results {
		if !strings.HasPrefix(t.System, "Telegraf") || t.Rate == 0 {
			continue
		}
		for _, r := range results {
			if r.Rooms != t.Rooms || !isSiaprapat(r) || r.Rate == 0 {
				continue
			}
			p("| %d | %s | %s | %s | %s | %s | %s |\n", r.Rooms, brokerOf(r),
				ratio(r.Rate, t.Rate), ratio(float64(r.CPUPerMsg), float64(t.CPUPerMsg)), ratio(float64(r.RSS), float64(t.RSS)),
				ratio(float64(r.ScrapePlain), float64(t.ScrapePlain)*boolValue(t.BytesPlain > 0)), ratio(float64(r.BytesPlain), float64(t.BytesPlain)))
		}
	}
	p("\nTelegraf's CPU/report is Telegraf's alone; Mosquitto's is in its own column above. With the embedded broker, the controller's CPU includes the broker's work.\n")
	for _, c := range results {
		if c.System != ceilingSystem || c.Rate == 0 {
			continue
		}
		p("\n**Ceiling at %d rooms:** the load generator and Mosquitto pass %.0f reports/s to a subscriber that does nothing with them (the same burst, the same cores).", c.Rooms, c.Rate)
		for _, r := range results {
			if r.Rooms == c.Rooms && r.Rate > 0 && r.System != ceilingSystem {
				p(" %s: %.0f/s, %.0f %% of it.", r.System, r.Rate, 100*r.Rate/c.Rate)
			}
		}
		p("\n")
	}

	p("\n### Targets\n\n")
	targets(&b, cfg, results)

	var notes []string
	for _, r := range results {
		for _, n := range r.Notes {
			notes = append(notes, fmt.Sprintf("%s, %d rooms: %s", r.System, r.Rooms, n))
		}
	}
	if len(notes) > 0 {
		p("\n### Notes of this run\n\n")
		for _, n := range notes {
			p("- %s\n", n)
		}
	}
	return b.String()
}

// The targets of issue 21, each checked at the fleet size it names.
const (
	targetRooms      = 50000 // steady CPU and memory, with either broker; the gzipped scrape
	targetCPU        = 0.25  // of one core, steady, every room once a minute
	targetAnon       = 500e6 // bytes of anonymous memory at targetRooms
	targetAnonRooms  = 10000 // ... and on the embedded broker at this size:
	targetAnonSmall  = 200 << 20
	targetHistory    = 1024 // bytes on disk a stored report
	targetIngestRoom = 10000
	targetCeiling    = 0.60 // of the ceiling's rate, at targetIngestRoom
	targetCPUShare   = 3    // CPU a report at most 1/targetCPUShare of Telegraf's
	targetScrapeGzip = 1500 * time.Millisecond
)

// targets writes one row a target: what was measured, the target, what
// Telegraf (or the ceiling) did in the same run, and whether it is met. A
// target named at a fleet size this run did not reach is shown at the
// largest size run, and not judged.
func targets(b *strings.Builder, cfg *config, results []*result) {
	fmt.Fprintf(b, "| measure | rooms | siaprapat | target | Telegraf / ceiling, same run | met |\n|---|---:|---|---|---|---|\n")
	row := func(measure string, rooms, at int, figure, target, peer string, met bool) {
		mark := "no"
		switch {
		case rooms != at:
			mark = fmt.Sprintf("not judged: the target is at %s rooms", thousands(at))
		case met:
			mark = "yes"
		}
		if peer == "" {
			peer = "-"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", measure, thousands(rooms), figure, target, peer, mark)
	}
	find := func(system string, rooms int) *result {
		for _, r := range results {
			if strings.HasPrefix(r.System, system) && r.Rooms == rooms {
				return r
			}
		}
		return nil
	}
	// size is the target's fleet size if this run measured it, else the
	// largest size measured.
	size := func(want int) int {
		largest := 0
		for _, r := range results {
			if r.Rooms == want {
				return want
			}
			largest = max(largest, r.Rooms)
		}
		return largest
	}
	telegrafRSS := func(n int) string {
		if t := find("Telegraf", n); t != nil && t.RSS > 0 {
			return "Telegraf RSS " + mib(t.RSS) + " (anonymous " + mib(t.Anon) + ")"
		}
		return ""
	}
	big := size(targetRooms)
	for _, sys := range []string{"siaprapat, embedded", "siaprapat + Mosquitto"} {
		r := find(sys, big)
		if r == nil || r.SteadyWindow == 0 {
			continue
		}
		row(fmt.Sprintf("%s: steady CPU, every room every %v", r.System, cfg.interval), big, targetRooms,
			fmt.Sprintf("%.1f %% of a core", 100*r.SteadyCPU), fmt.Sprintf("≤ %.0f %% of one core", 100*targetCPU), "", r.SteadyCPU <= targetCPU)
		row(r.System+": anonymous memory", big, targetRooms,
			fmt.Sprintf("%s (file-backed %s; RSS %s)", mib(r.Anon), mib(r.File), mib(r.RSS)), fmt.Sprintf("≤ %.0f MB anonymous", targetAnon/1e6),
			telegrafRSS(big), r.RSS > 0 && float64(r.Anon) <= targetAnon)
	}
	if n := size(targetAnonRooms); n > 0 {
		if r := find("siaprapat, embedded", n); r != nil && r.SteadyWindow > 0 {
			row("siaprapat, embedded broker: anonymous memory", n, targetAnonRooms,
				fmt.Sprintf("%s (file-backed %s; RSS %s)", mib(r.Anon), mib(r.File), mib(r.RSS)), fmt.Sprintf("≤ %s anonymous", mib(targetAnonSmall)),
				telegrafRSS(n), r.RSS > 0 && r.Anon <= targetAnonSmall)
		}
	}
	for _, r := range results {
		if !isSiaprapat(r) || r.HistoryReports <= 0 {
			continue
		}
		row(r.System+": history on disk a stored report", r.Rooms, r.Rooms,
			fmt.Sprintf("%.0f bytes (%s for %d reports)", r.historyPerReport(), mib(r.HistoryBytes), r.HistoryReports),
			fmt.Sprintf("≤ %d bytes", targetHistory), "", r.historyPerReport() <= targetHistory)
	}
	ingest := size(targetIngestRoom)
	for _, r := range results {
		if r.Rooms != ingest || !isSiaprapat(r) || r.Rate == 0 {
			continue
		}
		c, t := find(ceilingSystem, ingest), find("Telegraf", ingest)
		if c != nil && c.Rate > 0 {
			peer := fmt.Sprintf("ceiling %.0f/s", c.Rate)
			if t != nil && t.Rate > 0 {
				peer += fmt.Sprintf("; Telegraf %.0f/s, %.0f %% of it", t.Rate, 100*t.Rate/c.Rate)
			}
			row(r.System+": ingest (burst, stored)", ingest, targetIngestRoom,
				fmt.Sprintf("%.0f/s, %.0f %% of the ceiling", r.Rate, 100*r.Rate/c.Rate), fmt.Sprintf("≥ %.0f %% of the ceiling", 100*targetCeiling),
				peer, r.Rate >= targetCeiling*c.Rate)
		} else {
			fmt.Fprintf(b, "| %s: ingest (burst, stored) | %s | %.0f/s | ≥ %.0f %% of the ceiling | no ceiling in this run | not judged: run with -ceiling |\n",
				r.System, thousands(ingest), r.Rate, 100*targetCeiling)
		}
		if t != nil && t.CPUPerMsg > 0 {
			row(r.System+": CPU a report (burst)", ingest, targetIngestRoom,
				fmt.Sprintf("%s, %s× Telegraf's", us(r.CPUPerMsg), ratio(float64(r.CPUPerMsg), float64(t.CPUPerMsg))),
				fmt.Sprintf("≤ 1/%d of Telegraf's (%s)", targetCPUShare, us(t.CPUPerMsg/targetCPUShare)),
				"Telegraf "+us(t.CPUPerMsg), r.CPUPerMsg*targetCPUShare <= t.CPUPerMsg)
		} else {
			fmt.Fprintf(b, "| %s: CPU a report (burst) | %s | %s | ≤ 1/%d of Telegraf's | no Telegraf in this run | not judged: run with -telegraf |\n",
				r.System, thousands(ingest), us(r.CPUPerMsg), targetCPUShare)
		}
	}
	for _, r := range results {
		if r.Rooms != big || !isSiaprapat(r) || r.ScrapeGzip == 0 {
			continue
		}
		peer := ""
		if t := find("Telegraf", big); t != nil && t.ScrapeGzip > 0 {
			peer = fmt.Sprintf("Telegraf %s (%s)", ms(t.ScrapeGzip), mib(t.BytesGzip))
		}
		row(r.System+": gzipped scrape of /metrics", big, targetRooms,
			fmt.Sprintf("%s (%s)", ms(r.ScrapeGzip), mib(r.BytesGzip)), "≤ "+ms(targetScrapeGzip), peer, r.ScrapeGzip <= targetScrapeGzip)
	}
	for _, r := range results {
		if r.FanoutRooms >= 5000 && r.Fanout > 0 {
			row(fmt.Sprintf("%s: fan-out of a check to every room (target from 5,000 rooms)", r.System), r.Rooms, r.Rooms,
				ms(r.Fanout), fmt.Sprintf("≤ the check's %v + 5 s, all answered", r.CheckDuration), "",
				r.FanoutAnswered == r.FanoutRooms && r.Fanout <= r.CheckDuration+5*time.Second)
		}
	}
}

// thousands writes n with commas: 50,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// isSiaprapat tells our runs from the peer's and the ceiling's.
func isSiaprapat(r *result) bool { return strings.HasPrefix(r.System, "siaprapat") }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func brokerOf(r *result) string {
	if strings.Contains(r.System, "Mosquitto") {
		return "Mosquitto"
	}
	return "embedded broker"
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func us(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	if d < 10*time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func reportSize(results []*result) string {
	for _, r := range results {
		if r.ReportBytes > 0 {
			return fmt.Sprintf("%.1f KiB", float64(r.ReportBytes)/1024)
		}
	}
	return "4 KiB"
}

func sharedConns(results []*result) string {
	var parts []string
	for _, r := range results {
		if r.RoomsPerConn > 1 && !strings.HasPrefix(r.System, "Telegraf") {
			s := fmt.Sprintf("%d rooms share each connection at %d rooms", r.RoomsPerConn, r.Rooms)
			if len(parts) == 0 || parts[len(parts)-1] != s {
				parts = append(parts, s)
			}
		}
	}
	if len(parts) == 0 {
		return "rooms would share connections (not needed in this run)"
	}
	return strings.Join(parts, "; ") + " (the open-file hard limit of 20,000 holds for the generator and the broker alike; shared connections have no per-room last will)"
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
		}
	}
	return "?"
}

func osRelease() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

func openFiles() string {
	out, err := exec.Command("sh", "-c", "ulimit -Hn").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func firstLine(bin string, args ...string) string {
	out, _ := exec.Command(bin, args...).CombinedOutput()
	l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return l
}

func telegrafVersion(cfg *config) string {
	if !cfg.withTelegraf {
		return "(not run)"
	}
	v := strings.TrimPrefix(firstLine(cfg.telegraf, "--version"), "Telegraf ")
	if strings.HasPrefix(v, "unknown") {
		v = TelegrafVersion + " (go install, no version stamped)"
	}
	return v
}

func gitRevision() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "(no git)"
	}
	return strings.TrimSpace(string(out))
}

func commandLine() string {
	return strings.Join(append([]string{"go run ./bench"}, os.Args[1:]...), " ")
}
