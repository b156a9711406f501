package board

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"sync"
	"time"
)

// The board's cookies.
const (
	sessionCookie = "siaprapat_session"
	langCookie    = "siaprapat_lang"
)

// Sign-ins last SessionLife; at most maxSessions are kept (the soonest to
// expire leaves first), so a flood of sign-ins cannot grow memory.
const (
	SessionLife = 12 * time.Hour
	maxSessions = 10_000
)

// Wrong tokens: at most maxFailures a minute from one address; past that
// the form answers 429 until the minute is over, so that a token cannot be
// guessed at the speed of the network. At most maxFailing addresses are
// remembered.
const (
	maxFailures = 10
	maxFailing  = 10_000
)

// failures counts wrong tokens by address, by the board's clock.
type failures struct {
	mu   sync.Mutex
	by   map[string]*failCount
	now  func() time.Time
	keep int
}

type failCount struct {
	n     int
	since time.Time
}

func newFailures(now func() time.Time) *failures {
	return &failures{by: map[string]*failCount{}, now: now, keep: maxFailing}
}

// blocked reports whether an address has used up its wrong tokens.
func (f *failures) blocked(addr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.by[addr]
	return ok && c.n >= maxFailures && f.now().Sub(c.since) < time.Minute
}

// failed counts a wrong token from an address.
func (f *failures) failed(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	c, ok := f.by[addr]
	if !ok || now.Sub(c.since) >= time.Minute {
		if !ok && len(f.by) >= f.keep {
			for k, old := range f.by {
				if now.Sub(old.since) >= time.Minute {
					delete(f.by, k)
				}
			}
			if len(f.by) >= f.keep {
				clear(f.by) // a flood from many addresses: start again rather than grow
			}
		}
		c = &failCount{since: now}
		f.by[addr] = c
	}
	c.n++
}

// signIn is what a signed-in browser may do, decided at sign-in by the
// token it gave (the tokens do not change while the controller runs). The
// cookie holds a random id, never the token.
type signIn struct {
	read, write bool
	csrf        string
	expires     time.Time
}

// signIns are the signed-in sessions, kept in memory: a restart signs
// everyone out. Ids are stored hashed.
type signIns struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*signIn
}

func newSignIns(now func() time.Time) *signIns {
	return &signIns{now: now, m: map[string]*signIn{}}
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// add keeps a new session and returns its id.
func (s *signIns) add(read, write bool) (string, *signIn) {
	now := s.now()
	id := randomToken()
	si := &signIn{read: read, write: write, csrf: randomToken(), expires: now.Add(SessionLife)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		var soonest string
		for k, v := range s.m {
			if !now.Before(v.expires) {
				delete(s.m, k)
			} else if soonest == "" || v.expires.Before(s.m[soonest].expires) {
				soonest = k
			}
		}
		if len(s.m) >= maxSessions {
			delete(s.m, soonest)
		}
	}
	s.m[hashID(id)] = si
	return id, si
}

// get returns the live session of an id.
func (s *signIns) get(id string) (*signIn, bool) {
	if id == "" {
		return nil, false
	}
	k := hashID(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	si, ok := s.m[k]
	if !ok {
		return nil, false
	}
	if !s.now().Before(si.expires) {
		delete(s.m, k)
		return nil, false
	}
	return si, true
}

func (s *signIns) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, hashID(id))
}

// visit is who is asking: what they may do, and their CSRF token.
type visit struct {
	signedIn          bool
	canRead, canWrite bool
	csrf              string
	// tokens says whether the controller has tokens at all (else there is
	// nothing to sign in with).
	tokens bool
}

// visit reads the request's session. Without one, a visitor may do what
// the API lets anyone do.
func (b *Board) visit(r *http.Request) *visit {
	v := &visit{canRead: true, canWrite: true}
	if b.cfg.Access != nil {
		v.canRead, v.canWrite = b.cfg.Access.CanRead(r, ""), b.cfg.Access.CanWrite(r, "")
	}
	v.tokens = !v.canRead || !v.canWrite
	v.csrf = b.anonymousCSRF()
	if c, err := r.Cookie(sessionCookie); err == nil {
		if si, ok := b.sessions.get(c.Value); ok {
			v.signedIn = true
			v.canRead = v.canRead || si.read
			v.canWrite = v.canWrite || si.write
			v.csrf = si.csrf
		}
	}
	return v
}

// anonymousCSRF is the CSRF token of visitors without a session: a MAC of
// this process's random key, which no other site can read from a page.
func (b *Board) anonymousCSRF() string {
	m := hmac.New(sha256.New, b.key)
	m.Write([]byte("siaprapat board anonymous csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfOK checks a form's CSRF token against the visitor's, in constant time.
func (v *visit) csrfOK(r *http.Request) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(v.csrf)) == 1
}

func (b *Board) signInPage(w http.ResponseWriter, r *http.Request) {
	v := b.visit(r)
	p := b.page(r, v, "", "signin.title")
	b.render(w, r, http.StatusOK, "signin", signInData{page: p, Back: localPath(r.URL.Query().Get("back"))})
}

type signInData struct {
	*page
	Back  string
	Error string
}

// signIn takes a token from the form and, when it is the read or the admin
// token, sets a session cookie (HttpOnly, SameSite=Strict) for SessionLife.
func (b *Board) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	v := b.visit(r)
	back := localPath(r.PostFormValue("back"))
	if !v.csrfOK(r) {
		b.message(w, r, http.StatusForbidden, "forbidden.title", "csrf.text")
		return
	}
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	if b.failures.blocked(addr) {
		b.message(w, r, http.StatusTooManyRequests, "forbidden.title", "signin.toomany")
		return
	}
	token := r.PostFormValue("token")
	read, write := true, true
	if b.cfg.Access != nil {
		read, write = b.cfg.Access.CanRead(r, token), b.cfg.Access.CanWrite(r, token)
	}
	// The token must open something that is closed without it.
	gains := (read && !b.openRead(r)) || (write && !b.openWrite(r))
	if token == "" || !gains {
		b.failures.failed(addr)
		b.cfg.Log.Info("board: refused a sign-in", "remote", r.RemoteAddr)
		p := b.page(r, v, "", "signin.title")
		b.render(w, r, http.StatusUnauthorized, "signin", signInData{page: p, Back: back, Error: p.T("signin.wrong")})
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		b.sessions.remove(c.Value) // a new id at each sign-in
	}
	id, _ := b.sessions.add(read, write)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", MaxAge: int(SessionLife / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	b.cfg.Log.Info("board: signed in", "remote", r.RemoteAddr, "admin", write && !b.openWrite(r))
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (b *Board) openRead(r *http.Request) bool {
	return b.cfg.Access == nil || b.cfg.Access.CanRead(r, "")
}

func (b *Board) openWrite(r *http.Request) bool {
	return b.cfg.Access == nil || b.cfg.Access.CanWrite(r, "")
}

func (b *Board) signOut(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	v := b.visit(r)
	if !v.csrfOK(r) {
		b.message(w, r, http.StatusForbidden, "forbidden.title", "csrf.text")
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		b.sessions.remove(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
