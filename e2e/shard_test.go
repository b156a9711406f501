package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/controller"
	"github.com/siaprapat/siaprapat/controller/shard"
	"github.com/siaprapat/siaprapat/internal/testenv"
)

// roomsOf lists the rooms a controller's API knows, as SITE/ROOM.
func roomsOf(t *testing.T, c *controller.Controller) []string {
	t.Helper()
	var body struct {
		Rooms []struct{ Site, Room string }
	}
	if code := getJSON(t, "http://"+c.HTTPAddr()+"/api/v1/rooms", &body); code != http.StatusOK {
		t.Fatalf("GET /api/v1/rooms: %d", code)
	}
	var out []string
	for _, r := range body.Rooms {
		out = append(out, r.Site+"/"+r.Room)
	}
	slices.Sort(out)
	return out
}

// TestShards_TwoControllersOnOneMosquittoEachOwnTheirSites runs two
// controllers against one Mosquitto, one owning a site pattern and one a
// list of sites, with rooms of every site reporting; each room must appear
// in exactly one controller (its API and /metrics), and the federation
// config (dashboards/prometheus/federation.yml) must join the shards'
// Prometheus servers into one view with every room once.
func TestShards_TwoControllersOnOneMosquittoEachOwnTheirSites(t *testing.T) {
	mosq := testenv.Command(t, "mosquitto", "mosquitto")
	promBin := testenv.Command(t, "prometheus", "prometheus")
	brokerURL := startMosquitto(t, mosq)

	owners := map[string]string{"kalbar": "kalbar-*", "kaltim": "kalteng,kaltim"}
	ctl := map[string]*controller.Controller{}
	for name, list := range owners {
		sh, err := shard.Parse(list)
		if err != nil {
			t.Fatal(err)
		}
		ctl[name] = startWith(t, controller.Config{Broker: brokerURL, Shard: sh})
	}
	shardOf := map[string]string{"kalbar-pontianak": "kalbar", "kalbar-sambas": "kalbar", "kalteng": "kaltim", "kaltim": "kaltim"}
	want := map[string][]string{}
	var all []*room
	for site, owner := range shardOf {
		for i := range 3 {
			r := newRoom(t, brokerURL, site, fmt.Sprintf("r%d", i), fleetsim.ProfileReady)
			t.Cleanup(r.link.Close)
			all = append(all, r)
			want[owner] = append(want[owner], site+"/"+r.name)
		}
	}
	for _, rooms := range want {
		slices.Sort(rooms)
	}
	keepReporting(t, 500*time.Millisecond, all...)

	deadline := time.Now().Add(20 * time.Second)
	for name, c := range ctl {
		for {
			got := roomsOf(t, c)
			if slices.Equal(got, want[name]) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("shard %s (%s) has rooms %v, want exactly %v", name, owners[name], got, want[name])
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Each room once across the shards' /metrics.
	seen := map[string]int{}
	for name, c := range ctl {
		mfs, _ := scrape(t, c)
		for _, m := range mfs["siaprapat_room_state"].GetMetric() {
			var site, rm, state string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "site":
					site = l.GetValue()
				case "room":
					rm = l.GetValue()
				case "state":
					state = l.GetValue()
				}
			}
			if state == "ready" {
				seen[site+"/"+rm]++
				if shardOf[site] != name {
					t.Errorf("shard %s exports room %s/%s of shard %s", name, site, rm, shardOf[site])
				}
			}
		}
	}
	for _, r := range all {
		if n := seen[r.site+"/"+r.name]; n != 1 {
			t.Errorf("room %s/%s is in %d shards' /metrics, want 1", r.site, r.name, n)
		}
	}
	// The pattern shard subscribes to every site and drops the others'
	// messages; the list shard subscribes to its own sites only.
	if n := counter(t, ctl["kalbar"], "siaprapat_reports_ignored_total", map[string]string{"reason": "other_shard"}); n == 0 {
		t.Error("the kalbar-* shard counted no other shard's messages")
	}
	if n := counter(t, ctl["kaltim"], "siaprapat_reports_ignored_total", map[string]string{"reason": "other_shard"}); n != 0 {
		t.Errorf("the kalteng,kaltim shard counted %v other shard's messages: its subscriptions should carry only its sites", n)
	}
	// A scheduler asking the wrong shard is told so.
	resp, err := http.Post("http://"+ctl["kaltim"].HTTPAddr()+"/api/v1/rooms/kalbar-sambas/r0/sessions", "application/json",
		strings.NewReader(`{"title":"rapat","start":"2026-11-24T09:00:00+07:00","end":"2026-11-24T10:00:00+07:00"}`))
	if err != nil {
		t.Fatal(err)
	}
	var msg bytes.Buffer
	msg.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(msg.String(), "another shard") {
		t.Errorf("session for another shard's room: %d %s, want 421 saying so", resp.StatusCode, msg.String())
	}

	// Prometheus: one per shard (the committed prometheus.yml with its
	// shard label), joined by the committed federation config.
	base, err := os.ReadFile("../dashboards/prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var shardProms []string
	for _, name := range []string{"kalbar", "kaltim"} {
		s := strings.Replace(string(base), `"localhost:9780"`, `"`+ctl[name].HTTPAddr()+`"`, 1)
		s = strings.Replace(s, "scrape_interval: 15s", "scrape_interval: 1s\n  external_labels: {shard: "+name+"}", 1)
		shardProms = append(shardProms, `"`+startPrometheus(t, promBin, s)+`"`)
	}
	fed, err := os.ReadFile("../dashboards/prometheus/federation.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(fed), `"prometheus-shard-kalbar:9090", "prometheus-shard-kaltim:9090"`, strings.Join(shardProms, ", "), 1)
	s = strings.Replace(s, "scrape_interval: 30s", "scrape_interval: 1s", 1)
	if s == string(fed) {
		t.Fatal("federation.yml changed: the test no longer finds its targets to replace")
	}
	global := startPrometheus(t, promBin, s)

	deadline = time.Now().Add(60 * time.Second)
	for {
		got, err := promInstantQuery(global, `count by (site, room, shard) (siaprapat_room_state{state="ready"} == 1)`)
		var bad []string
		rooms := map[string]bool{}
		for _, g := range got {
			rooms[g.Metric["site"]+"/"+g.Metric["room"]] = true
			if g.Metric["shard"] != shardOf[g.Metric["site"]] || g.Value != "1" {
				bad = append(bad, fmt.Sprint(g.Metric, "=", g.Value))
			}
		}
		if err == nil && len(got) == len(all) && len(rooms) == len(all) && len(bad) == 0 {
			t.Logf("the federating Prometheus sees %d rooms, each once, on its own shard", len(got))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("federated view: %d series for %d distinct rooms (want %d each once), wrong shard %v, err %v", len(got), len(rooms), len(all), bad, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func TestFederationConfig_PassesPromtool(t *testing.T) {
	promtool := testenv.Command(t, "promtool", "prometheus")
	out, err := exec.Command(promtool, "check", "config", "../dashboards/prometheus/federation.yml").CombinedOutput()
	if err != nil {
		t.Errorf("promtool check config federation.yml: %v\n%s", err, out)
	}
}
