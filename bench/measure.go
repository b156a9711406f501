package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// result is what one run measured.
type result struct {
	System       string
	Rooms        int
	RoomsPerConn int
	Connect      time.Duration

	// Burst: reports as fast as the broker takes them.
	Messages        int
	ReportBytes     int     // mean size of one
	Stored          int64   // acknowledged as stored (controller) or written (Telegraf)
	Rate            float64 // messages per second, publish of the first to stored of the last
	CPUPerMsg       time.Duration
	BrokerCPUPerMsg time.Duration // Mosquitto's, when it is the broker

	// Steady: every room once per interval.
	SteadyCPU     float64 // of one core
	SteadyWindow  time.Duration
	SteadyReports int64
	memory

	Delays []time.Duration // publish to visible in /metrics

	// History: the report history's files on disk after the steady state,
	// and the reports the controller had stored by then.
	HistoryBytes   int64
	HistoryReports int64

	ScrapePlain, ScrapeGzip time.Duration // medians
	BytesPlain, BytesGzip   int64

	FanoutRooms    int
	FanoutAnswered int
	Fanout         time.Duration // first cmd sent to last result stored
	Dispatch       time.Duration // first cmd sent to last cmd sent
	CheckDuration  time.Duration

	Notes []string
}

func (r *result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// burstSize is how many reports a burst sends: two per room, and at least
// 20,000 so that small fleets are measured over seconds, not milliseconds.
func burstSize(rooms int) int { return max(2*rooms, 20000) }

// startGenerator connects n simulated rooms to the broker, as rooms that
// answer the controller's commands after checkDuration when controller is
// set, and records how long connecting took.
func startGenerator(ctx context.Context, brokerURL string, n int, std *standard.Standard, res *result, controller bool, checkDuration time.Duration) (*generator, error) {
	g := newGenerator(brokerURL, n, res.RoomsPerConn, std)
	t := time.Now()
	if err := g.connect(ctx, controller, checkDuration); err != nil {
		g.close()
		return nil, err
	}
	res.Connect = time.Since(t)
	return g, nil
}

// burst builds the burst's reports for the generator's rooms and records
// how many and their mean size.
func burst(ctx context.Context, g *generator, res *result) ([]payload, error) {
	res.Messages = burstSize(len(g.rooms))
	ps, err := g.buildBurst(ctx, res.Messages)
	if err != nil {
		return nil, err
	}
	res.ReportBytes = meanSize(ps)
	return ps, nil
}

// roomsPerConn carries up to 10,000 connections: the open-file hard limit
// (20,000) holds for the load generator and for the broker alike.
func roomsPerConn(rooms, maxConns int) int { return (rooms + maxConns - 1) / maxConns }

// runController measures the controller at one fleet size, with its
// embedded broker or with Mosquitto.
func runController(ctx context.Context, cfg *config, std *standard.Standard, broker string, n int) (*result, error) {
	res := &result{System: "siaprapat, embedded broker", Rooms: n, RoomsPerConn: roomsPerConn(n, cfg.maxConns), CheckDuration: cfg.checkDuration}
	dir, err := os.MkdirTemp("", "siaprapat-bench-")
	if err != nil {
		return nil, err
	}
	defer cleanup(cfg, dir)
	var mosq *proc
	var brokerURL string
	if broker == "mosquitto" {
		res.System = "siaprapat + Mosquitto"
		if mosq, brokerURL, err = startMosquitto(ctx, cfg.mosquitto, dir); err != nil {
			return nil, err
		}
		defer mosq.stop(10 * time.Second)
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	args := []string{"serve", "--http", fmt.Sprintf("127.0.0.1:%d", httpPort), "--data", filepath.Join(dir, "data"),
		"--log-level", "warn", "--lead-times", cfg.leadTime.String()}
	if mosq != nil {
		args = append(args, "--broker", brokerURL)
	} else {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		brokerURL = fmt.Sprintf("mqtt://127.0.0.1:%d", port)
		args = append(args, "--mqtt-listen", fmt.Sprintf("127.0.0.1:%d", port))
	}
	ctrl, err := startProc("controller", dir, cfg.controller, args...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := ctrl.stop(60 * time.Second); err != nil {
			res.note("controller stop: %v", err)
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = waitHTTP(wctx, ctrl, base+"/readyz")
	cancel()
	if err != nil {
		return nil, err
	}

	g, err := startGenerator(ctx, brokerURL, n, std, res, true, cfg.checkDuration)
	if err != nil {
		return nil, err
	}
	defer g.close()
	logf("  %d rooms on %d connections in %v", n, len(g.conns), res.Connect.Round(time.Millisecond))

	// Ingest: a burst, acknowledged once stored in bbolt.
	if err := measureBurst(ctx, cfg, g, res, ctrl, mosq); err != nil {
		return nil, err
	}
	if err := ctrl.exited(); err != nil {
		return nil, err
	}

	// Steady state: CPU and memory, then the delay to /metrics.
	sctx, stop := context.WithCancel(ctx)
	sent, failed := g.steady(sctx, cfg.interval)
	sleepCtx(ctx, 5*time.Second)
	c0, t0 := ctrl.cpu(), time.Now()
	sleepCtx(ctx, cfg.steady)
	res.SteadyWindow = time.Since(t0)
	res.SteadyCPU = float64(ctrl.cpu()-c0) / float64(res.SteadyWindow)
	res.memory = ctrl.rss()
	logf("  steady: %.1f %% of a core, RSS %s (anonymous %s, files %s)", 100*res.SteadyCPU, mib(res.RSS), mib(res.Anon), mib(res.File))
	if err := measureHistory(ctx, base+"/metrics", filepath.Join(dir, "data"), res); err != nil {
		res.note("history size: %v", err)
	} else {
		logf("  history: %s for %d reports, %.0f bytes a report", mib(res.HistoryBytes), res.HistoryReports, res.historyPerReport())
	}
	res.Delays = probeDelays(ctx, g, base+"/metrics", cfg.probes, cfg.probeBudget)
	stop()
	res.SteadyReports = sent.Load()
	if f := failed.Load(); f > 0 {
		res.note("%d steady-state reports failed to publish", f)
	}
	logf("  delay to /metrics: %d probes, median %v", len(res.Delays), median(res.Delays).Round(time.Millisecond))

	if err := measureScrapes(ctx, cfg, base+"/metrics", res); err != nil {
		res.note("scrape: %v", err)
	}
	logf("  scrape: %v plain (%s), %v gzip (%s)", res.ScrapePlain.Round(time.Millisecond), mib(res.BytesPlain),
		res.ScrapeGzip.Round(time.Millisecond), mib(res.BytesGzip))

	if cfg.fanout {
		if err := measureFanout(ctx, cfg, g, base, res); err != nil {
			res.note("fan-out: %v", err)
		}
		logf("  fan-out: %d/%d answered, first cmd to last result %v (dispatch %v)", res.FanoutAnswered, res.FanoutRooms,
			res.Fanout.Round(time.Millisecond), res.Dispatch.Round(time.Millisecond))
	}
	return res, ctrl.exited()
}

// Counters of /metrics whose balance is the reports the history took.
var historyCounters = []string{
	"siaprapat_reports_received_total", "siaprapat_reports_rejected_total",
	"siaprapat_reports_ignored_total", "siaprapat_history_record_errors_total",
}

// measureHistory records the size of the report history's files in the
// data directory (history*: history.db and whatever else it keeps beside
// it) and the reports it stored: received, less those rejected, ignored
// (duplicates, older) or not recorded.
func measureHistory(ctx context.Context, metricsURL, dataDir string, res *result) error {
	url := metricsURL + "?name[]=" + strings.Join(historyCounters, "&name[]=")
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	sums := sumFamilies(body)
	if _, ok := sums[historyCounters[0]]; !ok {
		return fmt.Errorf("%s: no %s", metricsURL, historyCounters[0])
	}
	res.HistoryReports = int64(sums[historyCounters[0]] - sums[historyCounters[1]] - sums[historyCounters[2]] - sums[historyCounters[3]])
	files, err := filepath.Glob(filepath.Join(dataDir, "history*"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no history files in %s", dataDir)
	}
	res.HistoryBytes = 0
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		res.HistoryBytes += st.Size()
	}
	return nil
}

// sumFamilies sums each metric family's samples in a text exposition.
func sumFamilies(exposition []byte) map[string]float64 {
	sums := map[string]float64{}
	for _, l := range strings.Split(string(exposition), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		name := l[:strings.IndexAny(l+" ", "{ ")]
		rest := l[len(name):]
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest) // the value, then maybe a timestamp
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sums[name] += v
	}
	return sums
}

func (r *result) historyPerReport() float64 {
	if r.HistoryReports <= 0 {
		return 0
	}
	return float64(r.HistoryBytes) / float64(r.HistoryReports)
}

func measureBurst(ctx context.Context, cfg *config, g *generator, res *result, consumer, mosq *proc) error {
	ps, err := burst(ctx, g, res)
	if err != nil {
		return err
	}
	done := g.expectAcks(ps)
	c0, b0, t0 := consumer.cpu(), mosquittoCPU(mosq), time.Now()
	if f := g.publishAll(ctx, ps, cfg.publishers, cfg.window); f > 0 {
		res.note("%d burst reports failed to publish", f)
	}
	select {
	case <-done:
	case <-time.After(cfg.ackTimeout + time.Duration(res.Messages)*time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	c1, b1 := consumer.cpu(), mosquittoCPU(mosq)
	res.Stored = g.acked.Load()
	if res.Stored == 0 {
		return fmt.Errorf("no report of the burst was acknowledged as stored")
	}
	if res.Stored < int64(res.Messages) {
		res.note("burst: %d of %d reports acknowledged as stored within the timeout", res.Stored, res.Messages)
	}
	span := time.Unix(0, g.lastAck.Load()).Sub(t0)
	res.Rate = float64(res.Stored) / span.Seconds()
	res.CPUPerMsg = (c1 - c0) / time.Duration(res.Stored)
	if mosq != nil {
		res.BrokerCPUPerMsg = (b1 - b0) / time.Duration(res.Stored)
	}
	logf("  burst: %d reports stored in %v: %.0f/s, %v CPU each", res.Stored, span.Round(time.Millisecond), res.Rate, res.CPUPerMsg.Round(time.Microsecond))
	return nil
}

func meanSize(ps []payload) int {
	total := 0
	for _, p := range ps {
		total += len(p.data)
	}
	return total / max(len(ps), 1)
}

func mosquittoCPU(p *proc) time.Duration {
	if p == nil {
		return 0
	}
	return p.cpu()
}

// probeDelays publishes a report for a random room and polls /metrics
// (only the last-report family, as a dashboard's query would need) until
// the report's measured_at shows, up to probes times within budget.
func probeDelays(ctx context.Context, g *generator, metricsURL string, probes int, budget time.Duration) []time.Duration {
	client := &http.Client{Timeout: time.Minute}
	url := metricsURL + "?name[]=siaprapat_room_last_report_timestamp_seconds"
	end := time.Now().Add(budget)
	var out []time.Duration
	for range probes {
		if ctx.Err() != nil || time.Now().After(end) {
			break
		}
		r := g.rooms[rand.IntN(len(g.rooms))]
		rep := r.Run(ctx)
		data, err := rep.Encode()
		if err != nil {
			continue
		}
		want := float64(rep.MeasuredAt.UnixNano()) / 1e9
		key := []byte(fmt.Sprintf(`{room="%s",site="%s"} `, r.Room.Room, r.Site))
		t0 := time.Now()
		if wait(r.conn.Publish(wire.Topic(r.Site, r.Room.Room, wire.KindReport), 1, false, data), "publish") != nil {
			continue
		}
		for time.Since(t0) < 30*time.Second && ctx.Err() == nil {
			resp, err := client.Get(url)
			if err != nil {
				break
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				break
			}
			if v, ok := valueAfter(body, key); ok && v >= want-1e-4 {
				out = append(out, time.Since(t0))
				break
			}
		}
	}
	return out
}

// valueAfter finds key in an exposition and parses the value after it.
func valueAfter(body, key []byte) (float64, bool) {
	i := bytes.Index(body, key)
	if i < 0 {
		return 0, false
	}
	rest := body[i+len(key):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	v, err := strconv.ParseFloat(string(rest), 64)
	return v, err == nil
}

// measureScrapes takes the median of cfg.scrapes scrapes, plain and gzip,
// as Prometheus asks for the text format.
func measureScrapes(ctx context.Context, cfg *config, url string, res *result) error {
	client := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{DisableCompression: true}}
	var plain, gz []time.Duration
	for i := 0; i < 2*cfg.scrapes && ctx.Err() == nil; i++ {
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
		if i%2 == 1 {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("scrape %s: %w", url, err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if err != nil || resp.StatusCode != http.StatusOK {
			return fmt.Errorf("scrape %s: %d %v", url, resp.StatusCode, err)
		}
		if i%2 == 1 {
			gz, res.BytesGzip = append(gz, d), n
		} else {
			plain, res.BytesPlain = append(plain, d), n
		}
	}
	res.ScrapePlain, res.ScrapeGzip = median(plain), median(gz)
	return ctx.Err()
}

// measureFanout gives every room a session starting at the same minute,
// one lead time after the checks are to fire, and measures from the first
// check command the controller sent to the last result it stored.
func measureFanout(ctx context.Context, cfg *config, g *generator, base string, res *result) error {
	res.FanoutRooms = len(g.rooms)
	// One kept-alive connection for each of the 8 creating workers, as a
	// scheduler's client would hold (the default keeps 2, so 50,000
	// sessions made some 37,000 connections, 17,000 of them in TIME_WAIT
	// at once).
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	create := func(r *simRoom, start time.Time) error {
		body, _ := json.Marshal(map[string]string{"title": "Rapat koordinasi", "start": start.Format(time.RFC3339),
			"end": start.Add(time.Hour).Format(time.RFC3339)})
		// When a request fails, say how long it took and what the
		// connection had done, to tell a slow controller from a closed
		// connection.
		var reused, wrote bool
		trace := &httptrace.ClientTrace{
			GotConn:      func(i httptrace.GotConnInfo) { reused = i.Reused },
			WroteRequest: func(httptrace.WroteRequestInfo) { wrote = true },
		}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), "POST",
			fmt.Sprintf("%s/api/v1/rooms/%s/%s/sessions", base, r.Site, r.Room.Room), bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("%w (after %v; connection reused %v, request written %v)", err, time.Since(t0).Round(time.Millisecond), reused, wrote)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("create session: %s: %s", resp.Status, b)
		}
		return nil
	}
	// How fast sessions are created (a bbolt write each), on sessions a
	// day away that fire nothing now.
	calib := min(200, len(g.rooms))
	t0 := time.Now()
	if err := parallel(8, g.rooms[:calib], func(r *simRoom) error { return create(r, t0.Add(24*time.Hour)) }); err != nil {
		return err
	}
	per := time.Since(t0) / time.Duration(calib)
	fire := time.Now().Add(per*time.Duration(len(g.rooms))*3/2 + 15*time.Second).Truncate(time.Second)
	start := fire.Add(cfg.leadTime)
	logf("  fan-out: creating %d sessions starting %s (checks fire at %s)", len(g.rooms), start.Format(time.TimeOnly), fire.Format(time.TimeOnly))
	if err := parallel(8, g.rooms, func(r *simRoom) error { return create(r, start) }); err != nil {
		return err
	}
	if late := time.Since(fire); late > 0 {
		res.note("fan-out: creating the sessions ran %v past the firing time; the first were checked before the last were created", late.Round(time.Second))
	}
	limit := time.Until(fire) + cfg.checkDuration + 3*time.Minute + time.Duration(len(g.rooms))*2*time.Millisecond
	deadline := time.Now().Add(limit)
	var seen []commandSeen
	for time.Now().Before(deadline) && ctx.Err() == nil {
		seen = g.seenCommands()
		answered := 0
		for _, c := range seen {
			if !c.answered.IsZero() {
				answered++
			}
		}
		res.FanoutAnswered = answered
		if answered >= len(g.rooms) {
			break
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	if len(seen) == 0 {
		return fmt.Errorf("no check command reached a room")
	}
	first, lastIssued := seen[0].issued, seen[0].issued
	for _, c := range seen {
		first = minTime(first, c.issued)
		if c.issued.After(lastIssued) {
			lastIssued = c.issued
		}
	}
	res.Dispatch = lastIssued.Sub(first)
	// The results sent last finished last; the controller keeps the most
	// recently finished checks, so these can still be looked up.
	slices.SortFunc(seen, func(a, b commandSeen) int { return b.answered.Compare(a.answered) })
	var lastStored time.Time
	var lookups atomic.Int64
	var mu sync.Mutex
	_ = parallel(8, seen[:min(100, len(seen))], func(c commandSeen) error {
		var check struct {
			Status     string    `json:"status"`
			FinishedAt time.Time `json:"finished_at"`
		}
		// The broker has the result; the controller may not have taken it yet.
		for end := time.Now().Add(time.Minute); ; {
			if err := getJSON(client, base+"/api/v1/checks/"+c.id, &check); err != nil || check.Status != "pending" || time.Now().After(end) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if check.Status != "done" {
			return nil
		}
		lookups.Add(1)
		mu.Lock()
		if check.FinishedAt.After(lastStored) {
			lastStored = check.FinishedAt
		}
		mu.Unlock()
		return nil
	})
	if lastStored.IsZero() {
		return fmt.Errorf("could not look up the last checks")
	}
	res.Fanout = lastStored.Sub(first)
	if res.FanoutAnswered < len(g.rooms) {
		res.note("fan-out: %d of %d rooms got a check and answered within %v", res.FanoutAnswered, len(g.rooms), limit.Round(time.Second))
	}
	outcomes, err := checkOutcomes(client, base)
	if done := outcomes["ready"] + outcomes["degraded"] + outcomes["not_ready"]; err == nil && done < int64(len(g.rooms)) {
		res.note("fan-out: the controller counts %d checks done of %d; outcomes %v, %d still pending", done, len(g.rooms), outcomes, int64(len(g.rooms))-sum(outcomes))
	}
	return nil
}

var checkCount = regexp.MustCompile(`(?m)^siaprapat_check_commands_total\{outcome="(\w+)"\} (\S+)$`)

// checkOutcomes is how many check commands ended, by outcome: ready,
// degraded and not_ready with the agent's report; failed, timeout, offline
// without.
func checkOutcomes(client *http.Client, base string) (map[string]int64, error) {
	resp, err := client.Get(base + "/metrics?name[]=siaprapat_check_commands_total")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	n := map[string]int64{}
	for _, m := range checkCount.FindAllSubmatch(body, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		n[string(m[1])] += int64(v)
	}
	return n, nil
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func getJSON(client *http.Client, url string, v any) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// parallel runs f over items, workers at a time, and returns the first error.
func parallel[T any](workers int, items []T, f func(T) error) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(items)) {
					return
				}
				if err := f(items[i]); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// telegrafConf feeds Telegraf the reports through Mosquitto, JSON to
// Prometheus, as a bridge user would set it up: each report one metric,
// tagged by site and room, every number in it a field, timed by its
// measured_at; flushed in batches of 1,000 or every 200 ms.
const telegrafConf = `[agent]
  interval = "10s"
  flush_interval = "200ms"
  metric_batch_size = 1000
  metric_buffer_limit = 1000000
  omit_hostname = true
  debug = true

[[inputs.mqtt_consumer]]
  servers = ["tcp://%s"]
  topics = ["siaprapat/v1/+/+/report"]
  qos = 1
  client_id = "telegraf-bench"
  max_undelivered_messages = 5000
  data_format = "json"
  name_override = "siaprapat"
  tag_keys = ["site", "room"]
  json_time_key = "measured_at"
  json_time_format = "2006-01-02T15:04:05Z07:00"

[[outputs.prometheus_client]]
  listen = "127.0.0.1:%d"
  ## Its default of 10 s cuts the scrape of 50,000 rooms short.
  write_timeout = "2m"
  ## Keep every room, as the controller does (by default a metric goes
  ## 60 s after its time, the report's measured_at).
  expiration_interval = "0s"
  metric_version = 2
  collectors_exclude = ["gocollector", "process"]
`

var wroteBatch = regexp.MustCompile(`Wrote batch of (\d+) metrics`)

// runTelegraf measures the peer at one fleet size: the same burst of the
// same JSON through Mosquitto, counted as written when Telegraf logs its
// output batches; then its RSS and scrape.
func runTelegraf(ctx context.Context, cfg *config, std *standard.Standard, n int) (*result, error) {
	res := &result{System: "Telegraf + Mosquitto", Rooms: n, RoomsPerConn: roomsPerConn(n, cfg.maxConns)}
	dir, err := os.MkdirTemp("", "siaprapat-bench-telegraf-")
	if err != nil {
		return nil, err
	}
	defer cleanup(cfg, dir)
	mosq, brokerURL, err := startMosquitto(ctx, cfg.mosquitto, dir)
	if err != nil {
		return nil, err
	}
	defer mosq.stop(10 * time.Second)
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "telegraf.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(telegrafConf, strings.TrimPrefix(brokerURL, "mqtt://"), port)), 0o644); err != nil {
		return nil, err
	}
	tg, err := startProc("telegraf", dir, cfg.telegraf, "--config", conf)
	if err != nil {
		return nil, err
	}
	defer tg.stop(30 * time.Second)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = waitHTTP(wctx, tg, metricsURL)
	cancel()
	if err != nil {
		return nil, err
	}
	g, err := startGenerator(ctx, brokerURL, n, std, res, false, 0)
	if err != nil {
		return nil, err
	}
	defer g.close()
	ps, err := burst(ctx, g, res)
	if err != nil {
		return nil, err
	}
	written := func() int64 {
		var sum int64
		for _, m := range wroteBatch.FindAllStringSubmatch(tail(tg.log, 1<<30), -1) {
			v, _ := strconv.ParseInt(m[1], 10, 64)
			sum += v
		}
		return sum
	}
	w0 := written()
	c0, b0, t0 := tg.cpu(), mosq.cpu(), time.Now()
	if f := g.publishAll(ctx, ps, cfg.publishers, 0); f > 0 {
		res.note("%d burst messages failed to publish", f)
	}
	deadline := time.Now().Add(cfg.ackTimeout + time.Duration(res.Messages)*time.Millisecond)
	var tEnd time.Time
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if res.Stored = written() - w0; res.Stored >= int64(res.Messages) {
			tEnd = time.Now()
			break
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	c1, b1 := tg.cpu(), mosq.cpu()
	if tEnd.IsZero() {
		tEnd = time.Now()
		res.note("Telegraf wrote %d of %d messages within the timeout", res.Stored, res.Messages)
	}
	if res.Stored == 0 {
		return nil, fmt.Errorf("telegraf wrote nothing; its log ends:\n%s", tail(tg.log, 2000))
	}
	res.Rate = float64(res.Stored) / tEnd.Sub(t0).Seconds()
	res.CPUPerMsg = (c1 - c0) / time.Duration(res.Stored)
	res.BrokerCPUPerMsg = (b1 - b0) / time.Duration(res.Stored)
	res.memory = tg.rss()
	logf("  burst: %d messages written in %v: %.0f/s, %v CPU each, RSS %s", res.Stored, tEnd.Sub(t0).Round(time.Millisecond),
		res.Rate, res.CPUPerMsg.Round(time.Microsecond), mib(res.RSS))
	if err := measureScrapes(ctx, cfg, metricsURL, res); err != nil {
		res.note("scrape: %v", err)
	}
	logf("  scrape: %v plain (%s), %v gzip (%s)", res.ScrapePlain.Round(time.Millisecond), mib(res.BytesPlain),
		res.ScrapeGzip.Round(time.Millisecond), mib(res.BytesGzip))
	return res, tg.exited()
}

func cleanup(cfg *config, dir string) {
	if cfg.keep {
		logf("  kept %s", dir)
		return
	}
	os.RemoveAll(dir)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func median(ds []time.Duration) time.Duration { return quantile(ds, 0.5) }

// quantile is the nearest-rank quantile.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
