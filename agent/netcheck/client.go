package netcheck

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// session is the probe's answer to POST /probe/v1/session.
type session struct {
	ID                  string    `json:"id"`
	UDPPort             int       `json:"udp_port"`
	MaxBytes            int64     `json:"max_bytes"`
	Expires             time.Time `json:"expires"`
	UDPPacketsPerSecond int       `json:"udp_packets_per_second"`

	rawID [16]byte
}

// sessionStats is the probe's answer to GET /probe/v1/session/{id}.
type sessionStats struct {
	UploadBytes    int64        `json:"upload_bytes"`
	DownloadBytes  int64        `json:"download_bytes"`
	ElapsedSeconds float64      `json:"elapsed_seconds"`
	UploadTimeline [][2]float64 `json:"upload_timeline"` // [seconds, bytes]
}

// client talks HTTP to the probe.
type client struct {
	c     *Check
	http  *http.Client
	trans *http.Transport
}

func (c *Check) newClient() *client {
	t := &http.Transport{
		Proxy: nil, // a proxy would measure itself, not the room's path to the controller
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := c.dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				// Closing a cancelled upload discards what it still has
				// queued instead of sending it into the next phase.
				_ = tc.SetLinger(0)
			}
			return conn, nil
		},
		MaxIdleConnsPerHost:   c.cfg.Streams + 2,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
	return &client{c: c, trans: t, http: &http.Client{Transport: t}}
}

func (cl *client) close() { cl.trans.CloseIdleConnections() }

func (cl *client) url(path string, query url.Values) string {
	u := *cl.c.base
	u.Path += path
	u.RawQuery = query.Encode()
	return u.String()
}

func (cl *client) request(ctx context.Context, method, path string, query url.Values, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, cl.url(path, query), body)
	if err != nil {
		return nil, err
	}
	if cl.c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cl.c.cfg.Token)
	}
	return req, nil
}

// probeError is a refusal from the probe: its status and JSON error.
type probeError struct {
	status     int
	msg        string
	retryAfter time.Duration // from Retry-After on 503
}

func (e *probeError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("probe answered %d %s", e.status, http.StatusText(e.status))
	}
	return fmt.Sprintf("probe answered %d: %s", e.status, e.msg)
}

func readProbeError(resp *http.Response) *probeError {
	e := &probeError{status: resp.StatusCode}
	var body struct {
		Error string `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if json.Unmarshal(b, &body) == nil {
		e.msg = body.Error
	}
	if resp.StatusCode == http.StatusUnauthorized && e.msg == "" {
		e.msg = "the probe refused the token"
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && secs >= 0 {
			e.retryAfter = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil {
			e.retryAfter = max(0, time.Until(t))
		}
	}
	return e
}

// startSession asks the probe for a session. While the probe is busy it
// waits as Retry-After says (1 s when it does not say) and tries again, as
// long as the deadline leaves time to wait and then run the test; then it
// gives up with a "probe busy" error.
func (cl *client) startSession(ctx context.Context, c *Check) (*session, error) {
	for attempt := 1; ; attempt++ {
		p, _ := c.planFor(ctx)
		body, _ := json.Marshal(struct {
			DurationSeconds float64 `json:"duration_seconds"`
			Room            string  `json:"room,omitempty"`
		}{p.total().Seconds(), c.cfg.Room})
		s, err := cl.tryStartSession(ctx, body)
		var pe *probeError
		if err == nil || !errors.As(err, &pe) || pe.status != http.StatusServiceUnavailable {
			return s, err
		}
		wait := pe.retryAfter
		if wait <= 0 {
			wait = time.Second
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait+c.minTotal() {
			return nil, fmt.Errorf("probe busy after %d attempts (%s); the check's deadline leaves no time to wait %v more",
				attempt, strings.TrimPrefix(pe.msg, "busy: "), wait)
		}
		c.log.Info("probe busy; waiting as it asks", "retry_after", wait, "attempt", attempt, "probe_said", pe.msg)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("probe busy after %d attempts (%s): %w", attempt, strings.TrimPrefix(pe.msg, "busy: "), ctx.Err())
		case <-time.After(wait):
		}
	}
}

func (cl *client) tryStartSession(ctx context.Context, body []byte) (*session, error) {
	req, err := cl.request(ctx, http.MethodPost, "/probe/v1/session", nil, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := cl.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("start probe session: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("start probe session: %w", readProbeError(resp))
	}
	var s session
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<10)).Decode(&s); err != nil {
		return nil, fmt.Errorf("start probe session: decode answer: %w", err)
	}
	if b, err := hex.DecodeString(s.ID); err != nil || len(b) != 16 {
		return nil, fmt.Errorf("start probe session: the probe's session id %q is not 32 hex digits", s.ID)
	} else {
		copy(s.rawID[:], b)
	}
	return &s, nil
}

func (cl *client) endSession(ctx context.Context, s *session) error {
	req, err := cl.request(ctx, http.MethodDelete, "/probe/v1/session/"+s.ID, nil, nil)
	if err != nil {
		return err
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return fmt.Errorf("end probe session: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("end probe session: %w", readProbeError(resp))
	}
	return nil
}

// stats reads the session's counters from the probe, and its upload
// timeline from since seconds into the session when since >= 0.
func (cl *client) stats(ctx context.Context, s *session, since float64) (sessionStats, error) {
	var st sessionStats
	var q url.Values
	if since >= 0 {
		q = url.Values{"since": {strconv.FormatFloat(since, 'f', -1, 64)}}
	}
	req, err := cl.request(ctx, http.MethodGet, "/probe/v1/session/"+s.ID, q, nil)
	if err != nil {
		return st, err
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return st, fmt.Errorf("read session counters: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("read session counters: %w", readProbeError(resp))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return st, fmt.Errorf("read session counters: %w", err)
	}
	return st, nil
}

// pings measures n HTTP round trips on one keep-alive connection, after a
// first one that opens it.
func (cl *client) pings(ctx context.Context, s *session, n int) ([]time.Duration, error) {
	q := url.Values{"session": {s.ID}}
	var rtts []time.Duration
	for i := 0; i <= n; i++ {
		req, err := cl.request(ctx, http.MethodGet, "/probe/v1/ping", q, nil)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		resp, err := cl.http.Do(req)
		if err != nil {
			return nil, fmt.Errorf("ping the probe over TCP: %w", err)
		}
		if resp.StatusCode != http.StatusNoContent {
			err := readProbeError(resp)
			resp.Body.Close()
			return nil, fmt.Errorf("ping the probe over TCP: %w", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if i > 0 {
			rtts = append(rtts, took)
		}
	}
	return rtts, nil
}
