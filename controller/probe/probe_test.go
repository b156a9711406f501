package probe

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const testToken = "s3cret-token-for-tests"

// testProbe is a probe mounted the way the controller mounts it, with its
// UDP echo on loopback.
type testProbe struct {
	*Server
	url string
}

func newTestProbe(t *testing.T, cfg Config) *testProbe {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/probe/v1/", s)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	if err := s.ListenUDP("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testProbe{Server: s, url: hs.URL}
}

func (p *testProbe) do(t *testing.T, method, path, token string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, p.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func (p *testProbe) session(t *testing.T, durationSeconds float64) SessionInfo {
	t.Helper()
	body := fmt.Sprintf(`{"duration_seconds": %g}`, durationSeconds)
	resp, b := p.do(t, http.MethodPost, "/probe/v1/session", testToken, strings.NewReader(body))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("start session: %d %s", resp.StatusCode, b)
	}
	var info SessionInfo
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

func errorOf(t *testing.T, b []byte) string {
	t.Helper()
	var e struct{ Error string }
	if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
		t.Fatalf("not a JSON error: %s", b)
	}
	return e.Error
}

func TestProbe_DisabledWithoutTokensSaysHowToEnable(t *testing.T) {
	p := newTestProbe(t, Config{})
	if p.Enabled() {
		t.Fatal("enabled without tokens")
	}
	for _, path := range []string{"/probe/v1/session", "/probe/v1/download?session=x&bytes=1"} {
		resp, b := p.do(t, http.MethodPost, path, "anything", nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, resp.StatusCode)
		}
		if msg := errorOf(t, b); !strings.Contains(msg, "disabled") || !strings.Contains(msg, "configure a probe token") {
			t.Errorf("%s: %q does not say how to enable the probe", path, msg)
		}
	}
}

func TestNew_RejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"empty token":       {Tokens: []string{"ok", ""}},
		"negative sessions": {Tokens: []string{"x"}, MaxSessions: -1},
		"port out of range": {Tokens: []string{"x"}, UDPPort: 70000},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestProbe_RefusesMissingAndWrongTokens(t *testing.T) {
	p := newTestProbe(t, Config{
		Tokens: []string{testToken},
		Authorize: func(tok string) (string, bool) {
			return "agent lab/room-1", tok == "per-agent-secret"
		},
	})
	for _, tc := range []struct {
		name   string
		header string
		want   int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"token as a prefix of the right one", "Bearer " + testToken[:5], http.StatusUnauthorized},
		{"basic auth", "Basic " + testToken, http.StatusUnauthorized},
		{"configured token", "Bearer " + testToken, http.StatusCreated},
		{"lower-case scheme", "bearer " + testToken, http.StatusCreated},
		{"per-agent token via Authorize", "Bearer per-agent-secret", http.StatusCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, p.url+"/probe/v1/session", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
			if tc.want == http.StatusUnauthorized {
				errorOf(t, b)
				if resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate")
				}
			}
		})
	}
	if got := p.Stats().Unauthorized; got != 4 {
		t.Errorf("Unauthorized = %d, want 4", got)
	}
}

func TestProbe_OverTheSessionCapAnswers503WithRetryAfter(t *testing.T) {
	p := newTestProbe(t, Config{Tokens: []string{testToken}, MaxSessions: 2})
	first := p.session(t, 3)
	p.session(t, 20)
	resp, b := p.do(t, http.MethodPost, "/probe/v1/session", testToken, strings.NewReader(`{"duration_seconds": 20}`))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third session: %d %s, want 503", resp.StatusCode, b)
	}
	// The first test expects to be done in 3 s: that is when a slot frees.
	if ra := resp.Header.Get("Retry-After"); ra != "3" {
		t.Errorf("Retry-After %q, want 3", ra)
	}
	if msg := errorOf(t, b); msg != "busy: 2 tests running, retry after 3 s" {
		t.Errorf("error %q", msg)
	}
	resp, _ = p.do(t, http.MethodDelete, "/probe/v1/session/"+first.ID, testToken, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	p.session(t, 20) // the freed slot
	st := p.Stats()
	if st.SessionsStarted != 3 || st.SessionsRefused != 1 || st.SessionsActive != 2 {
		t.Errorf("stats %+v, want 3 started, 1 refused, 2 active", st)
	}
}

func TestProbe_SessionsExpire(t *testing.T) {
	p := newTestProbe(t, Config{Tokens: []string{testToken}, SessionTTL: 300 * time.Millisecond})
	info := p.session(t, 0)
	if until := time.Until(info.Expires); until > 300*time.Millisecond || until < 0 {
		t.Errorf("expires in %v, want within the TTL", until)
	}
	time.Sleep(400 * time.Millisecond)
	if n := p.Stats().SessionsActive; n != 0 {
		t.Errorf("%d sessions active after the TTL", n)
	}
	resp, b := p.do(t, http.MethodGet, "/probe/v1/session/"+info.ID, testToken, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("expired session: %d %s", resp.StatusCode, b)
	}
}

func TestProbe_DownloadSendsIncompressibleBytesWithinTheBudget(t *testing.T) {
	p := newTestProbe(t, Config{Tokens: []string{testToken}, MaxBytesPerSession: 3 << 20})
	info := p.session(t, 10)
	resp, b := p.do(t, http.MethodGet, "/probe/v1/download?session="+info.ID+"&bytes=2500000", testToken, nil)
	if resp.StatusCode != http.StatusOK || len(b) != 2500000 {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(b))
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	if ratio := float64(z.Len()) / float64(len(b)); ratio < 0.99 {
		t.Errorf("download compresses to %.3f of its size", ratio)
	}
	// Only 3 MiB - 2.5 MB are left: the next download is cut to them, then refused.
	resp, b = p.do(t, http.MethodGet, "/probe/v1/download?session="+info.ID+"&bytes=2500000", testToken, nil)
	if want := 3<<20 - 2500000; resp.StatusCode != http.StatusOK || len(b) != want {
		t.Errorf("second download: %d, %d bytes, want %d", resp.StatusCode, len(b), want)
	}
	resp, b = p.do(t, http.MethodGet, "/probe/v1/download?session="+info.ID+"&bytes=1", testToken, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("download past the budget: %d %s", resp.StatusCode, b)
	}
	if st := p.Stats(); st.BytesOut != 3<<20 || st.DownloadsTruncated != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestProbe_UploadCountsWhatItReceives(t *testing.T) {
	p := newTestProbe(t, Config{Tokens: []string{testToken}})
	info := p.session(t, 10)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(make([]byte, 5e6))
		if chunked {
			body = io.MultiReader(body) // hides the length
		}
		resp, b := p.do(t, http.MethodPost, "/probe/v1/upload?session="+info.ID, testToken, body)
		var res UploadResult
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &res) != nil || res.Bytes != 5e6 || res.Seconds <= 0 {
			t.Errorf("chunked=%v: %d %s", chunked, resp.StatusCode, b)
		}
	}
	resp, b := p.do(t, http.MethodGet, "/probe/v1/session/"+info.ID, testToken, nil)
	var st SessionStats
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &st) != nil || st.UploadBytes != 10e6 || st.ElapsedSeconds <= 0 {
		t.Errorf("session stats: %d %s", resp.StatusCode, b)
	}
}

// rawRequest sends a request's head over a fresh connection.
func rawRequest(t *testing.T, p *testProbe, head string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	return conn
}

func TestProbe_OversizedUploadIsRefusedWithoutReadingIt(t *testing.T) {
	for _, tc := range []struct {
		name string
		head string
	}{
		{"announced length", "Content-Length: 1000000000\r\n"},
		{"chunked", "Transfer-Encoding: chunked\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProbe(t, Config{Tokens: []string{testToken}, MaxBytesPerSession: 1 << 20})
			info := p.session(t, 10)
			conn := rawRequest(t, p, "POST /probe/v1/upload?session="+info.ID+" HTTP/1.1\r\nHost: probe\r\n"+
				"Authorization: Bearer "+testToken+"\r\n"+tc.head+"\r\n")
			// Keep sending (up to 1 GB) while reading the answer.
			go func() {
				chunk := make([]byte, 64<<10)
				if strings.Contains(tc.head, "chunked") {
					chunk = append([]byte(fmt.Sprintf("%x\r\n", len(chunk))), append(chunk, "\r\n"...)...)
				}
				for range 1_000_000_000 / (64 << 10) {
					if _, err := conn.Write(chunk); err != nil {
						return
					}
				}
			}()
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
				t.Errorf("status %d, close %v: %s", resp.StatusCode, resp.Close, b)
			}
			if in := p.Stats().BytesIn; in > 2<<20 {
				t.Errorf("read %d bytes of the oversized upload", in)
			}
			if p.Stats().UploadsRefused != 1 {
				t.Errorf("UploadsRefused = %d", p.Stats().UploadsRefused)
			}
		})
	}
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func TestProbe_SlowClientIsCutByTheIdleTimeout(t *testing.T) {
	t.Run("stalled upload", func(t *testing.T) {
		p := newTestProbe(t, Config{Tokens: []string{testToken}, IdleTimeout: 200 * time.Millisecond})
		info := p.session(t, 30)
		conn := rawRequest(t, p, "POST /probe/v1/upload?session="+info.ID+" HTTP/1.1\r\nHost: probe\r\n"+
			"Authorization: Bearer "+testToken+"\r\nContent-Length: 1000000\r\n\r\nonly a few bytes")
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer to the stalled upload: %v", err)
		}
		if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
			t.Errorf("status %d close %v", resp.StatusCode, resp.Close)
		}
		t.Logf("stalled upload cut after %v", time.Since(start).Round(time.Millisecond))
		if p.Stats().TransfersTimedOut != 1 {
			t.Errorf("TransfersTimedOut = %d", p.Stats().TransfersTimedOut)
		}
	})
	t.Run("download never read", func(t *testing.T) {
		p := newTestProbe(t, Config{Tokens: []string{testToken}, IdleTimeout: 200 * time.Millisecond})
		info := p.session(t, 30)
		conn := rawRequest(t, p, "GET /probe/v1/download?session="+info.ID+"&bytes=150000000 HTTP/1.1\r\nHost: probe\r\n"+
			"Authorization: Bearer "+testToken+"\r\n\r\n")
		_ = conn.(*net.TCPConn).SetReadBuffer(4096)
		if !waitFor(10*time.Second, func() bool { return p.Stats().TransfersTimedOut == 1 }) {
			t.Fatalf("the unread download was not cut; stats %+v", p.Stats())
		}
		if out := p.Stats().BytesOut; out > 50e6 {
			t.Errorf("sent %d bytes to a reader that reads nothing", out)
		}
	})
}

// TestProbe_TransfersOutliveTheHTTPServersWriteTimeout: the controller's
// server may set short timeouts for its other endpoints; a transfer that
// makes progress sets its own deadlines.
func TestProbe_TransfersOutliveTheHTTPServersWriteTimeout(t *testing.T) {
	s, err := New(Config{Tokens: []string{testToken}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(s)
	hs.Config.WriteTimeout = 300 * time.Millisecond
	hs.Config.ReadTimeout = 300 * time.Millisecond
	hs.Start()
	defer hs.Close()
	p := &testProbe{Server: s, url: hs.URL}
	info := p.session(t, 10)
	req, _ := http.NewRequest(http.MethodGet, hs.URL+"/probe/v1/download?session="+info.ID+"&bytes=3000000", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Read slowly, for about a second in all.
	var got int
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		got += n
		if err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got != 3000000 {
		t.Errorf("got %d of 3000000 bytes", got)
	}
}

// echoPacket builds a request packet of size n.
func echoPacket(id string, seq uint32, n int) []byte {
	p := make([]byte, n)
	copy(p, Magic)
	hex.Decode(p[4:20], []byte(id))
	binary.BigEndian.PutUint32(p[20:], seq)
	binary.BigEndian.PutUint64(p[24:], 0x1122334455667788)
	for i := HeaderLen; i < n; i++ {
		p[i] = byte(i)
	}
	return p
}

func udpClient(t *testing.T, p *testProbe) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, p.UDPAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends a packet and returns the reply, or nil after a short wait.
func exchange(t *testing.T, c *net.UDPConn, p []byte) []byte {
	t.Helper()
	if _, err := c.Write(p); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func TestProbe_UDPEchoesOnlyLiveSessionsAndNeverAmplifies(t *testing.T) {
	p := newTestProbe(t, Config{Tokens: []string{testToken}})
	info := p.session(t, 10)
	if info.UDPPort != p.UDPAddr().Port {
		t.Errorf("session names UDP port %d, echo is on %d", info.UDPPort, p.UDPAddr().Port)
	}
	c := udpClient(t, p)
	for _, n := range []int{HeaderLen, 200, MaxPacketLen} {
		req := echoPacket(info.ID, uint32(n), n)
		reply := exchange(t, c, bytes.Clone(req))
		if len(reply) != n {
			t.Fatalf("%d-byte packet: reply of %d bytes", n, len(reply))
		}
		if !bytes.Equal(reply[:32], req[:32]) || !bytes.Equal(reply[40:], req[40:]) {
			t.Errorf("%d-byte packet: reply changed more than the receive time", n)
		}
		if binary.BigEndian.Uint64(reply[32:]) == 0 {
			t.Errorf("%d-byte packet: no receive time", n)
		}
	}
	other := strings.Repeat("ab", 16)
	garbage := map[string][]byte{
		"empty":           {},
		"short":           echoPacket(info.ID, 1, HeaderLen)[:HeaderLen-1],
		"wrong magic":     append([]byte("XXXX"), echoPacket(info.ID, 1, 100)[4:]...),
		"unknown session": echoPacket(other, 1, 100),
		"oversized":       echoPacket(info.ID, 1, MaxPacketLen+1),
		"random bytes":    []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\nand some more bytes to pass the header"),
	}
	for name, g := range garbage {
		if reply := exchange(t, c, g); reply != nil {
			t.Errorf("%s: echoed %d bytes", name, len(reply))
		}
	}
	// A deleted session is no longer echoed.
	p.do(t, http.MethodDelete, "/probe/v1/session/"+info.ID, testToken, nil)
	if reply := exchange(t, c, echoPacket(info.ID, 9, 100)); reply != nil {
		t.Error("echoed a deleted session's packet")
	}
	st := p.Stats()
	if st.UDPEchoed != 3 || st.UDPBad != uint64(len(garbage))+1 {
		t.Errorf("stats %+v, want 3 echoed and %d bad", st, len(garbage)+1)
	}
}

func TestProbe_UDPIsRateLimitedPerSession(t *testing.T) {
	p := newTestProbe(t, Config{Tokens: []string{testToken}, UDPPacketsPerSecond: 20})
	info := p.session(t, 10)
	c := udpClient(t, p)
	for i := range 60 {
		if _, err := c.Write(echoPacket(info.ID, uint32(i), 100)); err != nil {
			t.Fatal(err)
		}
	}
	echoed := 0
	buf := make([]byte, 2048)
	for {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.Read(buf); err != nil {
			break
		}
		echoed++
	}
	// A burst of 10 plus what 20/s refills while the 60 packets arrive.
	if echoed < 10 || echoed > 15 {
		t.Errorf("echoed %d of a burst of 60 at 20 packets/s", echoed)
	}
	if st := p.Stats(); st.UDPRateLimited+st.UDPEchoed != 60 {
		t.Errorf("stats %+v: echoed and limited do not add up to 60", st)
	}
}

func TestProbe_UnknownPathsAnswerJSON404(t *testing.T) {
	p := newTestProbe(t, Config{Tokens: []string{testToken}})
	resp, b := p.do(t, http.MethodGet, "/probe/v1/nope", testToken, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status %d", resp.StatusCode)
	}
	errorOf(t, b)
	resp, b = p.do(t, http.MethodGet, "/probe/v1/download?session=zz&bytes=1", testToken, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad session id: %d %s", resp.StatusCode, b)
	}
	resp, b = p.do(t, http.MethodGet, "/probe/v1/download?session="+strings.Repeat("0", 32)+"&bytes=1", testToken, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown session: %d %s", resp.StatusCode, b)
	}
}

func BenchmarkProbe_Download(b *testing.B) {
	s, err := New(Config{Tokens: []string{testToken}, MaxBytesPerSession: 1 << 50})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/probe/v1/session", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var info SessionInfo
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	const n = 64 << 20
	b.SetBytes(n)
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/probe/v1/download?session=%s&bytes=%d", hs.URL, info.ID, n), nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func TestProbe_SessionStatsCarryTheUploadTimeline(t *testing.T) {
	p := newTestProbe(t, Config{Tokens: []string{testToken}})
	info := p.session(t, 10)
	// Upload slowly enough for several timeline points.
	pr, pw := io.Pipe()
	go func() {
		for range 6 {
			pw.Write(make([]byte, 1000))
			time.Sleep(TimelineInterval + 10*time.Millisecond)
		}
		pw.Close()
	}()
	resp, b := p.do(t, http.MethodPost, "/probe/v1/upload?session="+info.ID, testToken, pr)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	resp, b = p.do(t, http.MethodGet, "/probe/v1/session/"+info.ID+"?since=0", testToken, nil)
	var st SessionStats
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &st) != nil {
		t.Fatalf("stats: %d %s", resp.StatusCode, b)
	}
	if len(st.UploadTimeline) < 4 {
		t.Fatalf("timeline %v, want a point per write", st.UploadTimeline)
	}
	for i := 1; i < len(st.UploadTimeline); i++ {
		a, b := st.UploadTimeline[i-1], st.UploadTimeline[i]
		if b[0]-a[0] < TimelineInterval.Seconds() || b[1] < a[1] {
			t.Errorf("points %v then %v: closer than the interval or shrinking", a, b)
		}
	}
	if last := st.UploadTimeline[len(st.UploadTimeline)-1]; last[1] > float64(st.UploadBytes) || last[0] > st.ElapsedSeconds {
		t.Errorf("last point %v beyond the counters %+v", last, st)
	}
	// since skips the earlier points; no since, no timeline.
	resp, b = p.do(t, http.MethodGet, fmt.Sprintf("/probe/v1/session/%s?since=%g", info.ID, st.UploadTimeline[2][0]), testToken, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("since the third point: status %d: %s", resp.StatusCode, b)
	}
	var later SessionStats
	json.Unmarshal(b, &later)
	if len(later.UploadTimeline) != len(st.UploadTimeline)-2 {
		t.Errorf("since the third point: %d points, want %d", len(later.UploadTimeline), len(st.UploadTimeline)-2)
	}
	_, b = p.do(t, http.MethodGet, "/probe/v1/session/"+info.ID, testToken, nil)
	if strings.Contains(string(b), "timeline") {
		t.Errorf("timeline without since: %s", b)
	}
	resp, _ = p.do(t, http.MethodGet, "/probe/v1/session/"+info.ID+"?since=soon", testToken, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("since=soon: %d", resp.StatusCode)
	}
}

// TestProbe_ARoomHasOneSessionAndOnlyItUsesIt: an enrolled room cannot
// take more than one slot, nor read or end another room's session.
func TestProbe_ARoomHasOneSessionAndOnlyItUsesIt(t *testing.T) {
	secrets := map[string]string{"secret-a": "kalbar/a", "secret-b": "kalbar/b"}
	p := newTestProbe(t, Config{MaxSessions: 3, Authorize: func(token string) (string, bool) {
		who, ok := secrets[token]
		return who, ok
	}})
	open := func(token string) SessionInfo {
		t.Helper()
		resp, b := p.do(t, http.MethodPost, "/probe/v1/session", token, strings.NewReader(`{"duration_seconds": 10}`))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("start session: %d %s", resp.StatusCode, b)
		}
		var info SessionInfo
		json.Unmarshal(b, &info)
		return info
	}
	var a SessionInfo
	for range 5 { // a room asking again and again holds one slot
		a = open("secret-a")
	}
	b := open("secret-b")
	if st := p.Stats(); st.SessionsActive != 2 || st.SessionsReplaced != 4 {
		t.Errorf("%+v: want 2 sessions, 4 replaced", st)
	}
	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/probe/v1/session/" + b.ID},
		{http.MethodGet, "/probe/v1/download?session=" + b.ID + "&bytes=1000"},
		{http.MethodDelete, "/probe/v1/session/" + b.ID},
	} {
		resp, body := p.do(t, req.method, req.path, "secret-a", nil)
		if req.method == http.MethodDelete {
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("DELETE another room's session: %d", resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s by another room: %d %s", req.method, req.path, resp.StatusCode, body)
		}
	}
	if resp, _ := p.do(t, http.MethodGet, "/probe/v1/session/"+b.ID, "secret-b", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("room b lost its session to room a's DELETE: %d", resp.StatusCode)
	}
	_ = a
}

// TestProbe_UDPAnswersOnlyTheSessionsAddress: a packet naming a live
// session but coming from another address is dropped, never answered.
func TestProbe_UDPAnswersOnlyTheSessionsAddress(t *testing.T) {
	p := newTestProbe(t, Config{Tokens: []string{testToken}})
	info := p.session(t, 10)
	pkt := echoPacket(info.ID, 1, 100)
	if !p.echo(bytes.Clone(pkt), netip.MustParseAddr("127.0.0.1"), time.Now()) {
		t.Error("the client's own packet was dropped")
	}
	if p.echo(bytes.Clone(pkt), netip.MustParseAddr("192.0.2.7"), time.Now()) {
		t.Error("a packet from another address would be answered")
	}
	if st := p.Stats(); st.UDPForeign != 1 {
		t.Errorf("%+v: want 1 foreign packet counted", st)
	}
}
