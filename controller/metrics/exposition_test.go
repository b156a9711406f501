package metrics

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"math"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// edgeFleet is fixtureFleet plus simulated rooms of every profile and a
// room whose report has what the exposition must get right: duplicate
// targets, rules and ports, quotes, backslashes and newlines in label
// values, NaN and infinite values, and a string that is not UTF-8.
func edgeFleet(t testing.TB) *fleet.Fleet {
	t.Helper()
	f := fixtureFleet()
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		r := fleetsim.NewRoom(i, 3, 7, std, "sim")
		rep := r.Run(context.Background())
		rep.MeasuredAt = t0
		f.ApplyReport(rep, t0)
	}
	f.ApplyStatus("site-02", "room-00002", wire.StatusOffline, t0)
	obs := 2.0
	f.ApplyReport(&wire.Report{
		Schema: wire.Schema, ID: "edge", Site: "kalbar", Room: "r3", AgentVersion: `1.0 "beta"`, Standard: "std\\1\nnext",
		MeasuredAt: t0, Verdict: wire.NotReady,
		Checks: []wire.CheckResult{
			{Check: "camera", Target: `Cam "A" \ 1`, Verdict: wire.Fail, DurationSeconds: math.Inf(1),
				Measurements: map[string]float64{"fps": math.NaN(), "black_ratio": math.Inf(-1), "width_pixels": -1},
				Rules: []wire.RuleResult{
					{Rule: "camera_fps", Verdict: wire.Pass},
					{Rule: "camera_fps", Verdict: wire.Fail, Observed: &obs},
					{Rule: "camera_black", Verdict: wire.Warn},
					{Rule: "camera_frozen", Verdict: wire.Error},
				}},
			{Check: "camera", Target: `Cam "A" \ 1`, Verdict: wire.Pass, Measurements: map[string]float64{"fps": 30}},
			{Check: "network", Target: "probe", Verdict: wire.Pass, Measurements: map[string]float64{"upload_bits_per_second": 8e6}},
			{Check: "audio", Target: "bad \xff utf-8", Verdict: wire.Pass, Measurements: map[string]float64{"rms_dbfs": -30}},
		},
		Peripherals: []wire.Peripheral{
			{Path: "1-1", ID: "aaaa:0001", Name: "Cam\nA", FirmwareStatus: wire.FirmwareBelowMinimum},
			{Path: "1-1", ID: "aaaa:0002", Name: "a second device on one port", FirmwareStatus: wire.FirmwareOK},
			{Path: "1-2", ID: "aaaa:0003", FirmwareStatus: wire.FirmwareBelowRecommended},
			{Path: "1-3", ID: "aaaa:0004"},
		},
	}, t0)
	return f
}

// normalized renders families as expfmt does, each family's series sorted,
// so that two expositions of the same series compare equal.
func normalized(t *testing.T, mfs map[string]*dto.MetricFamily) string {
	t.Helper()
	var names []string
	for n := range mfs {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		mf := mfs[n]
		var lines []string
		for _, m := range mf.Metric {
			var one strings.Builder
			if _, err := expfmt.MetricFamilyToText(&one, &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Metric: []*dto.Metric{m}}); err != nil {
				t.Fatal(err)
			}
			l := strings.Split(strings.TrimSuffix(one.String(), "\n"), "\n")
			b.WriteString(strings.Join(l[:2], "\n") + "\n")
			lines = append(lines, l[2:]...)
		}
		slices.Sort(lines)
		lines = slices.Compact(lines)
		b.WriteString(strings.Join(lines, "\n") + "\n")
	}
	return b.String()
}

func parseText(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func TestWriteText_SameSeriesAsCollect(t *testing.T) {
	c := New(edgeFleet(t))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	gathered, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*dto.MetricFamily{}
	for _, mf := range gathered {
		want[mf.GetName()] = mf
	}
	var b bytes.Buffer
	if err := c.WriteText(&b, nil); err != nil {
		t.Fatal(err)
	}
	got := parseText(t, &b)
	if g, w := normalized(t, got), normalized(t, want); g != w {
		t.Errorf("WriteText and Collect differ:\n--- WriteText\n%s\n--- Collect\n%s", g, w)
	}
	if len(want) < 40 {
		t.Errorf("only %d families: the fixture misses most of them", len(want))
	}
}

func TestWriteText_ExpfmtsLinesForTrickyValues(t *testing.T) {
	var b bytes.Buffer
	if err := New(edgeFleet(t)).WriteText(&b, map[string]bool{"siaprapat_camera_fps": true, "siaprapat_room_rule_problem": true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# TYPE siaprapat_camera_fps gauge\n",
		`siaprapat_camera_fps{room="r3",site="kalbar",target="Cam \"A\" \\ 1"} NaN` + "\n",
		`siaprapat_room_rule_problem{check="camera",room="r3",rule="camera_black",site="kalbar",target="Cam \"A\" \\ 1",verdict="warn"} 1` + "\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "siaprapat_room_state") {
		t.Error("a family that was not asked for was written")
	}
}

func TestHandler_GzipNameFilterAndOthers(t *testing.T) {
	others := prometheus.NewRegistry()
	others.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "siaprapat_process_thing_total", Help: "A process metric."}))
	h := Handler(New(edgeFleet(t)), others, nil)

	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "br;q=1.0, gzip;q=0.8")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if ce := w.Header().Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", ce)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	mfs := parseText(t, zr)
	for _, name := range []string{"siaprapat_process_thing_total", "siaprapat_room_state", "siaprapat_network_upload_bytes_per_second"} {
		if mfs[name] == nil {
			t.Errorf("%s missing", name)
		}
	}

	req = httptest.NewRequest("GET", "/metrics?name[]=siaprapat_room_last_report_timestamp_seconds", nil)
	req.Header.Set("Accept-Encoding", "gzip;q=0")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if ce := w.Header().Get("Content-Encoding"); ce != "" {
		t.Errorf("Content-Encoding %q for gzip;q=0", ce)
	}
	mfs = parseText(t, w.Body)
	if len(mfs) != 1 || len(mfs["siaprapat_room_last_report_timestamp_seconds"].GetMetric()) != 14 {
		t.Errorf("name[] filter: got %d families, want the last report timestamps of the 14 rooms with reports", len(mfs))
	}
}

func TestHandler_PassesPromtoolCheckMetrics(t *testing.T) {
	promtool := testenv.Command(t, "promtool", "prometheus")
	w := httptest.NewRecorder()
	Handler(New(edgeFleet(t)), prometheus.NewRegistry(), nil).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(w.Body.Bytes())
	out, _ := cmd.CombinedOutput()
	if len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics:\n%s", out)
	}
	if !strings.Contains(w.Body.String(), "siaprapat_audio_sample_bit_depth{") {
		t.Error("no siaprapat_audio_sample_bit_depth: the edge fleet should have a microphone")
	}
}

// TestWriteText_TracksTheFleet: what a scrape shows follows the fleet,
// with nothing kept between scrapes.
func TestWriteText_TracksTheFleet(t *testing.T) {
	f := fixtureFleet()
	c := New(f)
	count := func() int {
		var b bytes.Buffer
		if err := c.WriteText(&b, map[string]bool{"siaprapat_host_cpu_used_ratio": true}); err != nil {
			t.Fatal(err)
		}
		return strings.Count(b.String(), "\nsiaprapat_host_cpu_used_ratio{")
	}
	if n := count(); n != 1 {
		t.Fatalf("%d series, want 1", n)
	}
	f.ApplyStatus("kalbar", "r1", wire.StatusOffline, t0.Add(time.Second))
	if n := count(); n != 0 {
		t.Errorf("offline room: %d series, want none", n)
	}
}
