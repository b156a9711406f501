// Package e2e tests siaprapat end to end on real parts: agents, a real MQTT
// broker (the embedded mochi and a Mosquitto process), the controller, its
// bbolt store, /metrics and the API.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/agent/host"
	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/controller"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

func fastStandard(t *testing.T) *standard.Standard {
	t.Helper()
	s, err := standard.Load("testdata/fast.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startController starts a controller on loopback ports, stopped when the
// test ends; broker "" means the embedded broker.
func startController(t *testing.T, dataDir, broker string) *controller.Controller {
	t.Helper()
	return startWith(t, controller.Config{Broker: broker, DataDir: dataDir})
}

// startWith starts a controller with cfg, filling in loopback ports, a
// data directory and the fast standard where cfg leaves them empty, and
// waits until it is subscribed to its broker. It stops when the test ends.
func startWith(t *testing.T, cfg controller.Config) *controller.Controller {
	t.Helper()
	if cfg.HTTPListen == "" {
		cfg.HTTPListen = "127.0.0.1:0"
	}
	if cfg.MQTTListen == "" && cfg.Broker == "" {
		cfg.MQTTListen = "127.0.0.1:0"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Standard == nil {
		cfg.Standard = fastStandard(t)
	}
	c, err := controller.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t.Cleanup(func() { c.Close() }) // registered first, so it runs after the agents' clean-ups
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// room is one simulated agent: the real link, runner, host check and
// standard, with a drawn host reading in place of the PC.
type room struct {
	site, name string
	link       *link.Link
	run        *runner.Runner
}

func newRoom(t *testing.T, brokerURL, site, name string, p fleetsim.Profile) *room {
	t.Helper()
	// 2 s: mochi computes 1.5 x keepalive in whole seconds, so 1 s would
	// expire after 1 s, racing the client's ping.
	l, err := link.Connect(link.Options{Broker: brokerURL, Site: site, Room: name, KeepAlive: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return &room{site: site, name: name, link: l, run: &runner.Runner{
		Site: site, Room: name, AgentVersion: "test", Standard: fastStandard(t),
		Checks: []runner.Check{&host.Check{Source: fleetsim.NewSource(p, name, 1)}},
	}}
}

func (r *room) report(t *testing.T) *wire.Report {
	t.Helper()
	rep := r.run.Run(context.Background())
	if err := r.link.PublishReport(rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// keepReporting publishes a report from each room every interval until the
// test ends, as running agents would.
func keepReporting(t *testing.T, every time.Duration, rooms ...*room) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	t.Cleanup(func() { close(done); <-stopped })
	go func() {
		defer close(stopped)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				for _, r := range rooms {
					if err := r.link.PublishReport(r.run.Run(context.Background())); err != nil {
						t.Errorf("publish: %v", err)
					}
				}
			}
		}
	}()
}

// scrape fetches /metrics and parses it.
func scrape(t *testing.T, c *controller.Controller) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get("http://" + c.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs, string(body)
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// value returns the value of the series with the given labels, and whether it exists.
func value(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf, ok := mfs[name]
	if !ok {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if labelsMatch(m, labels) {
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			}
		}
	}
	return 0, false
}

// metricState is the room's state according to siaprapat_room_state.
func metricState(t *testing.T, c *controller.Controller, site, room string) string {
	return httpState(t, c.HTTPAddr(), site, room)
}

type apiRoom struct {
	State       string `json:"state"`
	AgentStatus string `json:"agent_status"`
	Report      *struct {
		ID string `json:"id"`
	} `json:"report"`
	Problems []apiProblem `json:"problems"`
}

// apiProblem is a cause in a room's problems.
type apiProblem struct {
	Rule    string `json:"rule"`
	Verdict string `json:"verdict"`
	Text    string `json:"text"`
	TextID  string `json:"text_id"`
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode
}

func apiState(t *testing.T, c *controller.Controller, site, room string) apiRoom {
	var r apiRoom
	getJSON(t, fmt.Sprintf("http://%s/api/v1/rooms/%s/%s", c.HTTPAddr(), site, room), &r)
	return r
}

// waitState polls /metrics until the room is in the state, and returns how
// long that took.
func waitState(t *testing.T, c *controller.Controller, site, room, want string, within time.Duration) time.Duration {
	t.Helper()
	return waitHTTPState(t, c.HTTPAddr(), site, room, want, within)
}

func publishRaw(t *testing.T, brokerURL, topic string, payload []byte) {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID("e2e-raw"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("raw client connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("raw publish: %v", tok.Error())
	}
}

func counter(t *testing.T, c *controller.Controller, name string, labels map[string]string) float64 {
	mfs, _ := scrape(t, c)
	v, _ := value(mfs, name, labels)
	return v
}

// fleetLifecycle is the scenario both brokers must pass.
func fleetLifecycle(t *testing.T, c *controller.Controller, brokerURL string) {
	ready := newRoom(t, brokerURL, "kalbar", "ready-room", fleetsim.ProfileReady)
	degraded := newRoom(t, brokerURL, "kalbar", "busy-room", fleetsim.ProfileDegraded)
	short := newRoom(t, brokerURL, "jatim", "short-room", fleetsim.ProfileNotReady)
	for _, r := range []*room{ready, degraded, short} {
		t.Cleanup(r.link.Close)
	}

	ready.report(t)
	degraded.report(t)
	short.report(t)
	waitState(t, c, "kalbar", "ready-room", "ready", 5*time.Second)
	waitState(t, c, "kalbar", "busy-room", "degraded", 5*time.Second)
	waitState(t, c, "jatim", "short-room", "not_ready", 5*time.Second)

	if got := apiState(t, c, "kalbar", "busy-room"); got.State != "degraded" || got.AgentStatus != "online" ||
		len(got.Problems) != 1 || got.Problems[0].Rule != "host_cpu" || got.Problems[0].Verdict != "warn" {
		t.Errorf("API for the busy room: %+v", got)
	}

	// A report the agent stops sending, with the connection kept: unknown
	// once the standard's freshness window (5 s) has passed.
	waitState(t, c, "kalbar", "busy-room", "unknown", 10*time.Second)
	if got := apiState(t, c, "kalbar", "busy-room"); got.State != "unknown" || got.AgentStatus != "online" {
		t.Errorf("API for the silent room: %+v, want unknown with the agent online", got)
	}

	// An agent that vanishes without a word: its last will makes it offline.
	ready.report(t)
	waitState(t, c, "kalbar", "ready-room", "ready", 5*time.Second)
	ready.link.Drop()
	took := waitState(t, c, "kalbar", "ready-room", "offline", 5*time.Second)
	t.Logf("connection cut -> offline in /metrics: %v", took)

	// Garbage on a report topic is counted and changes nothing.
	before := counter(t, c, "siaprapat_reports_rejected_total", map[string]string{"reason": "malformed"})
	publishRaw(t, brokerURL, wire.Topic("jatim", "short-room", wire.KindReport), []byte("\x00garbage{"))
	deadline := time.Now().Add(5 * time.Second)
	for counter(t, c, "siaprapat_reports_rejected_total", map[string]string{"reason": "malformed"}) != before+1 {
		if time.Now().After(deadline) {
			t.Fatal("garbage report was not counted in siaprapat_reports_rejected_total{reason=\"malformed\"}")
		}
		time.Sleep(25 * time.Millisecond)
	}
	// A report for another room on this room's topic is refused too.
	wrong := short.run.Run(context.Background())
	wrong.Room = "someone-else"
	b, _ := wrong.Encode()
	publishRaw(t, brokerURL, wire.Topic("jatim", "short-room", wire.KindReport), b)
	deadline = time.Now().Add(5 * time.Second)
	for counter(t, c, "siaprapat_reports_rejected_total", map[string]string{"reason": "topic_mismatch"}) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("mismatched report was not counted")
		}
		time.Sleep(25 * time.Millisecond)
	}
	if got := metricState(t, c, "jatim", "short-room"); got != "not_ready" && got != "unknown" {
		t.Errorf("short-room is %s after bad input", got)
	}
	short.report(t)
	waitState(t, c, "jatim", "short-room", "not_ready", 5*time.Second)
}

func TestEndToEnd_EmbeddedBroker(t *testing.T) {
	c := startController(t, t.TempDir(), "")
	fleetLifecycle(t, c, c.BrokerURL())
}

func TestEndToEnd_Mosquitto(t *testing.T) {
	bin := testenv.Command(t, "mosquitto", "mosquitto")
	url := startMosquitto(t, bin)
	c := startController(t, t.TempDir(), url)
	if c.BrokerURL() != "" {
		t.Fatal("an embedded broker runs beside the external one")
	}
	fleetLifecycle(t, c, url)
}

func TestEndToEnd_MetricsPassPromtool(t *testing.T) {
	promtool := testenv.Command(t, "promtool", "prometheus")
	c := startController(t, t.TempDir(), "")
	r := newRoom(t, c.BrokerURL(), "kalbar", "r1", fleetsim.ProfileNotReady)
	t.Cleanup(r.link.Close)
	r.report(t)
	waitState(t, c, "kalbar", "r1", "not_ready", 5*time.Second)
	_, body := scrape(t, c)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	for _, want := range []string{"siaprapat_controller_build_info", "go_goroutines", "process_resident_memory_bytes",
		"siaprapat_reports_received_total", `siaprapat_reports_rejected_total{reason="oversized"} 0`, "siaprapat_host_memory_available_bytes{"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestController_RestartKeepsFleet(t *testing.T) {
	dir := t.TempDir()
	c := startController(t, dir, "")
	r := newRoom(t, c.BrokerURL(), "kalbar", "r1", fleetsim.ProfileNotReady)
	rep := r.report(t)
	waitState(t, c, "kalbar", "r1", "not_ready", 5*time.Second)
	r.link.Drop()
	waitState(t, c, "kalbar", "r1", "offline", 5*time.Second)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c2 := startController(t, dir, "")
	got := apiState(t, c2, "kalbar", "r1")
	if got.State != "offline" || got.Report == nil || got.Report.ID != rep.ID {
		t.Fatalf("after restart: %+v, want offline with report %s", got, rep.ID)
	}
	var list struct {
		Rooms []apiRoom `json:"rooms"`
	}
	getJSON(t, "http://"+c2.HTTPAddr()+"/api/v1/rooms", &list)
	if len(list.Rooms) != 1 {
		t.Errorf("%d rooms after restart, want 1", len(list.Rooms))
	}
}

func TestAPI_UnknownRoomAndBadNames(t *testing.T) {
	c := startController(t, t.TempDir(), "")
	var e struct {
		Error string `json:"error"`
	}
	if code := getJSON(t, "http://"+c.HTTPAddr()+"/api/v1/rooms/kalbar/nope", &e); code != 404 ||
		e.Error != "room kalbar/nope is not known: no agent has reported for it" {
		t.Errorf("unknown room: %d %q", code, e.Error)
	}
	if code := getJSON(t, "http://"+c.HTTPAddr()+"/api/v1/rooms/kalbar/bad%20name", &e); code != 400 ||
		!strings.HasPrefix(e.Error, `room "bad name" is not a valid name`) {
		t.Errorf("bad room name: %d %q", code, e.Error)
	}
	if code := getJSON(t, "http://"+c.HTTPAddr()+"/api/v1/nothing", &e); code != 404 {
		t.Errorf("unknown endpoint: %d %q", code, e.Error)
	}
}

// TestEndToEnd_MosquittoGoesAwayAndComesBack stops the external broker under
// a running controller and agent: the controller says it is not ready (and
// its metric says disconnected) but keeps serving; when the broker returns,
// both reconnect and reports flow again.
func TestEndToEnd_MosquittoGoesAwayAndComesBack(t *testing.T) {
	bin := testenv.Command(t, "mosquitto", "mosquitto")
	m := &mosquitto{bin: bin, port: testenv.FreePort(t)}
	m.start(t)
	c := startController(t, t.TempDir(), m.url())
	r := newRoom(t, m.url(), "kalbar", "r1", fleetsim.ProfileReady)
	t.Cleanup(r.link.Close)
	r.report(t)
	waitState(t, c, "kalbar", "r1", "ready", 5*time.Second)

	m.stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + c.HTTPAddr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d with the broker gone", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mfs, _ := scrape(t, c)
	if v, _ := value(mfs, "siaprapat_controller_broker_connected", nil); v != 0 {
		t.Errorf("siaprapat_controller_broker_connected = %v with the broker gone", v)
	}
	if got := metricState(t, c, "kalbar", "r1"); got != "ready" && got != "unknown" {
		t.Errorf("room is %s during the outage; the controller cannot know more than its last report", got)
	}

	m.start(t)
	before := counter(t, c, "siaprapat_reports_received_total", nil)
	deadline = time.Now().Add(40 * time.Second) // paho's backoff may have grown
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		ready := c.WaitReady(ctx) == nil
		cancel()
		if r.link.Connected() && ready {
			if err := r.link.PublishReport(r.run.Run(context.Background())); err == nil &&
				counter(t, c, "siaprapat_reports_received_total", nil) > before {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no report reached the controller after the broker came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitState(t, c, "kalbar", "r1", "ready", 5*time.Second)
}

// TestAPI_ReportHistoryKeepsEachReportOnce sends reports as QoS 1 redelivery
// and a spool replay would: the same report twice, and an old one after a
// newer. The history has each once, oldest first, across a restart; the
// room's state follows the newest.
func TestAPI_ReportHistoryKeepsEachReportOnce(t *testing.T) {
	dir := t.TempDir()
	c := startController(t, dir, "")
	r := newRoom(t, c.BrokerURL(), "kalbar", "r1", fleetsim.ProfileReady)
	reps := make([]*wire.Report, 3)
	for i := range reps {
		reps[i] = r.run.Run(context.Background())
		reps[i].MeasuredAt = reps[i].MeasuredAt.Add(time.Duration(i-3) * time.Minute)
	}
	payload := func(rep *wire.Report) []byte {
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	topic := wire.Topic("kalbar", "r1", wire.KindReport)
	for _, i := range []int{0, 2, 2, 1, 0} { // a duplicate, and an old one after the newest
		publishRaw(t, c.BrokerURL(), topic, payload(reps[i]))
	}
	base := "http://" + c.HTTPAddr() + "/api/v1/rooms/kalbar/r1/reports"
	var list struct {
		Reports []*wire.Report `json:"reports"`
		More    bool           `json:"more"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for counter(t, c, "siaprapat_reports_received_total", nil) < 5 {
		if time.Now().After(deadline) {
			t.Fatal("the controller did not receive the 5 messages")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ids := func(addr string) []string {
		list.Reports = nil
		if code := getJSON(t, "http://"+addr+"/api/v1/rooms/kalbar/r1/reports?since="+reps[0].MeasuredAt.Format(time.RFC3339Nano), &list); code != 200 {
			t.Fatalf("history: HTTP %d", code)
		}
		var out []string
		for _, rep := range list.Reports {
			out = append(out, rep.ID)
		}
		return out
	}
	want := []string{reps[0].ID, reps[1].ID, reps[2].ID}
	if got := ids(c.HTTPAddr()); !slices.Equal(got, want) {
		t.Errorf("history = %v, want each report once, oldest first: %v", got, want)
	}
	if got := apiState(t, c, "kalbar", "r1"); got.Report == nil || got.Report.ID != reps[2].ID {
		t.Errorf("room state follows %v, want the newest report %s", got.Report, reps[2].ID)
	}
	if n := counter(t, c, "siaprapat_reports_ignored_total", map[string]string{"reason": "duplicate"}); n != 2 {
		t.Errorf("duplicates counted: %v, want 2", n)
	}
	var e struct {
		Error string `json:"error"`
	}
	if code := getJSON(t, base+"?since=yesterday", &e); code != 400 || !strings.Contains(e.Error, "RFC 3339") {
		t.Errorf("bad since: %d %q", code, e.Error)
	}
	if code := getJSON(t, "http://"+c.HTTPAddr()+"/api/v1/rooms/kalbar/nope/reports", &e); code != 404 {
		t.Errorf("unknown room: %d %q", code, e.Error)
	}
	r.link.Drop()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := startController(t, dir, "")
	if got := ids(c2.HTTPAddr()); !slices.Equal(got, want) {
		t.Errorf("history after restart = %v, want %v", got, want)
	}
}
