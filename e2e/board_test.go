package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/siaprapat/siaprapat/agent"
	"github.com/siaprapat/siaprapat/agent/camera"
	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/agent/host"
	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/controller"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// gatedCheck is a room PC's host check that, once armed, waits for the
// test before it answers: the page can be seen waiting for a check.
type gatedCheck struct {
	runner.Check
	armed atomic.Bool
	open  chan struct{}
}

func (g *gatedCheck) Run(ctx context.Context, std *standard.Standard) ([]wire.CheckResult, error) {
	if g.armed.Load() {
		select {
		case <-g.open:
		case <-ctx.Done():
		}
	}
	return g.Check.Run(ctx, std)
}

// artifactsDir is where the browser tests keep their screenshots:
// $SIAPRAPAT_ARTIFACTS when set (CI sets it), else a new directory under
// the system's temporary one, kept after the test so they can be looked at.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SIAPRAPAT_ARTIFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "siaprapat-board-"); err != nil {
			t.Fatal(err)
		}
	} else {
		dir = filepath.Join(dir, "board")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts Debian's Chromium headless with the flags this machine
// needs (no sandbox as root, no GPU, no background connections to the
// closed network) and a fresh profile, and returns a tab.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	exe := testenv.Command(t, "chromium", "chromium")
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser, with no deadline of its own.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// consoleLog keeps a tab's console messages.
type consoleLog struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

func watchConsole(ctx context.Context) *consoleLog {
	l := &consoleLog{}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			l.mu.Lock()
			l.msgs = append(l.msgs, m)
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *consoleLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, m := range l.msgs {
		if m.Type == chromedp.ConsoleError || m.IsException() || m.Type == chromedp.ConsoleWarning {
			out = append(out, fmt.Sprintf("%s (%s:%d)", m.String(), m.URL, m.Line))
		}
	}
	return out
}

// waitJS waits until a JavaScript expression is true in the page. It
// evaluates from the test (DevTools), as the page's policy forbids eval.
func waitJS(t *testing.T, ctx context.Context, expr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Fatalf("after %v, still not true: %s (err %v)\npage text:\n%s", within, expr, err, html)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot keeps what the browser shows as dir/name.png: the whole page,
// or only the window when full is false.
func screenshot(t *testing.T, ctx context.Context, dir, name string, full bool) {
	t.Helper()
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// TestBoard_BrowserShowsTheFleetAndChecksARoom drives the board in
// headless Chromium over a simulated fleet of 200 rooms reporting to a real
// controller through its embedded broker (each a real agent loop that
// answers commands): every room shows with the state the API gives it, in
// words; the room with no camera says so on its page, in English and in
// Bahasa Indonesia; "check now" runs a check and the page follows it to
// its result without a reload; no page writes to the console. Screenshots
// of the fleet and of rooms are kept (artifactsDir).
func TestBoard_BrowserShowsTheFleetAndChecksARoom(t *testing.T) {
	ctx := browser(t, 1280, 900)
	console := watchConsole(ctx)
	dir := artifactsDir(t)
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	// The simulator's rooms list their devices but run no peripherals
	// check: without its rules they are not all degraded as not checked.
	std.Rules = slices.DeleteFunc(std.Rules, func(r standard.Rule) bool { return r.Check == wire.CheckPeripherals })
	c := startWith(t, controller.Config{Standard: std})
	base := "http://" + c.HTTPAddr()

	// 199 simulated rooms over 5 sites, and one room whose PC has no camera.
	const rooms, sites = 199, 5
	var wg sync.WaitGroup
	stops := map[string]context.CancelFunc{}
	var gate *gatedCheck
	run := func(site, room string, checks []runner.Check) {
		actx, cancel := context.WithCancel(context.Background())
		stops[site+"/"+room] = cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := agent.Run(actx, agent.Config{
				Link:     link.Options{Broker: c.BrokerURL(), Site: site, Room: room, KeepAlive: 5 * time.Second},
				Interval: time.Hour,
				Runner:   &runner.Runner{Site: site, Room: room, AgentVersion: "e2e", Standard: std, Checks: checks},
			})
			if err != nil {
				t.Errorf("agent %s/%s: %v", site, room, err)
			}
		}()
	}
	t.Cleanup(func() {
		for _, stop := range stops {
			stop()
		}
		if gate != nil {
			gate.armed.Store(false)
			close(gate.open)
		}
		wg.Wait()
	})
	var readyRoom, degradedRoom, notReadyRoom string
	for i := range rooms {
		r := fleetsim.NewRoom(i, sites, 7, std, "e2e")
		checks := r.Checks
		switch r.Profile {
		case fleetsim.ProfileReady, fleetsim.ProfileFlaky:
			if readyRoom == "" {
				readyRoom = r.Site + "/" + r.Room
				gate = &gatedCheck{Check: checks[0], open: make(chan struct{})}
				checks = append([]runner.Check{gate}, checks[1:]...)
			}
		case fleetsim.ProfileDegraded:
			if degradedRoom == "" {
				degradedRoom = r.Site + "/" + r.Room
			}
		case fleetsim.ProfileNotReady:
			if notReadyRoom == "" {
				notReadyRoom = r.Site + "/" + r.Room
			}
		}
		run(r.Site, r.Room, checks)
	}
	noCam, err := camera.NewWithSource(noCameras{}, camera.Config{})
	if err != nil {
		t.Fatal(err)
	}
	run("site-01", "aula", []runner.Check{&host.Check{Source: fleetsim.NewSource(fleetsim.ProfileReady, "pc-aula", 3)}, noCam})

	// Every room reports; then three agents stop (they say offline).
	type apiRooms struct {
		Rooms []struct{ Site, Room, State string }
	}
	states := func() map[string]string {
		var a apiRooms
		getJSON(t, base+"/api/v1/rooms", &a)
		out := map[string]string{}
		for _, r := range a.Rooms {
			out[r.Site+"/"+r.Room] = r.State
		}
		return out
	}
	waitFor := func(what string, ok func(map[string]string) bool) map[string]string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			s := states()
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the API says %v", what, s)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("200 rooms reporting", func(s map[string]string) bool {
		n := 0
		for _, st := range s {
			if st != "unknown" && st != "offline" {
				n++
			}
		}
		return n == rooms+1
	})
	offline := []string{"site-02/room-00002", "site-03/room-00003", "site-05/room-00010"}
	for _, k := range offline {
		stops[k]()
		delete(stops, k)
	}
	want := waitFor("three agents offline", func(s map[string]string) bool {
		for _, k := range offline {
			if s[k] != "offline" {
				return false
			}
		}
		return true
	})
	counts := map[string]int{}
	for _, st := range want {
		counts[st]++
	}
	t.Logf("the API's fleet: %d rooms, %v; ready %s, degraded %s, not ready %s", len(want), counts, readyRoom, degradedRoom, notReadyRoom)
	if counts["ready"] == 0 || counts["degraded"] == 0 || counts["not_ready"] == 0 || counts["offline"] != 3 {
		t.Fatalf("the simulated fleet lacks a state: %v", counts)
	}
	// A meeting in the room with no camera, in an hour.
	start := time.Now().Add(time.Hour).Truncate(time.Minute)
	body := fmt.Sprintf(`{"title":"Rapat koordinasi","organizer":"Diskominfo","start":%q,"end":%q}`,
		start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339))
	if resp, err := http.Post(base+"/api/v1/rooms/site-01/aula/sessions", "application/json", strings.NewReader(body)); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create session: %v %v", err, resp)
	}

	// The fleet: every room, with the API's state, in words.
	type tileInfo struct{ Room, State, Text string }
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.querySelectorAll('a.tile').length === 200`, 10*time.Second)
	tiles, err := chromedp.Run(ctx, chromedp.Evaluate[[]tileInfo](`Array.from(document.querySelectorAll('a.tile')).map(a =>
		({Room: a.dataset.room, State: a.dataset.state, Text: a.querySelector('.state').textContent.trim()}))`))
	if err != nil {
		t.Fatal(err)
	}
	words := map[string]string{"ready": "✓ Ready", "degraded": "⚠ Degraded", "not_ready": "✗ Not ready", "offline": "○ Offline", "unknown": "? Unknown"}
	for _, tl := range tiles {
		if want[tl.Room] != tl.State || tl.Text != words[tl.State] {
			t.Errorf("tile %s: %s %q, the API says %s", tl.Room, tl.State, tl.Text, want[tl.Room])
		}
	}
	if len(tiles) != len(want) {
		t.Errorf("%d tiles for %d rooms", len(tiles), len(want))
	}
	chips, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries(Array.from(document.querySelectorAll('.states a.chip')).map(a =>
		[a.dataset.state, a.querySelector('b').textContent]))`))
	if err != nil {
		t.Fatal(err)
	}
	for st, n := range counts {
		if chips[st] != fmt.Sprint(n) {
			t.Errorf("the %s chip says %s, want %d", st, chips[st], n)
		}
	}
	waitJS(t, ctx, `document.querySelector('.next').innerText.includes('Rapat koordinasi') && document.querySelector('.next').innerText.includes('Camera: no camera found')`, 5*time.Second)
	screenshot(t, ctx, dir, "fleet", false)
	screenshot(t, ctx, dir, "fleet-full", true)

	// Filter by site and state from the form (the selects apply at once).
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`input[name="q"]`), "aula"), chromedp.Submit(chromedp.CSS(`input[name="q"]`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `location.search.includes('q=aula') && document.querySelectorAll('a.tile').length === 1 && document.querySelector('a.tile').dataset.room === 'site-01/aula'`, 10*time.Second)

	// The room with no camera says so, in both languages.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a.tile[data-room="site-01/aula"]`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `location.pathname === '/rooms/site-01/aula' && document.getElementById('causes').innerText.includes('Camera: no camera found')`, 10*time.Second)
	waitJS(t, ctx, `document.querySelector('.checks').innerText.includes('Camera: no camera found') && document.getElementById('room-state').innerText.includes('Not ready')`, 5*time.Second)
	screenshot(t, ctx, dir, "room-no-camera", true)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("lang-switch"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.documentElement.lang === 'id' && document.getElementById('causes').innerText.includes('Kamera: tidak ada kamera terdeteksi') && document.getElementById('room-state').innerText.includes('Belum siap')`, 10*time.Second)
	screenshot(t, ctx, dir, "room-no-camera-id", false)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("lang-switch"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.documentElement.lang === 'en'`, 10*time.Second)

	// Rooms as a technician sees them: degraded, not ready.
	for name, room := range map[string]string{"room-degraded": degradedRoom, "room-not-ready": notReadyRoom} {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/rooms/"+room)); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, fmt.Sprintf(`document.getElementById('live').dataset.state === %q && document.querySelectorAll('.timeline li').length > 0`, want[room]), 10*time.Second)
		screenshot(t, ctx, dir, name, true)
	}

	// "Check now" on the ready room: the page shows the check waiting, then
	// its result when the agent answers, without a reload.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/rooms/"+readyRoom)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.getElementById('live').dataset.state === 'ready'`, 10*time.Second)
	screenshot(t, ctx, dir, "room-ready", true)
	gate.armed.Store(true)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("check-now"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `location.search.startsWith('?check=') && document.querySelector('#check .check[data-pending="true"]') !== null && document.getElementById('check').innerText.includes('waiting for the agent')`, 10*time.Second)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sameDocument = true`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, dir, "room-checking", false)
	gate.armed.Store(false)
	close(gate.open)
	gate = nil
	waitJS(t, ctx, `document.querySelector('#check .check[data-pending="false"]') !== null && document.getElementById('check').innerText.includes('Checked at') && document.getElementById('check').innerText.includes('Ready')`, 20*time.Second)
	if same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sameDocument === true`)); err != nil || !same {
		t.Errorf("the page reloaded to show the check's result (%v)", err)
	}
	screenshot(t, ctx, dir, "room-checked", false)

	// The meetings page, and the fleet on a phone.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/sessions")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.querySelector('.meetings').innerText.includes('Rapat koordinasi') && document.querySelector('.meetings').innerText.includes('Pre-meeting checks at')`, 10*time.Second)
	screenshot(t, ctx, dir, "sessions", true)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(base+"/?site=site-01")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.querySelectorAll('a.tile').length > 0 && document.documentElement.scrollWidth <= 390`, 10*time.Second)
	screenshot(t, ctx, dir, "fleet-phone", false)

	if errs := console.errors(); len(errs) > 0 {
		t.Errorf("the pages wrote to the console:\n%s", strings.Join(errs, "\n"))
	}
	t.Logf("screenshots in %s", dir)
}
