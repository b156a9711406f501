package link

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/siaprapat/siaprapat/internal/testenv"
)

type logLine struct {
	Msg    string `json:"msg"`
	Broker string `json:"broker"`
	Cause  string `json:"cause"`
}

// lines returns the records whose message starts with msg.
func lines(t *testing.T, logs *testenv.Log, msg string) []logLine {
	t.Helper()
	var out []logLine
	for _, r := range testenv.Records[logLine](t, logs) {
		if strings.HasPrefix(r.Msg, msg) {
			out = append(out, r)
		}
	}
	return out
}

const (
	cannotConnect = "cannot connect to the MQTT broker"
	attempt       = "connecting to broker" // logged at debug before every attempt
)

// waitAttempts waits until the link has made n connection attempts in all.
func waitAttempts(t *testing.T, l *testenv.Log, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); len(lines(t, l, attempt)) < n; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("30 s and %d connection attempts, want %d", len(lines(t, l, attempt)), n)
		}
	}
}

func connect(t *testing.T, opts Options) (*Link, *testenv.Log) {
	t.Helper()
	logs := &testenv.Log{}
	opts.Site, opts.Room = "s", "r"
	opts.ConnectTimeout = 3 * time.Second
	opts.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l, err := Connect(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l, logs
}

// freeAddr is a loopback address where nothing listens.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// broker is a real MQTT broker (mochi) in the test's process that lets in
// the user s/r with the password "right" only.
func broker(t *testing.T, addr string) {
	t.Helper()
	s := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	ledger := &auth.Ledger{Auth: auth.AuthRules{{Username: "s/r", Password: "right", Allow: true}}}
	if err := s.AddHook(new(auth.Hook), &auth.Options{Ledger: ledger}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
}

// TestConnect_LogsTheBrokerAndTheCauseOnce: whatever keeps the agent from
// its broker (nothing listening, a name that does not resolve, a
// certificate not trusted, credentials refused), the log says it once, with
// the broker's address and the cause in words, however many times the link
// retries; a publish meanwhile fails with both too.
func TestConnect_LogsTheBrokerAndTheCauseOnce(t *testing.T) {
	tlsServer := httptest.NewTLSServer(http.NotFoundHandler()) // its certificate is no system root's
	t.Cleanup(tlsServer.Close)
	credentials := freeAddr(t)
	broker(t, credentials)
	for _, c := range []struct {
		name, broker, password, want string
	}{
		{"refused", "mqtt://" + freeAddr(t), "", "connection refused: nothing listens there"},
		{"name not found", "mqtt://no-such-broker.invalid:1883", "", "name not found: no-such-broker.invalid"},
		{"TLS", "mqtts://" + strings.TrimPrefix(tlsServer.URL, "https://"), "", "TLS: the broker's certificate is not trusted here"},
		{"credentials", "mqtt://" + credentials, "wrong", "credentials refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, logs := connect(t, Options{Broker: c.broker, Username: "s/r", Password: c.password})
			waitAttempts(t, logs, 3)
			lines := lines(t, logs, cannotConnect)
			if len(lines) != 1 {
				t.Fatalf("after 3 attempts, %d lines %q, want 1: %+v", len(lines), cannotConnect, lines)
			}
			u, _ := url.Parse(c.broker)
			if got := lines[0]; got.Broker != u.Redacted() || !strings.HasPrefix(got.Cause, c.want) {
				t.Errorf("logged broker %q, cause %q; want %q, %q...", got.Broker, got.Cause, u.Redacted(), c.want)
			}
			err := l.PublishEncoded([]byte("{}"))
			if !errors.Is(err, ErrNotConnected) || !strings.Contains(err.Error(), u.Host) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("publish while not connected: %v; want ErrNotConnected naming %s and %q", err, u.Host, c.want)
			}
		})
	}
}

// TestConnect_LogsAgainWhenTheCauseChanges: the broker was not running
// (refused); it starts and refuses the agent's password: a second line,
// with the new cause; then no more while the cause stays.
func TestConnect_LogsAgainWhenTheCauseChanges(t *testing.T) {
	addr := freeAddr(t)
	_, logs := connect(t, Options{Broker: "mqtt://" + addr, Username: "s/r", Password: "wrong"})
	waitAttempts(t, logs, 2)
	broker(t, addr)
	waitAttempts(t, logs, len(lines(t, logs, attempt))+3)
	lines := lines(t, logs, cannotConnect)
	if len(lines) != 2 {
		t.Fatalf("%d lines %q, want 2 (refused, then credentials): %+v", len(lines), cannotConnect, lines)
	}
	for i, want := range []string{"connection refused", "credentials refused"} {
		if lines[i].Broker != "mqtt://"+addr || !strings.HasPrefix(lines[i].Cause, want) {
			t.Errorf("line %d: broker %q, cause %q; want mqtt://%s, %q...", i+1, lines[i].Broker, lines[i].Cause, addr, want)
		}
	}
}

// TestConnect_RightCredentialsConnect: the same broker lets in the right
// password, and the link then publishes.
func TestConnect_RightCredentialsConnect(t *testing.T) {
	addr := freeAddr(t)
	broker(t, addr)
	l, logs := connect(t, Options{Broker: "mqtt://" + addr, Username: "s/r", Password: "right"})
	for deadline := time.Now().Add(10 * time.Second); !l.Connected(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not connected after 10 s: %+v", lines(t, logs, cannotConnect))
		}
	}
	if err := l.PublishEncoded([]byte("{}")); err != nil {
		t.Errorf("publish: %v", err)
	}
	if lines := lines(t, logs, cannotConnect); len(lines) != 0 {
		t.Errorf("logged %+v on a good connection", lines)
	}
}
