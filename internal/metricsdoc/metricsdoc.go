// Package metricsdoc writes docs/metrics.md: every metric family the
// controller exposes, with its type, labels and help, taken from the code.
//
// The fleet's families come from the fast writer's own list
// (metrics.Exporter.Families): with no rooms it writes none. The others
// come from the /metrics of real controllers, started in a temporary
// directory on loopback: one with the embedded broker, a room with a
// calendar feed, a session ahead and alert receivers configured, one with
// an external broker and a shard, so that the families that exist only in
// such configurations show too. The Go runtime's go_* and process_*
// families are named, not listed: they change with the Go release.
//
// The agent exports no metrics.
package metricsdoc

//go:generate go test -run ^TestMetricsDoc_IsCurrent$ -update .

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/siaprapat/siaprapat/controller"
	"github.com/siaprapat/siaprapat/controller/metrics"
	"github.com/siaprapat/siaprapat/controller/rooms"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/controller/shard"
	"github.com/siaprapat/siaprapat/standard"
)

// Family is one metric family as the table shows it.
type Family struct {
	Name, Type, Help string
	Labels           []string // sorted
	Fleet            bool     // one series (or more) per room, from the fleet's writer
}

// conditional are families that exist only once the controller has seen
// something (a session, a calendar read): Families waits for them.
var conditional = []string{
	"siaprapat_calendar_last_success_timestamp_seconds",
	"siaprapat_room_next_session_ready",
	"siaprapat_room_next_session_start_timestamp_seconds",
	"siaprapat_sessions_started_total",
}

// Families returns every family the controller exposes, by name.
func Families(ctx context.Context) ([]Family, error) {
	byName := map[string]Family{}
	for _, f := range metrics.New(nil).Families() {
		byName[f.Name] = Family{Name: f.Name, Type: f.Type, Help: f.Help, Labels: sorted(f.Labels), Fleet: true}
	}
	scraped, err := scrapeControllers(ctx)
	if err != nil {
		return nil, err
	}
	for _, mf := range scraped {
		name := mf.GetName()
		if _, ok := byName[name]; ok || strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue
		}
		labels := map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		var names []string
		for l := range labels {
			names = append(names, l)
		}
		byName[name] = Family{Name: name, Type: strings.ToLower(mf.GetType().String()), Help: mf.GetHelp(), Labels: sorted(names)}
	}
	out := make([]Family, 0, len(byName))
	for _, f := range byName {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Family) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// scrapeControllers starts the two controllers and returns the union of
// their families, once the conditional ones have shown.
func scrapeControllers(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	dir, err := os.MkdirTemp("", "siaprapat-metricsdoc-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	std, err := standard.Default()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	embedded := filepath.Join(dir, "embedded")
	if err := os.MkdirAll(embedded, 0o755); err != nil {
		return nil, err
	}
	store, err := sessions.Open(embedded)
	if err != nil {
		return nil, err
	}
	_, err = store.Put(sessions.Session{Site: "doc", Room: "r1", Title: "Rapat", Start: now.Add(-time.Minute), End: now.Add(time.Hour)})
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	ics := filepath.Join(dir, "r1.ics")
	feed := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//siaprapat//metricsdoc//EN\r\nEND:VCALENDAR\r\n"
	if err := os.WriteFile(ics, []byte(feed), 0o644); err != nil {
		return nil, err
	}
	roomsFile := filepath.Join(dir, "rooms.yaml")
	if err := os.WriteFile(roomsFile, []byte(fmt.Sprintf("schema: siaprapat.rooms/v1\nrooms:\n  - site: doc\n    room: r1\n    calendar: %s\n", ics)), 0o644); err != nil {
		return nil, err
	}
	rc, err := rooms.Load(roomsFile)
	if err != nil {
		return nil, err
	}
	first, err := controller.Start(controller.Config{
		HTTPListen: "127.0.0.1:0", MQTTListen: "127.0.0.1:0", ProbeUDP: "127.0.0.1:0", DataDir: embedded, Standard: std, Rooms: rc,
		Alertmanagers: []string{"http://127.0.0.1:9"}, Webhooks: []string{"http://127.0.0.1:9/hook"},
	})
	if err != nil {
		return nil, fmt.Errorf("start a controller with the embedded broker: %w", err)
	}
	defer first.Close()
	sh, err := shard.Parse("doc-*")
	if err != nil {
		return nil, err
	}
	second, err := controller.Start(controller.Config{
		HTTPListen: "127.0.0.1:0", ProbeUDP: "127.0.0.1:0", Broker: first.BrokerURL(), Shard: sh, DataDir: filepath.Join(dir, "shard"), Standard: std,
	})
	if err != nil {
		return nil, fmt.Errorf("start a controller with a shard of an external broker: %w", err)
	}
	defer second.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		all := map[string]*dto.MetricFamily{}
		for _, c := range []*controller.Controller{first, second} {
			mfs, err := scrape(ctx, "http://"+c.HTTPAddr()+"/metrics")
			if err != nil {
				return nil, err
			}
			for name, mf := range mfs {
				if have, ok := all[name]; ok {
					mf.Metric = append(mf.Metric, have.Metric...)
				}
				all[name] = mf
			}
		}
		var missing []string
		for _, name := range conditional {
			if all[name] == nil {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			return all, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the controllers did not expose %s in time", strings.Join(missing, ", "))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return mfs, nil
}

// Markdown writes the table of families.
func Markdown(w io.Writer, families []Family) error {
	if len(families) == 0 {
		return errors.New("no metric families")
	}
	var b strings.Builder
	b.WriteString("<!-- Code generated by go generate ./... (internal/metricsdoc); DO NOT EDIT. -->\n\n")
	b.WriteString("# Metrics\n\n")
	b.WriteString("Every metric family the controller's `/metrics` exposes, generated from the code.\n")
	b.WriteString("The fleet's families (marked *per room*) have series for each room the controller knows;\n")
	b.WriteString("the others describe the controller itself. Besides these, `/metrics` has the Go runtime's\n")
	b.WriteString("`go_*` and `process_*` families. The agent exports no metrics.\n\n")
	b.WriteString("| name | type | labels | help |\n|---|---|---|---|\n")
	for _, f := range families {
		typ := f.Type
		if f.Fleet {
			typ += ", per room"
		}
		labels := make([]string, len(f.Labels))
		for i, l := range f.Labels {
			labels[i] = "`" + l + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Name, typ, strings.Join(labels, ", "), cell(f.Help))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
