package probe

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config's zero fields.
const (
	DefaultMaxSessions         = 50
	DefaultMaxBytesPerSession  = 200_000_000 // per direction: 8 s at 200 Mbit/s
	DefaultSessionTTL          = 60 * time.Second
	DefaultIdleTimeout         = 5 * time.Second
	DefaultUDPPacketsPerSecond = 100 // a media-like stream sends 50 (one per 20 ms)
)

// sessionGrace is added to the duration a client asks for: the time its
// requests take beyond its own plan.
const sessionGrace = 10 * time.Second

// payloadSize is the pre-generated random buffer downloads are cut from.
// A megabyte is far beyond any compressor's window on the path.
const payloadSize = 1 << 20

// Config configures the probe. Zero fields take the defaults above.
type Config struct {
	// Tokens are the bearer tokens agents may use. With no Tokens and no
	// Authorize, the probe is disabled and says how to enable it.
	Tokens []string
	// Authorize, when set, is asked about tokens not in Tokens (per-agent
	// secrets); who names the client in logs.
	Authorize func(token string) (who string, ok bool)

	MaxSessions        int   // tests running at once; over it clients get 503 + Retry-After
	MaxBytesPerSession int64 // bytes a session may download, and separately upload
	// SessionTTL is the longest a session lives, whatever its client asks;
	// a crashed client holds its slot no longer than this.
	SessionTTL time.Duration
	// IdleTimeout cuts a transfer that has made no progress for this long.
	IdleTimeout         time.Duration
	UDPPacketsPerSecond int // echoes per second per session; more are dropped
	// UDPPort is the UDP port announced to clients; zero announces the port
	// ListenUDP bound (set it when a NAT maps the port).
	UDPPort int

	Log *slog.Logger // nil discards
}

// Stats are the probe's counters since it started, for the controller's metrics.
type Stats struct {
	SessionsStarted    uint64 // sessions granted
	SessionsRefused    uint64 // session requests refused because MaxSessions were running
	SessionsActive     int    // sessions alive now
	Unauthorized       uint64 // requests with a missing or unknown token
	BytesIn            uint64 // upload bytes received
	BytesOut           uint64 // download bytes sent
	UploadsRefused     uint64 // uploads cut with 413 past the byte budget
	TransfersTimedOut  uint64 // transfers cut for making no progress
	UDPEchoed          uint64 // UDP packets echoed
	UDPBad             uint64 // UDP packets dropped: malformed or of no live session
	UDPRateLimited     uint64 // UDP packets of a live session dropped by its rate limit
	UDPForeign         uint64 // UDP packets of a live session from another address than its client's: dropped
	SessionsReplaced   uint64 // sessions ended because their room started another
	UDPBytesEchoed     uint64 // bytes of the echoed UDP packets (each way)
	DownloadsTruncated uint64 // downloads shortened to the session's remaining budget
}

// Server is the probe: an http.Handler for /probe/v1/ and a UDP echo.
type Server struct {
	cfg     Config
	log     *slog.Logger
	tokens  [][sha256.Size]byte
	enabled bool
	mux     *http.ServeMux
	payload []byte
	start   time.Time // the monotonic origin of UDP receive times

	mu       sync.Mutex
	sessions map[[16]byte]*session

	udpMu     sync.Mutex
	udp       *net.UDPConn
	closed    atomic.Bool
	closeOnce sync.Once

	started, refused, unauthorized             atomic.Uint64
	bytesIn, bytesOut, uploadsRefused, timeout atomic.Uint64
	udpEchoed, udpBad, udpLimited, udpBytes    atomic.Uint64
	udpForeign, replaced                       atomic.Uint64
	truncated                                  atomic.Uint64
}

// New returns a probe. It is disabled (and says so to every request) when
// cfg has neither Tokens nor Authorize.
func New(cfg Config) (*Server, error) {
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Log,
		enabled:  len(cfg.Tokens) > 0 || cfg.Authorize != nil,
		start:    time.Now(),
		sessions: map[[16]byte]*session{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, t := range cfg.Tokens {
		s.tokens = append(s.tokens, sha256.Sum256([]byte(t)))
	}
	s.payload = randomPayload(payloadSize)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /probe/v1/session", s.createSession)
	s.mux.HandleFunc("GET /probe/v1/session/{id}", s.sessionStats)
	s.mux.HandleFunc("DELETE /probe/v1/session/{id}", s.deleteSession)
	s.mux.HandleFunc("GET /probe/v1/download", s.download)
	s.mux.HandleFunc("POST /probe/v1/upload", s.upload)
	s.mux.HandleFunc("GET /probe/v1/ping", s.ping)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such probe endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s, nil
}

func validate(cfg *Config) error {
	for i, t := range cfg.Tokens {
		if t == "" {
			return fmt.Errorf("probe: token %d is empty", i+1)
		}
	}
	if cfg.MaxSessions < 0 || cfg.MaxBytesPerSession < 0 || cfg.SessionTTL < 0 || cfg.IdleTimeout < 0 || cfg.UDPPacketsPerSecond < 0 {
		return errors.New("probe: MaxSessions, MaxBytesPerSession, SessionTTL, IdleTimeout and UDPPacketsPerSecond must not be negative")
	}
	if cfg.UDPPort < 0 || cfg.UDPPort > 65535 {
		return fmt.Errorf("probe: UDPPort %d is not a port (0..65535)", cfg.UDPPort)
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.MaxBytesPerSession == 0 {
		cfg.MaxBytesPerSession = DefaultMaxBytesPerSession
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.UDPPacketsPerSecond == 0 {
		cfg.UDPPacketsPerSecond = DefaultUDPPacketsPerSecond
	}
	return nil
}

// randomPayload returns incompressible bytes from a PRNG seeded from the
// OS: generated once, then reused by every download.
func randomPayload(n int) []byte {
	var seed [32]byte
	for i := 0; i < len(seed); i += 8 {
		v := rand.Uint64() // runtime-seeded from the OS
		for j := range 8 {
			seed[i+j] = byte(v >> (8 * j))
		}
	}
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(seed).Read(b) // never fails
	return b
}

// Enabled reports whether the probe has any way to accept a token.
func (s *Server) Enabled() bool { return s.enabled }

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		SessionsStarted:    s.started.Load(),
		SessionsRefused:    s.refused.Load(),
		SessionsActive:     s.activeSessions(),
		Unauthorized:       s.unauthorized.Load(),
		UDPForeign:         s.udpForeign.Load(),
		SessionsReplaced:   s.replaced.Load(),
		BytesIn:            s.bytesIn.Load(),
		BytesOut:           s.bytesOut.Load(),
		UploadsRefused:     s.uploadsRefused.Load(),
		TransfersTimedOut:  s.timeout.Load(),
		UDPEchoed:          s.udpEchoed.Load(),
		UDPBad:             s.udpBad.Load(),
		UDPRateLimited:     s.udpLimited.Load(),
		UDPBytesEchoed:     s.udpBytes.Load(),
		DownloadsTruncated: s.truncated.Load(),
	}
}

// ServeHTTP serves /probe/v1/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enabled {
		writeError(w, http.StatusNotFound, "network probe is disabled on this controller: "+
			"configure a probe token on the controller and give the same token to the agents to enable it")
		return
	}
	who, ok := s.authorize(r)
	if !ok {
		s.unauthorized.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer realm="siaprapat probe"`)
		writeError(w, http.StatusUnauthorized, "missing or unknown probe token (Authorization: Bearer TOKEN)")
		return
	}
	r = r.WithContext(withWho(r.Context(), who))
	s.mux.ServeHTTP(w, r)
}

// authorize checks the bearer token against every configured token in
// constant time (comparing hashes, so the length does not leak either),
// then asks Authorize.
func (s *Server) authorize(r *http.Request) (string, bool) {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(prefix) || !equalFoldASCII(h[:len(prefix)], prefix) {
		return "", false
	}
	token := h[len(prefix):]
	sum := sha256.Sum256([]byte(token))
	match := -1
	for i := range s.tokens {
		if subtle.ConstantTimeCompare(sum[:], s.tokens[i][:]) == 1 {
			match = i
		}
	}
	if match >= 0 {
		return "token " + strconv.Itoa(match+1), true
	}
	if s.cfg.Authorize != nil {
		return s.cfg.Authorize(token)
	}
	return "", false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
