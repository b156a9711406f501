package board

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/alerts"
	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/history"
	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// t0 is the tests' present, 09:00 WIB on a Tuesday; every part reads it.
var t0 = time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)

// published records the commands the board's checks send.
type published struct {
	mu     sync.Mutex
	topics []string
}

func (p *published) Publish(topic string, _ []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.topics = append(p.topics, topic)
	return nil
}

func (p *published) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.topics)
}

// tokens is the API's token rule, as api.Server applies it.
type tokens struct{ admin, read string }

func (t tokens) CanRead(_ *http.Request, tok string) bool {
	return t.read == "" || (tok != "" && (tok == t.read || tok == t.admin))
}
func (t tokens) CanWrite(_ *http.Request, tok string) bool { return t.admin == "" || tok == t.admin }

// firing is a fixed set of firing alerts.
type firing []alerts.Alert

func (f firing) Firing() []alerts.Alert { return f }

// plan is a planner with fixed lead times and checks.
type plan struct{ last map[string]string }

func (plan) LeadTimes(string, string) []time.Duration {
	return []time.Duration{30 * time.Minute, 10 * time.Minute}
}
func (p plan) LastCheck(id string) (string, bool) { c, ok := p.last[id]; return c, ok }

type rig struct {
	b        *Board
	fleet    *fleet.Fleet
	sessions *sessions.Store
	commands *commands.Dispatcher
	history  *history.History
	pub      *published
	cfg      Config
}

var wita = mustZone("Asia/Makassar")

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// newRig is a board over real parts (fleet, sessions, history, commands)
// with the clock at t0; change cfg with edit before the board is made.
func newRig(t *testing.T, edit func(*Config)) *rig {
	t.Helper()
	now := func() time.Time { return t0 }
	r := &rig{pub: &published{}}
	r.fleet = fleet.New(fleet.Options{Freshness: time.Hour, Now: now})
	var err error
	if r.sessions, err = sessions.Open(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.sessions.Close() })
	if r.history, err = history.Open(t.TempDir(), history.Options{Now: now}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.history.Close() })
	if r.commands, err = commands.New(r.pub, r.fleet, prometheus.NewRegistry(), now); err != nil {
		t.Fatal(err)
	}
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	r.cfg = Config{Fleet: r.fleet, History: r.history, Commands: r.commands, Sessions: r.sessions, Standard: std, Now: now,
		Zone: func(site, _ string) *time.Location {
			if site == "sulsel" {
				return wita
			}
			return readiness.Location
		}}
	if edit != nil {
		edit(&r.cfg)
	}
	if r.b, err = New(r.cfg); err != nil {
		t.Fatal(err)
	}
	return r
}

// report stores a report of the room with the given checks, measured at t0.
func (r *rig) report(t *testing.T, site, room string, v wire.RoomVerdict, checks ...wire.CheckResult) {
	t.Helper()
	rep := &wire.Report{Schema: wire.Schema, ID: wire.NewID(), Site: site, Room: room, MeasuredAt: t0.Add(-time.Minute), Verdict: v, Checks: checks}
	r.fleet.ApplyReport(rep, t0.Add(-time.Minute))
	if _, err := r.history.Add(rep); err != nil {
		t.Fatal(err)
	}
}

var (
	noCamera = wire.CheckResult{Check: wire.CheckCamera, Target: "camera", Verdict: wire.Fail, Code: wire.CodeNoDevice, Reason: "no camera found"}
	hostOK   = wire.CheckResult{Check: wire.CheckHost, Target: "pc", Verdict: wire.Pass}
	slowCPU  = func() wire.CheckResult {
		cpu := 0.8
		return wire.CheckResult{Check: wire.CheckHost, Target: "pc", Verdict: wire.Warn,
			Rules: []wire.RuleResult{{Rule: "host_cpu", Verdict: wire.Warn, Observed: &cpu, Want: "<= 70 %", Reason: "cpu_used_ratio 80 % is above the warn limit 70 %"}}}
	}()
)

type answer struct {
	code   int
	body   string
	header http.Header
}

// get asks the board as a browser would, with cookies and headers.
func (r *rig) do(t *testing.T, method, path string, form url.Values, header map[string]string, cookies ...*http.Cookie) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	req.RemoteAddr = "192.0.2.10:5000"
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	r.b.ServeHTTP(w, req)
	return answer{w.Code, w.Body.String(), w.Result().Header}
}

func (r *rig) get(t *testing.T, path string, header map[string]string, cookies ...*http.Cookie) answer {
	t.Helper()
	return r.do(t, "GET", path, nil, header, cookies...)
}

var english = map[string]string{"Accept-Language": "en-US,en;q=0.9"}
var indonesian = map[string]string{"Accept-Language": "id-ID,id;q=0.9,en;q=0.5"}

// tiles reads the fleet page's tiles: room -> state.
func tiles(body string) map[string]string {
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`class="tile s-[a-z_]+" href="[^"]*" data-room="([^"]+)" data-state="([a-z_]+)"`).FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func TestBoard_FleetShowsEveryRoomWithItsStateInWords(t *testing.T) {
	r := newRig(t, nil)
	r.report(t, "jabar", "aula", wire.Ready, hostOK)
	r.report(t, "jabar", "r2", wire.Degraded, slowCPU)
	r.report(t, "sulsel", "aula", wire.NotReady, hostOK, noCamera)
	r.fleet.ApplyStatus("sulsel", "gone", wire.StatusOffline, t0.Add(-10*time.Minute))
	r.fleet.ApplyStatus("papua", "new", wire.StatusOnline, t0)

	a := r.get(t, "/", english)
	if a.code != 200 {
		t.Fatalf("GET /: %d\n%s", a.code, a.body)
	}
	want := map[string]string{"jabar/aula": "ready", "jabar/r2": "degraded", "sulsel/aula": "not_ready", "sulsel/gone": "offline", "papua/new": "unknown"}
	if got := tiles(a.body); !equalMaps(got, want) {
		t.Errorf("tiles %v, want %v", got, want)
	}
	for _, s := range []string{"✓</span> Ready", "⚠</span> Degraded", "✗</span> Not ready", "○</span> Offline", "?</span> Unknown",
		"Camera: no camera found", "Room PC CPU use 80 %, at most 70"} {
		if !strings.Contains(a.body, s) {
			t.Errorf("the fleet page lacks %q", s)
		}
	}
	// The filter: by site, by state, by name.
	for path, want := range map[string][]string{
		"/?site=jabar":                {"jabar/aula", "jabar/r2"},
		"/?state=not_ready":           {"sulsel/aula"},
		"/?q=AULA":                    {"jabar/aula", "sulsel/aula"},
		"/?site=sulsel&state=offline": {"sulsel/gone"},
	} {
		got := slices.Sorted(mapKeys(tiles(r.get(t, path, english).body)))
		if !slices.Equal(got, want) {
			t.Errorf("GET %s: rooms %v, want %v", path, got, want)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestBoard_PagesKeepTheFilter(t *testing.T) {
	r := newRig(t, nil)
	for i := range 7 {
		r.report(t, "jabar", "r"+string(rune('a'+i)), wire.Ready, hostOK)
	}
	a := r.get(t, "/?per=3&q=r", english)
	if got := len(tiles(a.body)); got != 3 || !strings.Contains(a.body, "Rooms 1 to 3 of 7") || !strings.Contains(a.body, `href="/?page=2&amp;per=3&amp;q=r"`) {
		t.Errorf("first page: %d tiles\n%s", got, a.body)
	}
	a = r.get(t, "/?per=3&q=r&page=3", english)
	if got := tiles(a.body); len(got) != 1 || got["jabar/rg"] != "ready" || !strings.Contains(a.body, "Page 3 of 3") {
		t.Errorf("last page: %v", got)
	}
}

func TestBoard_RoomWithoutACameraSaysSoInBothLanguages(t *testing.T) {
	r := newRig(t, nil)
	r.report(t, "sulsel", "aula", wire.NotReady, hostOK, noCamera)
	for _, tc := range []struct {
		header map[string]string
		want   []string
	}{
		{english, []string{"Camera: no camera found", "✗</span> Not ready", "WITA (Asia/Makassar)", "since 10:00 WITA", "09:59 WITA (1 min ago)"}},
		{indonesian, []string{"Kamera: tidak ada kamera terdeteksi", "✗</span> Belum siap", "sejak 10.00 WITA", "09.59 WITA (1 menit lalu)", `<html lang="id">`}},
	} {
		a := r.get(t, "/rooms/sulsel/aula", tc.header)
		if a.code != 200 {
			t.Fatalf("%d\n%s", a.code, a.body)
		}
		for _, s := range tc.want {
			if !strings.Contains(a.body, s) {
				t.Errorf("%v: the room page lacks %q", tc.header, s)
			}
		}
	}
}

func TestBoard_UnknownAndBadRooms(t *testing.T) {
	r := newRig(t, nil)
	r.fleet.ApplyStatus("s", "gone", wire.StatusOnline, t0)
	r.fleet.Revoke("s", "gone", t0)
	for path, want := range map[string]struct {
		code int
		text string
	}{
		"/rooms/s/nowhere": {404, "No agent has reported for room s/nowhere."},
		"/rooms/s/gone":    {404, "The agent of room s/gone was removed at Tue 24 Nov 2026 09:00 WIB."},
		"/rooms/s/%20x":    {400, "is not a valid name"},
		"/nothing":         {404, "There is no such page on this board."},
	} {
		if a := r.get(t, path, english); a.code != want.code || !strings.Contains(a.body, want.text) {
			t.Errorf("GET %s: %d, want %d %q\n%s", path, a.code, want.code, want.text, a.body)
		}
	}
}

func TestPickLang_CookieThenAcceptLanguageThenIndonesian(t *testing.T) {
	for _, tc := range []struct {
		header, cookie, want string
	}{
		{"", "", Indonesian},
		{"en-US,en;q=0.9", "", English},
		{"id-ID,id;q=0.9,en-US;q=0.8", "", Indonesian},
		{"fr-FR,en;q=0.5,id;q=0.7", "", Indonesian},
		{"in", "", Indonesian},
		{"de, en;q=0.1", "", English},
		{"en;q=0, id;q=0", "", Indonesian},
		{"en-US", "id", Indonesian},
		{"id", "en", English},
		{"id", "xx", Indonesian},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			req.Header.Set("Accept-Language", tc.header)
		}
		if tc.cookie != "" {
			req.AddCookie(&http.Cookie{Name: langCookie, Value: tc.cookie})
		}
		if got := pickLang(req); got != tc.want {
			t.Errorf("Accept-Language %q, cookie %q: %s, want %s", tc.header, tc.cookie, got, tc.want)
		}
	}
}

func TestBoard_LanguageSwitchKeepsTheChoiceAndStaysOnTheBoard(t *testing.T) {
	r := newRig(t, nil)
	a := r.get(t, "/lang/en?back=/sessions", indonesian)
	if a.code != 303 || a.header.Get("Location") != "/sessions" {
		t.Fatalf("switch: %d %v", a.code, a.header)
	}
	c := cookie(a, langCookie)
	if c == nil || c.Value != English {
		t.Fatalf("no language cookie: %v", a.header)
	}
	if b := r.get(t, "/sessions", indonesian, c); !strings.Contains(b.body, `<html lang="en">`) {
		t.Error("the switch's English does not win over Accept-Language")
	}
	for _, back := range []string{"//evil.example/x", "https://evil.example/", "/\\evil", "javascript:alert(1)"} {
		if a := r.get(t, "/lang/id?back="+url.QueryEscape(back), nil); a.header.Get("Location") != "/" {
			t.Errorf("back=%q went to %q", back, a.header.Get("Location"))
		}
	}
}

func cookie(a answer, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// csrfOf reads a page's CSRF token.
func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in\n%s", body)
	}
	return m[1]
}

func TestBoard_ReadTokenTakesASignInWhoseCookieIsASession(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Access = tokens{admin: "admin-secret", read: "read-secret"} })
	r.report(t, "jabar", "aula", wire.Ready, hostOK)
	for _, path := range []string{"/", "/rooms/jabar/aula", "/sessions"} {
		if a := r.get(t, path, english); a.code != 303 || !strings.HasPrefix(a.header.Get("Location"), "/signin?back=") {
			t.Errorf("GET %s without signing in: %d %s", path, a.code, a.header.Get("Location"))
		}
	}
	if a := r.get(t, "/", map[string]string{liveHeader: "1"}); a.code != 401 {
		t.Errorf("the live part without signing in: %d", a.code)
	}
	form := r.get(t, "/signin?back=/rooms/jabar/aula", english)
	csrf := csrfOf(t, form.body)
	if a := r.do(t, "POST", "/signin", url.Values{"csrf": {csrf}, "token": {"wrong"}, "back": {"/"}}, english); a.code != 401 ||
		!strings.Contains(a.body, "neither the read nor the admin token") || cookie(a, sessionCookie) != nil {
		t.Errorf("wrong token: %d %v", a.code, a.header)
	}
	if a := r.do(t, "POST", "/signin", url.Values{"token": {"read-secret"}, "back": {"/"}}, english); a.code != 403 {
		t.Errorf("sign-in without the form's CSRF token: %d", a.code)
	}
	a := r.do(t, "POST", "/signin", url.Values{"csrf": {csrf}, "token": {"read-secret"}, "back": {"/rooms/jabar/aula"}}, english)
	c := cookie(a, sessionCookie)
	if a.code != 303 || a.header.Get("Location") != "/rooms/jabar/aula" || c == nil {
		t.Fatalf("sign-in: %d %v", a.code, a.header)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || strings.Contains(c.Value, "secret") || c.MaxAge != int(SessionLife/time.Second) {
		t.Errorf("session cookie %+v", c)
	}
	page := r.get(t, "/rooms/jabar/aula", english, c)
	if page.code != 200 || !strings.Contains(page.body, "Sign out") {
		t.Fatalf("signed in: %d", page.code)
	}
	// A reader sees no check button: checking takes the admin token.
	if strings.Contains(page.body, `id="check-now"`) || !strings.Contains(page.body, "Checking a room takes the admin token") {
		t.Error("a reader is offered the check")
	}
	out := r.do(t, "POST", "/signout", url.Values{"csrf": {csrfOf(t, page.body)}}, english, c)
	if out.code != 303 {
		t.Fatalf("sign out: %d", out.code)
	}
	if a := r.get(t, "/", english, c); a.code != 303 {
		t.Errorf("the cookie still reads after signing out: %d", a.code)
	}
}

func TestBoard_NoTokensLeaveItOpenAsTheAPI(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Access = tokens{} })
	r.report(t, "jabar", "aula", wire.Ready, hostOK)
	a := r.get(t, "/rooms/jabar/aula", english)
	if a.code != 200 || !strings.Contains(a.body, `id="check-now"`) || strings.Contains(a.body, "Sign in") {
		t.Errorf("open board: %d", a.code)
	}
	if s := r.get(t, "/signin", english); !strings.Contains(s.body, "This controller has no tokens") {
		t.Error("the sign-in page does not say there is nothing to sign in for")
	}
}

func TestBoard_CheckNowTakesTheAdminTokenAndTheFormsToken(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Access = tokens{admin: "admin-secret"} })
	r.report(t, "sulsel", "aula", wire.Ready, hostOK)
	r.fleet.ApplyStatus("sulsel", "aula", wire.StatusOnline, t0)
	anon := csrfOf(t, r.get(t, "/signin", english).body)
	// Reads are open (no read token), the check is not.
	if a := r.do(t, "POST", "/rooms/sulsel/aula/check", url.Values{"csrf": {anon}}, english); a.code != 403 || !strings.Contains(a.body, "admin token") {
		t.Errorf("anonymous check: %d", a.code)
	}
	signin := r.do(t, "POST", "/signin", url.Values{"csrf": {anon}, "token": {"admin-secret"}, "back": {"/rooms/sulsel/aula"}}, english)
	c := cookie(signin, sessionCookie)
	if c == nil {
		t.Fatalf("admin sign-in: %d", signin.code)
	}
	page := r.get(t, "/rooms/sulsel/aula", english, c)
	csrf := csrfOf(t, page.body)
	if !strings.Contains(page.body, `id="check-now"`) {
		t.Fatal("no check button for the admin")
	}
	for name, form := range map[string]url.Values{"no token": {}, "the anonymous token": {"csrf": {anon}}, "a made-up token": {"csrf": {"x" + csrf}}} {
		if a := r.do(t, "POST", "/rooms/sulsel/aula/check", form, english, c); a.code != 403 {
			t.Errorf("check with %s: %d", name, a.code)
		}
	}
	if a := r.do(t, "POST", "/rooms/sulsel/aula/check", url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, c); a.code != 403 {
		t.Errorf("cross-site check: %d", a.code)
	}
	if r.pub.count() != 0 {
		t.Fatalf("%d commands sent by refused checks", r.pub.count())
	}
	a := r.do(t, "POST", "/rooms/sulsel/aula/check", url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "same-origin"}, c)
	loc := a.header.Get("Location")
	if a.code != 303 || !strings.HasPrefix(loc, "/rooms/sulsel/aula?check=") || r.pub.count() != 1 {
		t.Fatalf("check: %d %q, %d commands", a.code, loc, r.pub.count())
	}
	id := strings.TrimPrefix(loc, "/rooms/sulsel/aula?check=")
	pending := r.get(t, "/rooms/sulsel/aula?check="+id, english, c)
	if !strings.Contains(pending.body, "Checking: sent at 10:00 WITA") || !strings.Contains(pending.body, `data-interval="1000"`) {
		t.Errorf("pending check page:\n%s", pending.body)
	}
	rep := &wire.Report{Schema: wire.Schema, ID: wire.NewID(), Site: "sulsel", Room: "aula", MeasuredAt: t0, Verdict: wire.NotReady,
		Checks: []wire.CheckResult{hostOK, noCamera}}
	r.commands.Resolve("sulsel", "aula", &wire.Result{Schema: wire.ResultSchema, CommandID: id, Report: rep})
	done := r.get(t, "/rooms/sulsel/aula?check="+id, map[string]string{liveHeader: "1", "Accept-Language": "en"}, c)
	if !strings.HasPrefix(done.body, `<div id="live"`) || !strings.Contains(done.body, "Checked at 10:00 WITA: Not ready.") ||
		!strings.Contains(done.body, "Camera: no camera found") || !strings.Contains(done.body, `data-interval="5000"`) {
		t.Errorf("the live part after the answer:\n%s", done.body)
	}
	// Another room's check id is not shown on this room's page.
	r.report(t, "sulsel", "other", wire.Ready, hostOK)
	if a := r.get(t, "/rooms/sulsel/other?check="+id, english, c); !strings.Contains(a.body, "That check is not known here") {
		t.Error("a check of another room shows")
	}
}

func TestBoard_CheckOfARoomWithNoAgentSaysSo(t *testing.T) {
	r := newRig(t, nil)
	a := r.do(t, "POST", "/rooms/s/nobody/check", url.Values{"csrf": {r.b.anonymousCSRF()}}, english)
	if a.code != 303 || a.header.Get("Location") != "/rooms/s/nobody?error=unknown" {
		t.Errorf("%d %v", a.code, a.header)
	}
	r.report(t, "s", "r", wire.Ready, hostOK)
	if a := r.get(t, "/rooms/s/r?error=busy", english); !strings.Contains(a.body, "already has 4 checks waiting") {
		t.Error("busy not worded")
	}
	if a := r.get(t, "/rooms/s/r?error=%3Cscript%3E", english); !strings.Contains(a.body, "The check could not start") || strings.Contains(a.body, "<script>") {
		t.Error("an unknown error code is not worded as such")
	}
}

func TestBoard_NoInlineScriptOrStyleAndAStrictPolicy(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Access = tokens{admin: "a"} })
	r.report(t, "sulsel", "aula", wire.NotReady, hostOK, noCamera)
	r.sessions.Put(sessions.Session{Site: "sulsel", Room: "aula", Title: `<script>alert("x")</script>`, Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
	inline := regexp.MustCompile(`(?i)<script(?:\s+[^>]*)?>[^<]|<script(?:(?:\s+[^>]*)?)>\s*</script>|<style|\sstyle=|\son[a-z]+=`)
	for _, path := range []string{"/", "/rooms/sulsel/aula", "/sessions", "/signin", "/nothing"} {
		a := r.get(t, path, english)
		csp := a.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "style-src 'self'") || strings.Contains(csp, "unsafe") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", path, a.header)
		}
		if m := inline.FindString(strings.ReplaceAll(a.body, `<script src="/static/board.js" defer></script>`, "")); m != "" {
			t.Errorf("GET %s: inline script or style %q", path, m)
		}
		if strings.Contains(a.body, `<script>alert`) {
			t.Errorf("GET %s: a session's title is not escaped", path)
		}
	}
	for _, asset := range []string{"/static/board.css", "/static/board.js", "/static/favicon.svg"} {
		if a := r.get(t, asset, nil); a.code != 200 || a.body == "" {
			t.Errorf("GET %s: %d", asset, a.code)
		}
	}
}

func TestBoard_MeetingsInTheRoomsZoneWithChecksAndAlerts(t *testing.T) {
	var s sessions.Session
	r := newRig(t, nil)
	r.report(t, "sulsel", "aula", wire.NotReady, hostOK, noCamera)
	r.report(t, "jabar", "aula", wire.Ready, hostOK)
	var err error
	// 11:00 WITA today, and 10:30 WIB tomorrow.
	if s, err = r.sessions.Put(sessions.Session{Site: "sulsel", Room: "aula", Title: "Rapat koordinasi", Organizer: "Diskominfo", Source: "api",
		Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err = r.sessions.Put(sessions.Session{Site: "jabar", Room: "aula", Title: "Apel pagi", Source: "api",
		Start: t0.Add(25*time.Hour + 30*time.Minute), End: t0.Add(26 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	chk, err := r.commands.Start("sulsel", "aula", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	r2 := newRig(t, nil) // same parts, with a planner and an alert
	r2.cfg = r.cfg
	r2.cfg.Planner = plan{last: map[string]string{s.ID: chk.ID}}
	r2.cfg.Alerts = firing{alerts.For(s, wita, nil, t0)}
	if r2.b, err = New(r2.cfg); err != nil {
		t.Fatal(err)
	}
	a := r2.get(t, "/sessions", english)
	for _, want := range []string{"Tue 24 Nov 2026", "Wed 25 Nov 2026", "11:00 WITA", "12:00 WITA", "25 Nov 10:30 WIB", "Rapat koordinasi",
		"Organizer: Diskominfo", "Pre-meeting checks at 10:30 WITA, 10:50 WITA", "Last pre-meeting check: Checking: sent at 10:00 WITA",
		"Alert firing", "Camera: no camera found", "Apel pagi"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the meetings page lacks %q", want)
		}
	}
	if i, j := strings.Index(a.body, "Rapat koordinasi"), strings.Index(a.body, "Apel pagi"); i > j {
		t.Error("meetings out of order")
	}
	// The fleet page's next 24 hours: only today's meeting.
	f := r2.get(t, "/", indonesian)
	if !strings.Contains(f.body, "11.00 WITA") || !strings.Contains(f.body, "Kamera: tidak ada kamera terdeteksi") || strings.Contains(f.body, "Apel pagi") {
		t.Errorf("next meetings on the fleet page:\n%s", f.body)
	}
}

func TestBoard_LivePartAloneForThePagesScript(t *testing.T) {
	r := newRig(t, nil)
	r.report(t, "jabar", "aula", wire.Ready, hostOK)
	for _, path := range []string{"/", "/rooms/jabar/aula", "/sessions"} {
		a := r.get(t, path, map[string]string{liveHeader: "1"})
		if a.code != 200 || !strings.HasPrefix(a.body, `<div id="live"`) || strings.Contains(a.body, "<html") || a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s live: %d %q", path, a.code, a.body[:min(80, len(a.body))])
		}
	}
}

func TestBoard_EveryPhraseInBothLanguagesAndEveryKeyKnown(t *testing.T) {
	for k, w := range phrases {
		if w[0] == "" || w[1] == "" {
			t.Errorf("phrase %q lacks a language: %q", k, w)
		}
		if strings.Count(w[0], "%") != strings.Count(w[1], "%") {
			t.Errorf("phrase %q: the languages take different arguments: %q", k, w)
		}
	}
	used := map[string]bool{}
	entries, err := os.ReadDir("templates")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile("templates/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`\.T "([a-z0-9_.]+)"`).FindAllStringSubmatch(string(data), -1) {
			used[m[1]] = true
		}
	}
	src, _ := os.ReadFile("board.go")
	for _, name := range []string{"room.go", "meetings.go", "fleet.go", "words.go", "access.go"} {
		b, _ := os.ReadFile(name)
		src = append(src, b...)
	}
	for _, m := range regexp.MustCompile(`\.T\("([a-z0-9_.]+)"|"([a-z]+\.[a-z0-9_.]+)"`).FindAllStringSubmatch(string(src), -1) {
		if k := m[1] + m[2]; strings.Contains(k, ".") && !strings.HasSuffix(k, ".go") && !strings.HasSuffix(k, ".html") && !strings.HasPrefix(k, "siaprapat") {
			used[k] = true
		}
	}
	for k := range used {
		if _, ok := phrases[k]; !ok && !strings.HasPrefix(k, "check.err.") && !strings.HasPrefix(k, "state.") && !strings.HasPrefix(k, "verdict.") {
			t.Errorf("key %q is used but has no words", k)
		}
	}
	for _, s := range fleet.States {
		if _, ok := phrases["state."+string(s)]; !ok {
			t.Errorf("state %s has no words", s)
		}
	}
	for _, v := range []wire.Verdict{wire.Pass, wire.Warn, wire.Fail, wire.Error, wire.Skipped} {
		if _, ok := phrases["verdict."+string(v)]; !ok {
			t.Errorf("verdict %s has no words", v)
		}
	}
}

func TestLocalPath_StaysOnTheBoard(t *testing.T) {
	for in, want := range map[string]string{
		"/rooms/a/b?check=1": "/rooms/a/b?check=1",
		"":                   "/",
		"//evil.example":     "/",
		"/\\evil.example":    "/",
		"https://evil":       "/",
		"rooms":              "/",
		"/a\r\nSet-Cookie:":  "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBoard_WrongTokensAreLimitedByAddress(t *testing.T) {
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r := newRig(t, func(c *Config) { c.Access = tokens{admin: "admin-secret", read: "read-secret"}; c.Now = clock })
	csrf := csrfOf(t, r.get(t, "/signin", english).body)
	try := func(token string) int {
		return r.do(t, "POST", "/signin", url.Values{"csrf": {csrf}, "token": {token}, "back": {"/"}}, english).code
	}
	for i := range maxFailures {
		if code := try("guess"); code != 401 {
			t.Fatalf("wrong token %d: %d", i+1, code)
		}
	}
	if code := try("read-secret"); code != 429 {
		t.Errorf("after %d wrong tokens, even the right one: %d, want 429", maxFailures, code)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if code := try("read-secret"); code != 303 {
		t.Errorf("a minute later: %d, want 303", code)
	}
}

// TestBoard_RulesWantedRangeInThePagesLanguage: the wanted range comes in
// reports in English; the Indonesian page words it in Bahasa Indonesia.
func TestBoard_RulesWantedRangeInThePagesLanguage(t *testing.T) {
	r := newRig(t, nil)
	cpu := 0.755
	r.report(t, "jabar", "aula", wire.Degraded, wire.CheckResult{Check: wire.CheckHost, Target: "pc", Verdict: wire.Warn,
		Rules: []wire.RuleResult{{Rule: "host_cpu", Verdict: wire.Warn, Observed: &cpu, Want: "<= 70 % (fail above 90 %)", Reason: "cpu_used_ratio 75.5 % is above the warn limit 70 %"}}})
	for header, want := range map[string]string{"en": "<td>75.5 %</td><td>&lt;= 70 % (fail above 90 %)", "id": "<td>75,5 %</td><td>&lt;= 70 % (gagal di atas 90 %)"} {
		h := english
		if header == "id" {
			h = indonesian
		}
		if a := r.get(t, "/rooms/jabar/aula", h); a.code != 200 || !strings.Contains(a.body, want+"</td>") {
			t.Errorf("%s: the room page lacks the wanted range %q", header, want)
		}
	}
}

// TestBoard_WhyMarksWhatBlocksApartFromWarnings: each cause of the room
// page's "Why" list carries its verdict in words, so a technician tells
// what keeps the room from being ready from what only warns.
func TestBoard_WhyMarksWhatBlocksApartFromWarnings(t *testing.T) {
	r := newRig(t, nil)
	r.report(t, "sulsel", "aula", wire.NotReady, slowCPU, noCamera)
	a := r.get(t, "/rooms/sulsel/aula", english)
	why, _, _ := strings.Cut(a.body[strings.Index(a.body, `id="causes"`):], "</ul>")
	for _, want := range []string{
		`<li class="c-fail"><span class="v v-fail"><span class="sym" aria-hidden="true">` + Symbol("fail") + `</span> fail</span> Camera: no camera found</li>`,
		`<li class="c-warn"><span class="v v-warn"><span class="sym" aria-hidden="true">` + Symbol("warn") + `</span> warn</span> `,
	} {
		if !strings.Contains(why, want) {
			t.Errorf("the Why list lacks %q:\n%s", want, why)
		}
	}
}

// TestBoard_RulesAreNamedInWords: a rule of the standard is named by what
// it measures, in the page's language, with its id beside it.
func TestBoard_RulesAreNamedInWords(t *testing.T) {
	r := newRig(t, nil)
	r.report(t, "jabar", "aula", wire.Degraded, slowCPU)
	for header, want := range map[string]string{
		"en": `<td class="rule">Room PC CPU use <span class="muted id">host_cpu</span></td>`,
		"id": `<td class="rule">Pemakaian CPU PC ruang <span class="muted id">host_cpu</span></td>`,
	} {
		h := english
		if header == "id" {
			h = indonesian
		}
		if a := r.get(t, "/rooms/jabar/aula", h); !strings.Contains(a.body, want) {
			t.Errorf("%s: the room page lacks %q", header, want)
		}
	}
}

// TestBoard_FirmwareStatusInWords: a device's firmware status reads in the
// page's language, not as its code (known_bad).
func TestBoard_FirmwareStatusInWords(t *testing.T) {
	r := newRig(t, nil)
	rep := &wire.Report{Schema: wire.Schema, ID: wire.NewID(), Site: "jabar", Room: "aula", MeasuredAt: t0.Add(-time.Minute), Verdict: wire.Ready,
		Checks: []wire.CheckResult{hostOK},
		Peripherals: []wire.Peripheral{{Path: "1-2", ID: "046d:0893", Name: "Logitech Rally Bar", Kind: "video_bar", Firmware: "1.0",
			FirmwareStatus: wire.FirmwareKnownBad, FirmwareReason: "freezes the picture"}}}
	r.fleet.ApplyReport(rep, t0.Add(-time.Minute))
	for header, want := range map[string]string{"en": `<span class="fw fw-known_bad">known bad</span>`, "id": `<span class="fw fw-known_bad">diketahui bermasalah</span>`} {
		h := english
		if header == "id" {
			h = indonesian
		}
		if a := r.get(t, "/rooms/jabar/aula", h); !strings.Contains(a.body, want) {
			t.Errorf("%s: the room page lacks %q", header, want)
		}
	}
}
