package link

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// TestCause_SaysWhatATechnicianCanAct_On: each way a connection fails, as
// the dialer and the broker give it, in words.
func TestCause_SaysWhatATechnicianCanActOn(t *testing.T) {
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := closed.Addr().String()
	closed.Close()
	_, refused := net.Dial("tcp", addr)
	_, notFound := net.Dial("tcp", "no-such-broker.invalid:1883")
	plain, _ := net.Listen("tcp", "127.0.0.1:0") // a plain port answering TLS with nothing TLS
	defer plain.Close()
	go func() {
		c, err := plain.Accept()
		if err == nil {
			c.Write([]byte("not TLS at all, an MQTT broker's plain port"))
			c.Close()
		}
	}()
	_, badTLS := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", plain.Addr().String(), &tls.Config{ServerName: "x"})
	// A deadline already past: the dialer's own timeout error, wherever
	// the test runs (an unroutable address is refused on some networks).
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, timeout := (&net.Dialer{}).DialContext(ctx, "tcp", "127.0.0.1:1883")
	for _, c := range []struct {
		err  error
		want string
	}{
		{refused, "connection refused: nothing listens there"},
		{notFound, "name not found: no-such-broker.invalid"},
		{badTLS, "TLS: the handshake failed"},
		{timeout, "timed out"},
		{fmt.Errorf("%w : %w", packets.ErrorNetworkError, refused), "connection refused"},
		{packets.ErrorRefusedBadUsernameOrPassword, "credentials refused"},
		{packets.ErrorRefusedNotAuthorised, "credentials refused"},
		{errors.New("something else"), "something else"},
	} {
		if got := Cause(c.err); !strings.HasPrefix(got, c.want) {
			t.Errorf("Cause(%v) = %q, want it to start %q", c.err, got, c.want)
		}
	}
}

// TestCause_SameWordsForPahosTwoNotifications: paho tells a failed dial
// as it is and wrapped as "network Error : ..."; both must read the same,
// or the link would log a change of cause at every attempt.
func TestCause_SameWordsForPahosTwoNotifications(t *testing.T) {
	for _, err := range []error{
		x509.UnknownAuthorityError{},
		tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"},
		io.EOF,
		syscall.ECONNREFUSED,
	} {
		wrapped := fmt.Errorf("%w : %w", packets.ErrorNetworkError, err)
		if a, b := Cause(err), Cause(wrapped); a != b {
			t.Errorf("Cause(%v) = %q but wrapped by paho %q", err, a, b)
		}
	}
}
