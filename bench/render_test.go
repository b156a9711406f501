package main

import (
	"strings"
	"testing"
	"time"
)

// fixture is one full-size run: both brokers, Telegraf and the ceiling at
// 10,000 and 50,000 rooms.
func fixture() []*result {
	var rs []*result
	for _, n := range []int{10000, 50000} {
		emb := &result{System: "siaprapat, embedded broker", Rooms: n, Rate: 7000, CPUPerMsg: 100 * time.Microsecond,
			SteadyWindow: time.Minute, SteadyCPU: 0.2, HistoryBytes: 900 * 1000, HistoryReports: 1000,
			ScrapeGzip: 1200 * time.Millisecond, BytesGzip: 3 << 20}
		emb.RSS, emb.Anon, emb.File = 600<<20, 180<<20, 420<<20
		mosq := &result{System: "siaprapat + Mosquitto", Rooms: n, Rate: 5000, CPUPerMsg: 200 * time.Microsecond,
			SteadyWindow: time.Minute, SteadyCPU: 0.3, HistoryBytes: 2048 * 1000, HistoryReports: 1000,
			ScrapeGzip: 2 * time.Second, BytesGzip: 3 << 20}
		mosq.RSS, mosq.Anon, mosq.File = 900<<20, 600<<20, 300<<20
		tg := &result{System: "Telegraf + Mosquitto", Rooms: n, Rate: 4000, CPUPerMsg: 450 * time.Microsecond,
			ScrapeGzip: 3 * time.Second, BytesGzip: 5 << 20}
		tg.RSS, tg.Anon = 300<<20, 290<<20
		rs = append(rs, emb, mosq, tg, &result{System: ceilingSystem, Rooms: n, Rate: 10000})
	}
	return rs
}

func TestTargets_EachFigureBesideItsTargetAndTelegrafs(t *testing.T) {
	var b strings.Builder
	targets(&b, &config{interval: time.Minute}, fixture())
	got := b.String()
	for _, want := range []string{
		"| siaprapat, embedded broker: steady CPU, every room every 1m0s | 50,000 | 20.0 % of a core | ≤ 25 % of one core | - | yes |",
		"| siaprapat + Mosquitto: steady CPU, every room every 1m0s | 50,000 | 30.0 % of a core | ≤ 25 % of one core | - | no |",
		"| siaprapat, embedded broker: anonymous memory | 50,000 | 180.0 MiB (file-backed 420.0 MiB; RSS 600.0 MiB) | ≤ 500 MB anonymous | Telegraf RSS 300.0 MiB (anonymous 290.0 MiB) | yes |",
		"| siaprapat + Mosquitto: anonymous memory | 50,000 | 600.0 MiB (file-backed 300.0 MiB; RSS 900.0 MiB) | ≤ 500 MB anonymous | Telegraf RSS 300.0 MiB (anonymous 290.0 MiB) | no |",
		"| siaprapat, embedded broker: anonymous memory | 10,000 | 180.0 MiB (file-backed 420.0 MiB; RSS 600.0 MiB) | ≤ 200.0 MiB anonymous | Telegraf RSS 300.0 MiB (anonymous 290.0 MiB) | yes |",
		"| siaprapat, embedded broker: history on disk a stored report | 10,000 | 900 bytes (0.9 MiB for 1000 reports) | ≤ 1024 bytes | - | yes |",
		"| siaprapat + Mosquitto: history on disk a stored report | 50,000 | 2048 bytes (2.0 MiB for 1000 reports) | ≤ 1024 bytes | - | no |",
		"| siaprapat, embedded broker: ingest (burst, stored) | 10,000 | 7000/s, 70 % of the ceiling | ≥ 60 % of the ceiling | ceiling 10000/s; Telegraf 4000/s, 40 % of it | yes |",
		"| siaprapat + Mosquitto: ingest (burst, stored) | 10,000 | 5000/s, 50 % of the ceiling | ≥ 60 % of the ceiling | ceiling 10000/s; Telegraf 4000/s, 40 % of it | no |",
		"| siaprapat, embedded broker: CPU a report (burst) | 10,000 | 100 µs, 0.22× Telegraf's | ≤ 1/3 of Telegraf's (150 µs) | Telegraf 450 µs | yes |",
		"| siaprapat + Mosquitto: CPU a report (burst) | 10,000 | 200 µs, 0.44× Telegraf's | ≤ 1/3 of Telegraf's (150 µs) | Telegraf 450 µs | no |",
		"| siaprapat, embedded broker: gzipped scrape of /metrics | 50,000 | 1200 ms (3.0 MiB) | ≤ 1500 ms | Telegraf 3000 ms (5.0 MiB) | yes |",
		"| siaprapat + Mosquitto: gzipped scrape of /metrics | 50,000 | 2000 ms (3.0 MiB) | ≤ 1500 ms | Telegraf 3000 ms (5.0 MiB) | no |",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("no row\n%s\nin\n%s", want, got)
		}
	}
}

// A short run (-rooms 1000) shows the figures beside the targets, not
// judged: the targets are at 10,000 and 50,000 rooms.
func TestTargets_AShortRunIsShownNotJudged(t *testing.T) {
	var rs []*result
	for _, r := range fixture() {
		if r.Rooms == 10000 {
			r.Rooms = 1000
			rs = append(rs, r)
		}
	}
	var b strings.Builder
	targets(&b, &config{interval: time.Minute}, rs)
	got := b.String()
	for _, want := range []string{
		"| siaprapat, embedded broker: steady CPU, every room every 1m0s | 1,000 | 20.0 % of a core | ≤ 25 % of one core | - | not judged: the target is at 50,000 rooms |",
		"| siaprapat, embedded broker: ingest (burst, stored) | 1,000 | 7000/s, 70 % of the ceiling | ≥ 60 % of the ceiling | ceiling 10000/s; Telegraf 4000/s, 40 % of it | not judged: the target is at 10,000 rooms |",
		"| siaprapat, embedded broker: history on disk a stored report | 1,000 | 900 bytes (0.9 MiB for 1000 reports) | ≤ 1024 bytes | - | yes |",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("no row\n%s\nin\n%s", want, got)
		}
	}
}

func TestSumFamilies(t *testing.T) {
	got := sumFamilies([]byte(`# HELP siaprapat_reports_rejected_total x
# TYPE siaprapat_reports_rejected_total counter
siaprapat_reports_rejected_total{reason="a b}"} 2
siaprapat_reports_rejected_total{reason="c"} 3
siaprapat_reports_received_total 1e3
`))
	if got["siaprapat_reports_rejected_total"] != 5 || got["siaprapat_reports_received_total"] != 1000 {
		t.Fatalf("sums %v", got)
	}
}

// Without Telegraf and the ceiling in the run, the targets measured
// against them are shown, not judged.
func TestTargets_WithoutPeersNotJudged(t *testing.T) {
	var rs []*result
	for _, r := range fixture() {
		if isSiaprapat(r) && r.Rooms == 10000 {
			rs = append(rs, r)
		}
	}
	var b strings.Builder
	targets(&b, &config{interval: time.Minute}, rs)
	got := b.String()
	for _, want := range []string{
		"| siaprapat, embedded broker: ingest (burst, stored) | 10,000 | 7000/s | ≥ 60 % of the ceiling | no ceiling in this run | not judged: run with -ceiling |",
		"| siaprapat, embedded broker: CPU a report (burst) | 10,000 | 100 µs | ≤ 1/3 of Telegraf's | no Telegraf in this run | not judged: run with -telegraf |",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("no row\n%s\nin\n%s", want, got)
		}
	}
}
