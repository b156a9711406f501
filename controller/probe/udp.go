package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Layout of an echo packet; see the package documentation.
const (
	Magic     = "SPE1"
	HeaderLen = 40
	// MaxPacketLen is the largest packet echoed: a full Ethernet frame's UDP payload.
	MaxPacketLen = 1472

	offID       = 4
	offRecvTime = 32
)

// ListenUDP binds the UDP echo to addr (host:port); Serve then answers on it.
func (s *Server) ListenUDP(addr string) error {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return fmt.Errorf("probe: resolve UDP address %s: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return fmt.Errorf("probe: listen UDP %s: %w", addr, err)
	}
	s.udpMu.Lock()
	defer s.udpMu.Unlock()
	if s.udp != nil || s.closed.Load() {
		conn.Close()
		return errors.New("probe: UDP echo already bound or closed")
	}
	s.udp = conn
	return nil
}

// UDPAddr is the address the UDP echo is bound to, nil before ListenUDP.
func (s *Server) UDPAddr() *net.UDPAddr {
	s.udpMu.Lock()
	defer s.udpMu.Unlock()
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr().(*net.UDPAddr)
}

// udpPort is the port announced to clients.
func (s *Server) udpPort() int {
	if s.cfg.UDPPort != 0 {
		return s.cfg.UDPPort
	}
	if a := s.UDPAddr(); a != nil {
		return a.Port
	}
	return 0
}

// Serve echoes UDP packets until ctx ends or Close is called; it returns
// nil then. ListenUDP must have been called.
func (s *Server) Serve(ctx context.Context) error {
	s.udpMu.Lock()
	conn := s.udp
	s.udpMu.Unlock()
	if conn == nil {
		return errors.New("probe: Serve before ListenUDP")
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	buf := make([]byte, MaxPacketLen+1)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.closed.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("probe: read UDP: %w", err)
		}
		if !s.echo(buf[:n], from.Addr().Unmap(), time.Now()) {
			continue
		}
		if _, err := conn.WriteToUDPAddrPort(buf[:n], from); err == nil {
			s.udpEchoed.Add(1)
			s.udpBytes.Add(uint64(n))
		}
	}
}

// echo validates a packet from addr and stamps it for its reply; false
// drops it. A session's packets are answered only when they come from the
// address that opened it: a reply never goes to a spoofed source.
func (s *Server) echo(p []byte, from netip.Addr, now time.Time) bool {
	if len(p) < HeaderLen || len(p) > MaxPacketLen || string(p[:len(Magic)]) != Magic {
		s.udpBad.Add(1)
		return false
	}
	var id [16]byte
	copy(id[:], p[offID:offID+16])
	sess := s.lookup(id, now)
	if sess == nil {
		s.udpBad.Add(1)
		return false
	}
	if sess.addr.IsValid() && sess.addr != from {
		s.udpForeign.Add(1)
		return false
	}
	if !sess.allowUDP(now, s.cfg.UDPPacketsPerSecond) {
		s.udpLimited.Add(1)
		return false
	}
	binary.BigEndian.PutUint64(p[offRecvTime:], uint64(now.Sub(s.start)))
	return true
}

// Close stops the UDP echo and ends every session. The HTTP handler keeps
// answering (the controller's HTTP server owns its connections).
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.udpMu.Lock()
		if s.udp != nil {
			err = s.udp.Close()
		}
		s.udpMu.Unlock()
		s.mu.Lock()
		for id, sess := range s.sessions {
			sess.end()
			delete(s.sessions, id)
		}
		s.mu.Unlock()
	})
	return err
}
