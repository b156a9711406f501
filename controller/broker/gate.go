package broker

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// Bounds on clients that have not logged in yet: what a stranger can make
// the broker hold before it knows who they are.
const (
	// ConnectTimeout is how long a new connection has to send its CONNECT
	// (after the TLS handshake, on the TLS listener, within the same time).
	ConnectTimeout = 10 * time.Second
	// MaxConnectBytes is the largest CONNECT taken: a client id, a user
	// name, a secret and a last will fit in a few KiB.
	MaxConnectBytes = 16 << 10
	// MaxPending is how many connections may wait to log in at once, and
	// MaxPendingPerAddress how many of them may come from one address (a
	// district office's rooms behind one NAT reconnecting together fit).
	MaxPending           = 1024
	MaxPendingPerAddress = 64
)

// Refusals before login, beside the authentication hook's.
const (
	RefusedConnectTimeout = "connect_timeout"   // no CONNECT within ConnectTimeout
	RefusedConnectSize    = "connect_too_large" // a CONNECT announcing more than MaxConnectBytes
	RefusedPending        = "pending_limit"     // MaxPending connections already waiting to log in
	RefusedAddress        = "address_limit"     // MaxPendingPerAddress of them from this address
)

var errConnectTooLarge = errors.New("the first packet announces more than a CONNECT needs")

// gate counts the connections that have not logged in yet and refuses
// past its bounds. It is shared by the broker's listeners.
type gate struct {
	timeout time.Duration // for CONNECT: ConnectTimeout unless a test says
	refused *prometheus.CounterVec
	log     *slog.Logger
	logs    *rateLimit

	mu      sync.Mutex
	pending int
	perAddr map[netip.Addr]int
}

func newGate(timeout time.Duration, refused *prometheus.CounterVec, log *slog.Logger) *gate {
	if timeout <= 0 {
		timeout = ConnectTimeout
	}
	for _, r := range []string{RefusedConnectTimeout, RefusedConnectSize, RefusedPending, RefusedAddress} {
		refused.WithLabelValues(r)
	}
	return &gate{timeout: timeout, refused: refused, log: log, logs: newRateLimit(10 * time.Second), perAddr: map[netip.Addr]int{}}
}

// admit takes a new connection as pending, or refuses it (and says why).
func (g *gate) admit(c net.Conn) (*gatedConn, string) {
	ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	addr := ap.Addr().Unmap()
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.pending >= MaxPending:
		return nil, RefusedPending
	case g.perAddr[addr] >= MaxPendingPerAddress:
		return nil, RefusedAddress
	}
	g.pending++
	g.perAddr[addr]++
	return &gatedConn{Conn: c, g: g, addr: addr, checking: true}, ""
}

// release ends a connection's wait: it logged in, or it is gone.
func (g *gate) release(addr netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending--
	if g.perAddr[addr]--; g.perAddr[addr] <= 0 {
		delete(g.perAddr, addr)
	}
}

func (g *gate) refuse(reason, remote string) {
	g.refused.WithLabelValues(reason).Inc()
	if g.logs.allow(reason) {
		g.log.Warn("refused an MQTT connection before login", "reason", reason, "remote", remote)
	}
}

// Pending is how many connections are waiting to log in.
func (g *gate) Pending() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pending
}

// gatedConn is a client's connection until it logs in: it has
// ConnectTimeout to send its CONNECT, which may announce at most
// MaxConnectBytes (read from the stream's first bytes, before the broker
// allocates what the packet announces).
type gatedConn struct {
	net.Conn
	g        *gate
	addr     netip.Addr
	released atomic.Bool

	checking bool   // still reading the first packet's fixed header
	header   []byte // its bytes so far
}

// loggedIn ends the connection's wait (the authentication hook calls it).
func (c *gatedConn) loggedIn() {
	if c.released.CompareAndSwap(false, true) {
		c.g.release(c.addr)
	}
}

func (c *gatedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.checking && n > 0 {
		if tooLarge := c.inspect(p[:n]); tooLarge {
			c.g.refuse(RefusedConnectSize, c.RemoteAddr().String())
			return 0, errConnectTooLarge
		}
	}
	var ne net.Error
	if err != nil && !c.released.Load() && errors.As(err, &ne) && ne.Timeout() {
		c.g.refuse(RefusedConnectTimeout, c.RemoteAddr().String())
	}
	return n, err
}

// inspect reads the first packet's fixed header (a type byte, then the
// remaining length in 1 to 4 bytes of 7 bits) and reports whether it
// announces more than a CONNECT needs.
func (c *gatedConn) inspect(b []byte) bool {
	for _, x := range b {
		c.header = append(c.header, x)
		if len(c.header) == 1 {
			continue
		}
		if x&0x80 != 0 && len(c.header) < 5 {
			continue
		}
		c.checking = false
		length, mult := 0, 1
		for _, y := range c.header[1:] {
			length += int(y&0x7f) * mult
			mult *= 128
		}
		return length > MaxConnectBytes || x&0x80 != 0
	}
	return false
}

func (c *gatedConn) Close() error {
	c.loggedIn() // no longer waiting, either way
	return c.Conn.Close()
}

// ConnectionState is the TLS state of a connection on the TLS listener
// (zero on the plain one), for the client-certificate login.
func (c *gatedConn) ConnectionState() (tls.ConnectionState, bool) {
	if tc, ok := c.Conn.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// gatedListener is mochi's TCP listener with the gate in front: each new
// connection is admitted as pending (or closed at once), given
// ConnectTimeout to send its CONNECT, and, on the TLS listener, wrapped in
// TLS beneath the gate, so that the gate reads MQTT, not ciphertext.
type gatedListener struct {
	id, address string
	tls         *tls.Config
	gate        *gate
	listen      net.Listener
	log         *slog.Logger
	end         atomic.Bool
	// server disconnects this listener's clients on Close. mochi's own
	// closeListenerClients (the CloseFn it hands to Close) takes its clients'
	// read lock twice, and deadlocks when a client connects or leaves between
	// the two (mochi-mqtt/server#488, not fixed in v2.7.9): it hung a CI run
	// for 14 minutes at shutdown.
	server *mqtt.Server
}

func (l *gatedListener) ID() string       { return l.id }
func (l *gatedListener) Protocol() string { return "tcp" }

func (l *gatedListener) Address() string {
	if l.listen != nil {
		return l.listen.Addr().String()
	}
	return l.address
}

func (l *gatedListener) Init(log *slog.Logger) error {
	l.log = log
	var err error
	l.listen, err = net.Listen("tcp", l.address)
	return err
}

func (l *gatedListener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := l.listen.Accept()
		if err != nil || l.end.Load() {
			if conn != nil {
				conn.Close()
			}
			return
		}
		c := conn
		if l.tls != nil {
			c = tls.Server(conn, l.tls)
		}
		gc, reason := l.gate.admit(c)
		if gc == nil {
			l.gate.refuse(reason, conn.RemoteAddr().String())
			conn.Close()
			continue
		}
		_ = gc.SetDeadline(time.Now().Add(l.gate.timeout)) // the broker sets the keepalive's after CONNECT
		go func() {
			if err := establish(l.id, gc); err != nil && l.log != nil {
				l.log.Debug("connection ended", "listener", l.id, "error", err)
			}
		}()
	}
}

// Close stops accepting and disconnects the listener's clients itself; it
// never calls mochi's CloseFn (see server).
func (l *gatedListener) Close(listeners.CloseFn) {
	if !l.end.CompareAndSwap(false, true) {
		return
	}
	if l.listen != nil {
		l.listen.Close()
	}
	for _, cl := range l.server.Clients.GetAll() { // one read lock, see server
		if cl.Net.Listener == l.id && !cl.Closed() {
			_ = l.server.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}
