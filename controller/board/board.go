// Package board serves the controller's web board: server-rendered HTML
// pages of the fleet, one room, and the meetings, in Bahasa Indonesia and
// English, with times in each room's zone. Its templates, style sheet and
// script are embedded (no build step, no CDN: it works with no internet).
// It computes nothing of its own about readiness: causes come from package
// readiness, the words every alert, API answer and metric uses.
package board

import (
	"bytes"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/siaprapat/siaprapat/controller/alerts"
	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/history"
	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/standard"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Access says what a token may do, by the API's rules (api.Server's
// CanRead and CanWrite): the board signs people in by the same tokens.
type Access interface {
	CanRead(r *http.Request, token string) bool
	CanWrite(r *http.Request, token string) bool
}

// Alerts gives the alerts firing now (alerts.Manager).
type Alerts interface {
	Firing() []alerts.Alert
}

// Planner tells the pre-meeting checks (premeeting.Planner).
type Planner interface {
	LeadTimes(site, room string) []time.Duration
	LastCheck(sessionID string) (string, bool)
}

// Config is what the board reads.
type Config struct {
	Fleet    *fleet.Fleet
	History  *history.History // may be nil: no timeline
	Commands *commands.Dispatcher
	Sessions *sessions.Store
	Alerts   Alerts  // may be nil: no alerts shown
	Planner  Planner // may be nil: no pre-meeting checks shown
	// Zone is a room's time zone, where its times are shown; ("", "") is
	// the controller's default. nil means WIB for every room.
	Zone     func(site, room string) *time.Location
	Standard *standard.Standard // the limits causes quote; may be nil
	// Access decides who reads and who checks rooms; nil opens both, as an
	// API with no tokens does.
	Access Access
	Now    func() time.Time // the controller's clock; time.Now when nil
	Log    *slog.Logger
}

// Board serves the pages. Make one with New.
type Board struct {
	cfg      Config
	pages    map[string]*template.Template
	static   http.Handler
	sessions *signIns
	failures *failures // wrong tokens at sign-in, by address
	// key signs the CSRF token of visitors without a session (when writing
	// is open to all, as the API's is without an admin token).
	key     []byte
	handler http.Handler
}

// PageSize is how many rooms a page of the fleet shows by default; MaxPageSize
// bounds ?per=.
const (
	PageSize    = 500
	MaxPageSize = 10_000
)

// funcs are the templates' functions beyond the pages' own methods.
var funcs = template.FuncMap{
	"symbol": func(s any) string { return Symbol(fmt.Sprint(s)) },
	// dict passes several values to a shared template: (dict "M" . "P" $).
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, errors.New("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
}

// New parses the embedded templates and returns the board.
func New(cfg Config) (*Board, error) {
	if cfg.Fleet == nil || cfg.Sessions == nil || cfg.Commands == nil {
		return nil, errors.New("board: the fleet, the sessions and the commands are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Zone == nil {
		cfg.Zone = func(string, string) *time.Location { return readiness.Location }
	}
	b := &Board{cfg: cfg, pages: map[string]*template.Template{}, sessions: newSignIns(cfg.Now), failures: newFailures(cfg.Now), key: make([]byte, 32)}
	if _, err := rand.Read(b.key); err != nil {
		return nil, fmt.Errorf("board: CSRF key: %w", err)
	}
	for _, name := range []string{"fleet", "room", "sessions", "signin", "message"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("board: template %s: %w", name, err)
		}
		b.pages[name] = t
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	b.static = http.StripPrefix("/static/", http.FileServerFS(sub))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", b.reader(b.fleetPage))
	mux.HandleFunc("GET /rooms/{site}/{room}", b.reader(b.roomPage))
	mux.HandleFunc("POST /rooms/{site}/{room}/check", b.checkNow)
	mux.HandleFunc("GET /sessions", b.reader(b.sessionsPage))
	mux.HandleFunc("GET /signin", b.signInPage)
	mux.HandleFunc("POST /signin", b.signIn)
	mux.HandleFunc("POST /signout", b.signOut)
	mux.HandleFunc("GET /lang/{lang}", b.setLang)
	mux.HandleFunc("GET /static/", b.serveStatic)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b.message(w, r, http.StatusNotFound, "notfound.title", "notfound.text")
	})
	// Cross-origin writes are refused before any handler (Sec-Fetch-Site
	// and Origin); the forms' CSRF tokens are the second lock.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.message(w, r, http.StatusForbidden, "forbidden.title", "csrf.text")
	}))
	b.handler = cop.Handler(mux)
	return b, nil
}

// ServeHTTP serves the board with its security headers.
func (b *Board) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// No inline script or style anywhere: everything comes from /static/.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	b.handler.ServeHTTP(w, r)
}

func (b *Board) serveStatic(w http.ResponseWriter, r *http.Request) {
	// Assets change only with the binary; a day's cache is plenty and a
	// restart after an upgrade shows the new ones by the next day at worst.
	w.Header().Set("Cache-Control", "public, max-age=86400")
	b.static.ServeHTTP(w, r)
}

// reader lets a request read when the API's read rule does: open without
// a read token, else with a signed-in session. Others go to the sign-in form.
func (b *Board) reader(h func(http.ResponseWriter, *http.Request, *visit)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := b.visit(r)
		if !v.canRead {
			if r.Header.Get(liveHeader) != "" {
				// The page's script reloads, and lands on the sign-in form.
				http.Error(w, "sign in again", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/signin?back="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r, v)
	}
}

// liveHeader marks the page script's requests for a page's live part.
const liveHeader = "X-Board-Live"

// render writes a page, or only its live part when the page's script asks.
func (b *Board) render(w http.ResponseWriter, r *http.Request, code int, name string, data any) {
	t := b.pages[name]
	tmpl := "layout.html"
	if r.Header.Get(liveHeader) != "" && t.Lookup("live") != nil {
		tmpl = "live"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, tmpl, data); err != nil {
		b.cfg.Log.Error("board: render page", "page", name, "err", err)
		http.Error(w, "could not render the page; see the controller's log", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Cookie, Accept-Language, "+liveHeader)
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes()) // the client went away; nothing to tell it
}

// message answers with a page of one title and one text.
func (b *Board) message(w http.ResponseWriter, r *http.Request, code int, title, text string, args ...any) {
	v := b.visit(r)
	p := b.page(r, v, "", title)
	b.render(w, r, code, "message", struct {
		*page
		Text string
	}{p, p.T(text, args...)})
}

// localPath keeps a "back" address on this board: a path, never a URL to
// another site ("//evil", "https://...").
func localPath(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") || strings.ContainsAny(s, "\r\n") {
		return "/"
	}
	return s
}
