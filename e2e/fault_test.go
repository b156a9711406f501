package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent"
	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/spool"
	"github.com/siaprapat/siaprapat/internal/testenv"
)

// madeReports collects, from the agents' logs, the id of every report they
// made ("room checked" is logged once a report is in the spool).
type madeReports struct {
	mu  sync.Mutex
	ids map[string][]string // room -> ids
}

// roomLog is one agent's log handler, feeding madeReports.
type roomLog struct {
	m    *madeReports
	room string
}

func (h roomLog) Enabled(context.Context, slog.Level) bool { return true }
func (h roomLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h roomLog) WithGroup(string) slog.Handler            { return h }
func (h roomLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "room checked" {
		return nil
	}
	var id string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "id" {
			id = a.Value.String()
		}
		return true
	})
	m, room := h.m, h.room
	m.mu.Lock()
	m.ids[room] = append(m.ids[room], id)
	m.mu.Unlock()
	return nil
}

func (m *madeReports) snapshot() (map[string][]string, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out, n := map[string][]string{}, 0
	for room, ids := range m.ids {
		out[room] = append([]string(nil), ids...)
		n += len(ids)
	}
	return out, n
}

// historyIDs reads a room's whole report history from a controller.
func historyIDs(t *testing.T, httpAddr, room string) []string {
	var list struct {
		Reports []struct {
			ID string `json:"id"`
		} `json:"reports"`
		More bool `json:"more"`
	}
	resp, err := http.Get("http://" + httpAddr + "/api/v1/rooms/fault/" + room + "/reports?limit=1000")
	if err != nil {
		return nil // the controller is restarting
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil // not heard of yet
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || list.More {
		t.Fatalf("history of %s: %v (more: %v)", room, err, list.More)
	}
	ids := make([]string, len(list.Reports))
	for i, r := range list.Reports {
		ids[i] = r.ID
	}
	return ids
}

// TestFault_NothingLostThroughBrokerAndControllerKills: 200 agents with
// spools report every second through a real Mosquitto; the broker is killed
// (SIGKILL) for 10 s and started again, then the controller is killed and
// started again. Every report the agents made is in the controller's
// history exactly once: the agents keep each report until the controller
// acknowledges storing it, and send again what was not acknowledged.
func TestFault_NothingLostThroughBrokerAndControllerKills(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute-long fault test; not in -short")
	}
	mq := &mosquitto{bin: testenv.Command(t, "mosquitto", "mosquitto"), port: testenv.FreePort(t)}
	mq.start(t)
	_, ctlBin := binaries(t)
	dataDir, httpAddr := t.TempDir(), testenv.FreeAddr(t)
	serve := func() *proc {
		p := start(t, ctlBin, "serve", "--broker", mq.url(), "--http", httpAddr, "--data", dataDir,
			"--standard", "testdata/lenient.yaml", "--log-level", "warn")
		waitHTTP(t, httpAddr)
		return p
	}
	ctl := serve()

	const rooms = 200
	made := &madeReports{ids: map[string][]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	var agents sync.WaitGroup
	t.Cleanup(func() { cancel(); agents.Wait() })
	for i := range rooms {
		room := fmt.Sprintf("r%03d", i)
		cfg := agent.Config{
			Link:     link.Options{Broker: mq.url(), Site: "fault", Room: room, KeepAlive: 5 * time.Second},
			Interval: time.Second,
			Runner:   hostRunner(t, "fault", room),
			DataDir:  t.TempDir(),
			Spool:    spool.Limits{MaxReports: 10000, MaxBytes: 64 << 20, ResendAfter: 3 * time.Second},
			Log:      slog.New(roomLog{made, room}),
		}
		agents.Add(1)
		go func() {
			defer agents.Done()
			if err := agent.Run(ctx, cfg); err != nil {
				t.Errorf("agent %s: %v", room, err)
			}
		}()
	}
	phase := func(what string, d time.Duration) {
		time.Sleep(d)
		_, n := made.snapshot()
		t.Logf("%s: %d reports made so far", what, n)
	}
	phase("steady", 8*time.Second)
	mq.stop() // SIGKILL
	phase("broker killed", 10*time.Second)
	mq.start(t)
	brokerBack := time.Now()
	waitRooms(t, httpAddr, rooms, "ready", 60*time.Second)
	t.Logf("every room ready again %v after the broker came back", time.Since(brokerBack).Round(100*time.Millisecond))
	phase("broker back", 3*time.Second)
	ctl.cmd.Process.Kill() // SIGKILL
	ctl.cmd.Wait()
	phase("controller killed", 3*time.Second)
	serve() // stopped by start's cleanup
	ctlBack := time.Now()
	phase("controller back", 5*time.Second)

	// Every report made up to now must arrive, once.
	want, total := made.snapshot()
	deadline := time.Now().Add(90 * time.Second)
	for {
		missing, dups := 0, 0
		for room, ids := range want {
			got := historyIDs(t, httpAddr, room)
			seen := map[string]int{}
			for _, id := range got {
				seen[id]++
			}
			for _, n := range seen {
				if n > 1 {
					dups++
				}
			}
			for _, id := range ids {
				if seen[id] == 0 {
					missing++
				}
			}
		}
		if dups > 0 {
			t.Fatalf("%d reports stored more than once", dups)
		}
		if missing == 0 {
			t.Logf("all %d reports made by %d agents through a broker kill and a controller kill are stored, each once, %v after the controller came back",
				total, rooms, time.Since(ctlBack).Round(100*time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d reports missing after 90 s", missing, total)
		}
		t.Logf("%d of %d reports not stored yet", missing, total)
		time.Sleep(3 * time.Second)
	}
	// No room is left offline, and the outage fired no alert.
	waitRooms(t, httpAddr, rooms, "ready", 30*time.Second)
	body := scrapeText(httpAddr)
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, `siaprapat_reports_ignored_total{reason="duplicate"}`) {
			t.Logf("resent and ignored as duplicates by the restarted controller: %s", strings.Fields(line)[1])
		}
		if strings.HasPrefix(line, "siaprapat_alerts_firing ") && strings.Fields(line)[1] != "0" {
			t.Errorf("alerts firing after the outage: %s", line)
		}
	}
}

// waitRooms waits until n rooms of site "fault" are in the state.
func waitRooms(t *testing.T, httpAddr string, n int, state string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	want := fmt.Sprintf(`site="fault",state=%q} 1`, state)
	for {
		got := strings.Count(scrapeText(httpAddr), want)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d rooms %s after %v", got, n, state, within)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
