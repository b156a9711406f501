package probe

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SessionRequest is the optional body of POST /probe/v1/session.
type SessionRequest struct {
	// DurationSeconds is how long the client's test should take; it sets
	// the session's expiry (plus a grace period, at most SessionTTL) and
	// the Retry-After told to clients waiting for a slot.
	DurationSeconds float64 `json:"duration_seconds,omitempty"`
	// Room is SITE/ROOM, for clients that share a probe token (--probe-token):
	// a room runs one test at a time. An enrolled agent is known by its
	// secret, whatever it says here.
	Room string `json:"room,omitempty"`
}

// SessionInfo answers POST /probe/v1/session.
type SessionInfo struct {
	ID                  string    `json:"id"`       // 32 hex digits
	UDPPort             int       `json:"udp_port"` // 0 when the probe has no UDP echo
	MaxBytes            int64     `json:"max_bytes"`
	Expires             time.Time `json:"expires"`
	UDPPacketsPerSecond int       `json:"udp_packets_per_second"`
}

// SessionStats answers GET /probe/v1/session/{id}: the session's transfer
// counters read together with the probe's clock, so two readings give the
// goodput the probe received between them. With ?since=SECONDS it also
// carries the upload timeline from then on.
type SessionStats struct {
	ID             string  `json:"id"`
	UploadBytes    int64   `json:"upload_bytes"`    // received so far
	DownloadBytes  int64   `json:"download_bytes"`  // sent so far
	ElapsedSeconds float64 `json:"elapsed_seconds"` // since the session started, on the probe's monotonic clock
	// UploadTimeline is [elapsed_seconds, upload_bytes] about every
	// TimelineInterval while uploads run (none while nothing arrives).
	UploadTimeline [][2]float64 `json:"upload_timeline,omitempty"`
}

// TimelineInterval is the spacing of the upload timeline's points.
const TimelineInterval = 50 * time.Millisecond

// maxTimeline bounds a session's timeline (longer than SessionTTL allows
// at TimelineInterval, so only a misconfigured TTL reaches it).
const maxTimeline = 4096

// UploadResult answers POST /probe/v1/upload.
type UploadResult struct {
	Bytes   int64   `json:"bytes"`   // body bytes received
	Seconds float64 `json:"seconds"` // from the request's headers to the end of its body
}

type session struct {
	id          [16]byte
	who         string     // the client that opened it: only it may use it
	room        string     // the room it tests ("" for a shared token that named none): one session each
	addr        netip.Addr // the client's address: the UDP echo answers only it
	created     time.Time
	expectedEnd time.Time // when the client expects to be done
	expires     time.Time
	done        chan struct{} // closed when the session is deleted or expires
	doneOnce    sync.Once

	downReserved atomic.Int64 // download bytes promised to running downloads and sent
	downSent     atomic.Int64
	upReserved   atomic.Int64 // upload bytes accepted (announced or read)
	upReceived   atomic.Int64

	udpMu     sync.Mutex
	udpTokens float64
	udpLast   time.Time

	nextPoint atomic.Int64 // ns since created when the timeline takes its next point
	tlMu      sync.Mutex
	timeline  [][2]float64
}

// received counts upload bytes and, every TimelineInterval, adds a point
// to the upload timeline.
func (s *session) received(n int64, now time.Time) {
	s.upReceived.Add(n)
	at := int64(now.Sub(s.created))
	if at < s.nextPoint.Load() {
		return
	}
	s.tlMu.Lock()
	defer s.tlMu.Unlock()
	if at < s.nextPoint.Load() || len(s.timeline) >= maxTimeline {
		return
	}
	// Read the counter under the lock so the points only ever grow.
	s.timeline = append(s.timeline, [2]float64{time.Duration(at).Seconds(), float64(s.upReceived.Load())})
	s.nextPoint.Store(at + int64(TimelineInterval))
}

// timelineSince returns the points at or after since.
func (s *session) timelineSince(since float64) [][2]float64 {
	s.tlMu.Lock()
	defer s.tlMu.Unlock()
	i, _ := slices.BinarySearchFunc(s.timeline, since, func(p [2]float64, t float64) int { return cmp.Compare(p[0], t) })
	return slices.Clone(s.timeline[i:])
}

func (s *session) end() { s.doneOnce.Do(func() { close(s.done) }) }

func (s *session) live(now time.Time) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	return now.Before(s.expires)
}

// reserve takes up to n bytes from a budget of max, returning how many it got.
func reserve(c *atomic.Int64, n, max int64) int64 {
	for {
		cur := c.Load()
		got := min(n, max-cur)
		if got <= 0 {
			return 0
		}
		if c.CompareAndSwap(cur, cur+got) {
			return got
		}
	}
}

// allowUDP is a token bucket of rate packets per second holding at most a
// half second of them (at least 10).
func (s *session) allowUDP(now time.Time, rate int) bool {
	s.udpMu.Lock()
	defer s.udpMu.Unlock()
	burst := math.Max(10, float64(rate)/2)
	if s.udpLast.IsZero() {
		s.udpTokens = burst
	} else {
		s.udpTokens = math.Min(burst, s.udpTokens+now.Sub(s.udpLast).Seconds()*float64(rate))
	}
	s.udpLast = now
	if s.udpTokens < 1 {
		return false
	}
	s.udpTokens--
	return true
}

// purgeLocked ends expired sessions. s.mu is held.
func (s *Server) purgeLocked(now time.Time) {
	for id, sess := range s.sessions {
		if !sess.live(now) {
			sess.end()
			delete(s.sessions, id)
		}
	}
}

func (s *Server) activeSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeLocked(time.Now())
	return len(s.sessions)
}

// lookup returns a live session.
func (s *Server) lookup(id [16]byte, now time.Time) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[id]
	if sess == nil || !sess.live(now) {
		return nil
	}
	return sess
}

// overrunRetry is the Retry-After estimate for a test that has overrun the
// duration its client planned: it should end any moment.
const overrunRetry = 2 * time.Second

// retryAfterLocked estimates when a slot frees: the soonest a running test
// expects to end. s.mu is held.
func (s *Server) retryAfterLocked(now time.Time) time.Duration {
	soonest := s.cfg.SessionTTL
	for _, sess := range s.sessions {
		at := sess.expectedEnd
		if !at.After(now) {
			at = now.Add(overrunRetry)
		}
		soonest = min(soonest, at.Sub(now), sess.expires.Sub(now))
	}
	return max(time.Second, soonest)
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	var req SessionRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	if err != nil {
		writeError(w, http.StatusBadRequest, "read session request: "+err.Error())
		return
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, http.StatusBadRequest, "session request is not JSON {\"duration_seconds\": N}: "+err.Error())
			return
		}
	}
	if math.IsNaN(req.DurationSeconds) || req.DurationSeconds < 0 {
		writeError(w, http.StatusBadRequest, "duration_seconds must be a positive number of seconds")
		return
	}
	want := s.cfg.SessionTTL
	if req.DurationSeconds > 0 && req.DurationSeconds < want.Seconds() {
		want = time.Duration(req.DurationSeconds * float64(time.Second))
	}
	if req.Room != "" {
		if site, room, ok := strings.Cut(req.Room, "/"); !ok || !validName(site) || !validName(room) {
			writeError(w, http.StatusBadRequest, "room must be SITE/ROOM")
			return
		}
	}
	now := time.Now()
	who := whoFrom(r.Context())
	addr, _ := netip.ParseAddrPort(r.RemoteAddr)
	sess := &session{
		who:         who,
		room:        roomOf(who, req.Room),
		addr:        addr.Addr().Unmap(),
		created:     now,
		expectedEnd: now.Add(want),
		expires:     now.Add(min(s.cfg.SessionTTL, want+sessionGrace)),
		done:        make(chan struct{}),
	}
	if _, err := rand.Read(sess.id[:]); err != nil {
		writeError(w, http.StatusInternalServerError, "make session id: "+err.Error())
		return
	}

	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "probe is shutting down")
		return
	}
	s.purgeLocked(now)
	if sess.room != "" {
		// One test at a time per room: a room that asks again (its agent
		// restarted mid-test) gives up the session it held, so that one
		// room can neither hold several slots nor lock itself out.
		for id, old := range s.sessions {
			if old.room == sess.room {
				old.end()
				delete(s.sessions, id)
				s.replaced.Add(1)
			}
		}
	}
	if n := len(s.sessions); n >= s.cfg.MaxSessions {
		wait := s.retryAfterLocked(now)
		s.mu.Unlock()
		s.refused.Add(1)
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("busy: %d tests running, retry after %d s", n, secs))
		s.log.Info("probe busy", "who", sess.who, "running", n, "retry_after_seconds", secs)
		return
	}
	s.sessions[sess.id] = sess
	s.mu.Unlock()
	s.started.Add(1)

	id := hex.EncodeToString(sess.id[:])
	s.log.Debug("probe session started", "who", sess.who, "session", id, "expires", sess.expires)
	writeJSON(w, http.StatusCreated, SessionInfo{
		ID:                  id,
		UDPPort:             s.udpPort(),
		MaxBytes:            s.cfg.MaxBytesPerSession,
		Expires:             sess.expires.UTC().Truncate(time.Millisecond),
		UDPPacketsPerSecond: s.cfg.UDPPacketsPerSecond,
	})
}

func (s *Server) sessionStats(w http.ResponseWriter, r *http.Request) {
	sess := s.sessionOf(w, r, r.PathValue("id"))
	if sess == nil {
		return
	}
	st := SessionStats{
		ID:             r.PathValue("id"),
		UploadBytes:    sess.upReceived.Load(),
		DownloadBytes:  sess.downSent.Load(),
		ElapsedSeconds: time.Since(sess.created).Seconds(),
	}
	if q := r.URL.Query().Get("since"); q != "" {
		since, err := strconv.ParseFloat(q, 64)
		if err != nil || math.IsNaN(since) {
			writeError(w, http.StatusBadRequest, "since must be seconds since the session started")
			return
		}
		st.UploadTimeline = sess.timelineSince(since)
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusBadRequest, "session id must be 32 hex digits")
		return
	}
	s.mu.Lock()
	sess := s.sessions[id]
	if sess != nil && sess.who == whoFrom(r.Context()) {
		delete(s.sessions, id)
	} else {
		sess = nil // another client's session is not this client's to end
	}
	s.mu.Unlock()
	if sess != nil {
		sess.end()
		s.log.Debug("probe session ended", "who", sess.who, "session", r.PathValue("id"),
			"seconds", time.Since(sess.created).Seconds(), "bytes_in", sess.upReceived.Load(), "bytes_out", sess.downSent.Load())
	}
	// Deleting a session that is already gone succeeds: the slot is free either way.
	w.WriteHeader(http.StatusNoContent)
}

// sessionOf finds the live session an id names, of the request's client,
// answering the request itself (and returning nil) when there is none:
// another client's session is as unknown as one that never was.
func (s *Server) sessionOf(w http.ResponseWriter, r *http.Request, hexID string) *session {
	id, ok := parseID(hexID)
	if !ok {
		writeError(w, http.StatusBadRequest, "session must be 32 hex digits")
		return nil
	}
	sess := s.lookup(id, time.Now())
	if sess != nil && sess.who != whoFrom(r.Context()) {
		sess = nil
	}
	if sess == nil {
		writeError(w, http.StatusNotFound, "no such session (expired or ended); start one with POST /probe/v1/session")
	}
	return sess
}

func parseID(s string) ([16]byte, bool) {
	var id [16]byte
	if len(s) != 32 {
		return id, false
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err == nil
}

// roomOf is the room a session tests: an enrolled agent's own (its user
// name is SITE/ROOM), or the room a shared token's client named.
func roomOf(who, claimed string) string {
	if strings.Contains(who, "/") {
		return who
	}
	if claimed != "" {
		return who + " as " + claimed
	}
	return ""
}

// validName is the wire's site and room name rule: 1 to 64 letters,
// digits, '.', '_' or '-', starting with a letter or digit.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

type whoKey struct{}

func withWho(ctx context.Context, who string) context.Context {
	return context.WithValue(ctx, whoKey{}, who)
}

func whoFrom(ctx context.Context) string {
	who, _ := ctx.Value(whoKey{}).(string)
	return who
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
