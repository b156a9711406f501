package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/standard"
)

type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		Title      string          `json:"title"`
		Datasource json.RawMessage `json:"datasource"`
		Targets    []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	files, _ := filepath.Glob("../dashboards/grafana/dashboards/*.json")
	if len(files) < 3 {
		t.Fatalf("%d dashboards, want the fleet overview, room detail and usage", len(files))
	}
	var out []dashboard
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, d)
	}
	return out
}

func TestDashboards_WellFormed(t *testing.T) {
	for _, d := range loadDashboards(t) {
		if d.UID == "" || len(d.Panels) == 0 {
			t.Errorf("dashboard %q: no uid or no panels", d.Title)
		}
		for _, p := range d.Panels {
			if len(p.Datasource) == 0 || string(p.Datasource) == "null" {
				t.Errorf("%s / %s: no datasource", d.Title, p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s / %s: no query", d.Title, p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s / %s: empty query", d.Title, p.Title)
				}
			}
		}
	}
}

func TestRules_Promtool(t *testing.T) {
	promtool := testenv.Command(t, "promtool", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "../dashboards/prometheus/rules/siaprapat.yml"},
		{"test", "rules", "../dashboards/prometheus/rules/siaprapat_test.yml"},
	} {
		if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

type rule struct {
	Record string `yaml:"record"`
	Alert  string `yaml:"alert"`
	Expr   string `yaml:"expr"`
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	data, err := os.ReadFile("../dashboards/prometheus/rules/siaprapat.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// TestDashboards_LiveProof runs the controller with a simulated fleet in
// every state, a real Prometheus scraping it with the committed config and
// rules, and evaluates every panel's query and every rule through
// Prometheus's API: each must return series (an alerting rule whose
// condition does not hold must at least find every metric it names).
func TestDashboards_LiveProof(t *testing.T) {
	bin := testenv.Command(t, "prometheus", "prometheus")
	c := startController(t, t.TempDir(), "")
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	std, err := standard.Default() // the simulated agents judge camera, audio and network too
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(simDone)
		fleetsim.Run(ctx, fleetsim.Options{Broker: c.BrokerURL(), Rooms: 24, Sites: 3, Interval: time.Second,
			KeepAlive: 2 * time.Second, Seed: 7, Standard: std})
	}()
	t.Cleanup(func() { cancel(); <-simDone })

	// A site with a ready and a not-ready room, for the template variables.
	ready, notReady := -1, -1
	for i := range 24 {
		for j := range 24 {
			if fleetsim.ProfileOf(i) == fleetsim.ProfileReady && fleetsim.ProfileOf(j) == fleetsim.ProfileNotReady && i%3 == j%3 {
				ready, notReady = i, j
			}
		}
	}
	site, readyRoom := fleetsim.Name(ready, 3)
	_, room := fleetsim.Name(notReady, 3)
	// A room of that site whose agent vanished.
	gone, err := link.Connect(link.Options{Broker: c.BrokerURL(), Site: site, Room: "gone", KeepAlive: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := gone.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	gone.Drop()
	waitState(t, c, site, room, "not_ready", 15*time.Second)
	waitState(t, c, site, readyRoom, "ready", 15*time.Second)
	conf, err := os.ReadFile("../dashboards/prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	rulesPath, _ := filepath.Abs("../dashboards/prometheus/rules/siaprapat.yml")
	s := strings.Replace(string(conf), `"localhost:9780"`, `"`+c.HTTPAddr()+`"`, 1)
	s = strings.Replace(s, "scrape_interval: 15s", "scrape_interval: 1s", 1)
	s = strings.Replace(s, "evaluation_interval: 15s", "evaluation_interval: 1s", 1)
	s = strings.Replace(s, "rules/siaprapat.yml", rulesPath, 1)
	webAddr := startPrometheus(t, bin, s)

	// Prometheus scrapes before the sessions start, as in production.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if n, err := promInstant(webAddr, `siaprapat_room_state`); err == nil && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Prometheus did not scrape the controller")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Sessions about to start in both rooms (counted as they start).
	for _, r := range []string{readyRoom, room} {
		start := time.Now().Add(3 * time.Second)
		body := fmt.Sprintf(`{"title":"Rapat","start":%q,"end":%q}`, start.Format(time.RFC3339Nano), start.Add(time.Hour).Format(time.RFC3339Nano))
		resp, err := http.Post("http://"+c.HTTPAddr()+"/api/v1/rooms/"+site+"/"+r+"/sessions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create session: %s", resp.Status)
		}
	}

	// Wait for a few scrapes after the sessions started.
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := promInstant(webAddr, `count_over_time(siaprapat_sessions_started_total{ready="true"}[1m]) >= 4`)
		if err == nil && n > 0 {
			if m, _ := promInstant(webAddr, `siaprapat_sessions_started_total{ready="false"}`); m > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus has not scraped the started sessions: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}

	sub := strings.NewReplacer("$site", site, "$room", room)
	queries := 0
	for _, d := range loadDashboards(t) {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				q := sub.Replace(tg.Expr)
				n, err := promInstant(webAddr, q)
				queries++
				switch {
				case err != nil:
					t.Errorf("%s / %s: %s: %v", d.Title, p.Title, q, err)
				case n == 0:
					t.Errorf("%s / %s: %s: no series", d.Title, p.Title, q)
				}
			}
		}
	}
	metricName := regexp.MustCompile(`siaprapat_[a-z0-9_]+`)
	for _, r := range loadRules(t) {
		n, err := promInstant(webAddr, r.Expr)
		queries++
		name := r.Record + r.Alert
		switch {
		case err != nil:
			t.Errorf("rule %s: %v", name, err)
		case n == 0 && r.Record != "":
			t.Errorf("recording rule %s: no series", name)
		case n == 0:
			for _, m := range metricName.FindAllString(r.Expr, -1) {
				if k, err := promInstant(webAddr, m); err != nil || k == 0 {
					t.Errorf("alerting rule %s: metric %s has no series", name, m)
				}
			}
			t.Logf("alerting rule %s does not fire now (its condition does not hold); every metric it names is there", name)
		default:
			t.Logf("rule %s: %d series", name, n)
		}
	}
	t.Logf("%d queries evaluated against Prometheus (site=%s room=%s)", queries, site, room)

	// Not just series: the usage figures count the two sessions that
	// started, one in a ready room and one in a room that was not.
	for q, check := range map[string]func(float64) bool{
		`sum(increase(siaprapat_sessions_started_total{site="` + site + `"}[30d]))`:                                                                                          func(v float64) bool { return v >= 1.5 },
		`sum(increase(siaprapat_sessions_started_total{site="` + site + `",ready="true"}[30d])) / sum(increase(siaprapat_sessions_started_total{site="` + site + `"}[30d]))`: func(v float64) bool { return v > 0.25 && v < 0.75 },
		`sum(siaprapat_room_state{site="` + site + `",state="offline"})`:                                                                                                     func(v float64) bool { return v >= 1 },
	} {
		v, err := promValue(webAddr, q)
		if err != nil || !check(v) {
			t.Errorf("%s = %v (%v)", q, v, err)
		}
	}
}
