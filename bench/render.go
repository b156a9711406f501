package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
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

	p("\n### Targets\n\n| target | measured | met |\n|---|---|---|\n")
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

func targets(b *strings.Builder, cfg *config, results []*result) {
	row := func(target, measured string, met bool) {
		mark := "no"
		if met {
			mark = "yes"
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", target, measured, mark)
	}
	find := func(system string, rooms int) *result {
		for _, r := range results {
			if strings.HasPrefix(r.System, system) && r.Rooms == rooms {
				return r
			}
		}
		return nil
	}
	largest := 0
	for _, r := range results {
		largest = max(largest, r.Rooms)
	}
	for _, sys := range []string{"siaprapat, embedded", "siaprapat + Mosquitto"} {
		if r := find(sys, largest); r != nil && r.SteadyWindow > 0 {
			row(fmt.Sprintf("%s, %d rooms every %v: under 25 %% of a core", sys, largest, cfg.interval),
				fmt.Sprintf("%.1f %%", 100*r.SteadyCPU), r.SteadyCPU < 0.25)
			row(fmt.Sprintf("%s, %d rooms: under 500 MB RSS", sys, largest),
				fmt.Sprintf("%s (anonymous %s, bbolt files %s)", mib(r.RSS), mib(r.Anon), mib(r.File)), r.RSS < 500e6)
		}
	}
	for _, r := range results {
		t := find("Telegraf", r.Rooms)
		if t == nil || t.Rate == 0 || r.Rate == 0 || !isSiaprapat(r) {
			continue
		}
		measured := ratio(r.Rate, t.Rate) + "x"
		if c := find(ceilingSystem, r.Rooms); c != nil && c.Rate > 0 {
			measured += fmt.Sprintf(" (5x Telegraf is %.0f/s; the ceiling of generator + Mosquitto is %.0f/s)", 5*t.Rate, c.Rate)
		}
		row(fmt.Sprintf("%s, %d rooms: ingest at least 5x Telegraf's", r.System, r.Rooms), measured, r.Rate >= 5*t.Rate)
		row(fmt.Sprintf("%s, %d rooms: CPU/report at most 1/5 of Telegraf's", r.System, r.Rooms),
			ratio(float64(r.CPUPerMsg), float64(t.CPUPerMsg))+"x", r.CPUPerMsg*5 <= t.CPUPerMsg)
	}
	for _, r := range results {
		if r.Rooms == 10000 && r.BytesPlain > 0 && isSiaprapat(r) {
			row(fmt.Sprintf("%s, 10,000 rooms: scrape under 0.5 s", r.System),
				fmt.Sprintf("%s plain, %s gzip", ms(r.ScrapePlain), ms(r.ScrapeGzip)), r.ScrapePlain < 500*time.Millisecond && r.ScrapeGzip < 500*time.Millisecond)
		}
	}
	for _, r := range results {
		if r.FanoutRooms >= 5000 && r.Fanout > 0 {
			row(fmt.Sprintf("%s, fan-out to %d rooms (target: 5,000) within the check's %v + 5 s", r.System, r.Rooms, r.CheckDuration),
				ms(r.Fanout), r.FanoutAnswered == r.FanoutRooms && r.Fanout <= r.CheckDuration+5*time.Second)
		}
	}
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
