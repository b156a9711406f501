package broker

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func startGated(t *testing.T, timeout time.Duration) (*Broker, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	b, err := Start(Options{Listen: "127.0.0.1:0", Registerer: reg, ConnectTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, reg
}

// closedWithin reports whether the server closes c within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return err == nil || !(errors.As(err, &ne) && ne.Timeout())
}

func refused(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "siaprapat_broker_connections_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestGate_AnOversizedConnectIsCutBeforeItCostsMemory: 200 connections
// that announce a 1 MiB CONNECT and send half of it are closed at once,
// holding nothing.
func TestGate_AnOversizedConnectIsCutBeforeItCostsMemory(t *testing.T) {
	b, reg := startGated(t, 10*time.Second)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var conns []net.Conn
	for range 200 {
		c, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		// CONNECT, remaining length 1 MiB (0x80 0x80 0x40), then half of it.
		c.Write(append([]byte{0x10, 0x80, 0x80, 0x40}, bytes.Repeat([]byte{'x'}, 512<<10)...))
	}
	for i, c := range conns {
		if !closedWithin(c, 2*time.Second) {
			t.Fatalf("connection %d still open 2 s after an oversized CONNECT", i)
		}
		c.Close()
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("200 oversized CONNECTs: heap in use %+d KiB, refused %v", grew>>10, refused(t, reg, RefusedConnectSize))
	if n := refused(t, reg, RefusedConnectSize); n != 200 {
		t.Errorf("connect_too_large = %v, want 200", n)
	}
	if grew > 32<<20 {
		t.Errorf("heap grew by %d MiB", grew>>20)
	}
}

// TestGate_SilentConnectionsAreBoundedAndTimedOut: from one address at
// most MaxPendingPerAddress connections may wait to log in, and they are
// closed when ConnectTimeout passes without a CONNECT.
func TestGate_SilentConnectionsAreBoundedAndTimedOut(t *testing.T) {
	b, reg := startGated(t, 500*time.Millisecond)
	var conns []net.Conn
	for range MaxPendingPerAddress + 6 {
		c, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	time.Sleep(100 * time.Millisecond)
	if n := refused(t, reg, RefusedAddress); n != 6 {
		t.Errorf("address_limit = %v, want 6", n)
	}
	if p := b.gate.Pending(); p != MaxPendingPerAddress {
		t.Errorf("%d pending, want %d", p, MaxPendingPerAddress)
	}
	for i, c := range conns {
		if !closedWithin(c, 3*time.Second) {
			t.Fatalf("silent connection %d still open 3 s after a 500 ms CONNECT deadline", i)
		}
		c.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for b.gate.Pending() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p := b.gate.Pending(); p != 0 {
		t.Errorf("%d still pending after every connection closed", p)
	}
	if n := refused(t, reg, RefusedConnectTimeout); n != MaxPendingPerAddress {
		t.Errorf("connect_timeout = %v, want %d", n, MaxPendingPerAddress)
	}
}
