//go:build linux

// Package netns is for tests: it creates Linux network namespaces joined by
// veth pairs, runs programs in them (ip netns exec) and opens sockets in
// them from the test process itself, so a server and a client under test
// talk over a link the test shapes with tc. Namespaces are named uniquely
// per test run and deleted when the test ends, failed or not; ones left by a
// killed run are deleted by the next.
//
// It needs root and iproute2: without root it skips outside CI and fails
// in CI, like testenv.Command.
package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/siaprapat/siaprapat/internal/testenv"
)

// prefix starts every namespace this package creates; the creating
// process's pid follows it, so stale ones can be recognised.
const prefix = "spnt-"

const runDir = "/run/netns"

var seq atomic.Uint64

// NS is a network namespace created for a test.
type NS struct {
	Name string
	ip   string // path of the ip program
}

// Require skips (outside CI) or fails (in CI) a test that cannot create
// namespaces, and returns the path of ip.
func Require(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		msg := "network namespace tests need root (they create namespaces, veth pairs and tc qdiscs)"
		if testenv.InCI() {
			t.Fatal(msg + ": this integration test must run in CI")
		}
		t.Skip(msg + ": skipping outside CI")
	}
	return testenv.Command(t, "ip", "iproute2")
}

// New creates a namespace with its loopback up, deleted when the test ends.
func New(t testing.TB) *NS {
	t.Helper()
	ip := Require(t)
	removeStale(ip)
	ns := &NS{Name: fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), seq.Add(1)), ip: ip}
	if out, err := exec.Command(ip, "netns", "add", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", ns.Name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(ip, "netns", "del", ns.Name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns.Name, err, out)
		}
	})
	ns.IP(t, "link", "set", "lo", "up")
	return ns
}

// removeStale deletes namespaces left by test processes that no longer run.
func removeStale(ip string) {
	entries, err := os.ReadDir(runDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); errors.Is(err, os.ErrNotExist) {
			_ = exec.Command(ip, "netns", "del", e.Name()).Run()
		}
	}
}

// IP runs "ip -n NAME args..." and fails the test when it fails.
func (ns *NS) IP(t testing.TB, args ...string) {
	t.Helper()
	full := append([]string{"-n", ns.Name}, args...)
	if out, err := exec.Command(ns.ip, full...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(full, " "), err, out)
	}
}

// Run runs a program inside the namespace and fails the test when it fails.
func (ns *NS) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := ns.Command(context.Background(), name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %s %s: %v: %s", ns.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Command prepares a program to run inside the namespace (ip netns exec).
func (ns *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, ns.ip, append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Do runs fn on an OS thread that has joined the namespace; sockets fn
// opens belong to the namespace for their whole life, whichever thread
// uses them later. The thread is discarded afterwards, never reused.
func (ns *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the runtime ends the thread with the goroutine,
		// so no other goroutine ever runs in the namespace.
		runtime.LockOSThread()
		fd, err := unix.Open(runDir+"/"+ns.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open namespace %s: %w", ns.Name, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("join namespace %s: %w", ns.Name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Listen opens a listener inside the namespace.
func (ns *NS) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := ns.Do(func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// DialContext connects from inside the namespace; it fits netcheck.Config.Dial.
func (ns *NS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Link joins two namespaces with a veth pair: interface aIf with address
// aAddr (CIDR) in a, bIf with bAddr in b, both up.
func Link(t testing.TB, a *NS, aIf, aAddr string, b *NS, bIf, bAddr string) {
	t.Helper()
	if out, err := exec.Command(a.ip, "link", "add", aIf, "netns", a.Name, "type", "veth", "peer", "name", bIf, "netns", b.Name).CombinedOutput(); err != nil {
		t.Fatalf("create veth %s-%s: %v: %s", aIf, bIf, err, out)
	}
	a.IP(t, "addr", "add", aAddr, "dev", aIf)
	b.IP(t, "addr", "add", bAddr, "dev", bIf)
	a.IP(t, "link", "set", aIf, "up")
	b.IP(t, "link", "set", bIf, "up")
}
