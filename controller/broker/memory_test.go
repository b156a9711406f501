package broker

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/siaprapat/siaprapat/controller/ingest"
	"github.com/siaprapat/siaprapat/wire"
)

// rawAgent is one room's MQTT session as agent/link opens it (MQTT 3.1.1,
// clean session, keepalive 30 s, a retained QoS 1 last will "offline" on
// the room's status topic, QoS 1 subscriptions to its cmd, ack and schedule
// topics, then a retained QoS 1 "online"), written as raw packets on a bare
// TCP connection: no client library, no goroutine, so that what the
// process holds per connection is the broker's (and one socket's).
type rawAgent struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialAgent(addr, site, room string, keepalive uint16) (*rawAgent, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	a := &rawAgent{conn: conn, r: bufio.NewReaderSize(conn, 64)}
	status := wire.Topic(site, room, wire.KindStatus)
	var buf bytes.Buffer
	pks := []packets.Packet{
		{
			FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
			Connect: packets.ConnectParams{
				ProtocolName: []byte("MQTT"), ClientIdentifier: wire.AgentClientID(site, room), Keepalive: keepalive, Clean: true,
				WillFlag: true, WillTopic: status, WillPayload: []byte(wire.StatusOffline), WillQos: 1, WillRetain: true,
			},
		},
		{
			FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 4, PacketID: 1,
			Filters: packets.Subscriptions{
				{Filter: wire.Topic(site, room, wire.KindCmd), Qos: 1},
				{Filter: wire.Topic(site, room, wire.KindAck), Qos: 1},
				{Filter: wire.Topic(site, room, wire.KindSchedule), Qos: 1},
			},
		},
		{
			FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1, Retain: true}, ProtocolVersion: 4, PacketID: 2,
			TopicName: status, Payload: []byte(wire.StatusOnline),
		},
	}
	encode := []func(*packets.Packet, *bytes.Buffer) error{(*packets.Packet).ConnectEncode, (*packets.Packet).SubscribeEncode, (*packets.Packet).PublishEncode}
	for i := range pks {
		if err := encode[i](&pks[i], &buf); err != nil {
			conn.Close()
			return nil, err
		}
	}
	if _, err := conn.Write(buf.Bytes()); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []byte{packets.Connack, packets.Suback, packets.Puback} {
		typ, body, err := a.read()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("%s: waiting for %s: %w", room, packets.PacketNames[want], err)
		}
		if typ != want || (typ == packets.Connack && body[1] != 0) {
			conn.Close()
			return nil, fmt.Errorf("%s: got %s % x, want %s", room, packets.PacketNames[typ], body, packets.PacketNames[want])
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	return a, nil
}

// read reads one packet: its type and its body.
func (a *rawAgent) read() (byte, []byte, error) {
	h, err := a.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		x, err := a.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(x&0x7f) * mult
		mult *= 128
		if x&0x80 == 0 {
			break
		}
		if i == 3 {
			return 0, nil, fmt.Errorf("malformed remaining length")
		}
	}
	body := make([]byte, n)
	_, err = io.ReadFull(a.r, body)
	return h >> 4, body, err
}

// connectAgents connects n rooms, a few at a time (the gate lets 64
// connections from one address wait to log in at once).
func connectAgents(addr string, n int) ([]*rawAgent, error) {
	agents := make([]*rawAgent, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				a, err := dialAgent(addr, fmt.Sprintf("site%d", i%50), fmt.Sprintf("room%d", i), 30)
				if err != nil {
					errs <- err
					continue
				}
				agents[i] = a
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return agents, <-errs
}

func closeAgents(agents []*rawAgent) {
	for _, a := range agents {
		if a != nil {
			a.conn.Close()
		}
	}
}

var heapProfile = flag.String("broker-heap-profile", "", "BenchmarkBroker_Memory writes a heap profile here while the rooms are connected")

func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

// memoryNow is the heap in use, the goroutine stacks and the goroutines,
// after a full collection.
func memoryNow() (heap, stack uint64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.StackInuse, runtime.NumGoroutine()
}

// BenchmarkBroker_Memory connects rooms to the embedded broker the way
// agent/link does, with the controller's inline session subscribed as in
// serve, and reports what each connected room costs: heap in use, goroutine
// stacks and goroutines, per connection (the bare client socket's share is
// included: a few hundred bytes). The target is 50 MB for 10,000 rooms,
// 5,000 bytes a room (heap+stack-B/conn).
//
// Where it goes (mochi v2.7.9, heap profile with -broker-heap-profile):
// two goroutines a connection, whose stacks cannot shrink below 16 KiB for
// the reader (parked in Client.Read under attachClient, whose frames alone
// take about 4.5 KiB: the runtime halves a stack only while less than a
// quarter of it is used) and 4 KiB for the writer (WriteLoop's frame is
// 1.8 KiB); then on the heap the topic tree and the client's subscription
// maps (three filters and the retained status: about 5 KiB), the client and
// its queue of clientWritesPending, the read buffer (clientReadBuffer) and
// the retained "online" message. No mochi option moves the stacks.
//
//	go test ./controller/broker -run '^$' -bench BenchmarkBroker_Memory -benchtime 1x -count 5
func BenchmarkBroker_Memory(b *testing.B) {
	const rooms = 2000
	var heap, stack, gor float64
	for b.Loop() {
		br, err := Start(Options{Listen: "127.0.0.1:0"})
		if err != nil {
			b.Fatal(err)
		}
		in := br.Inline(ingest.Filters(nil))
		if err := in.Subscribe(func(string, []byte) {}); err != nil {
			b.Fatal(err)
		}
		h0, s0, g0 := memoryNow()
		agents, err := connectAgents(br.Addr(), rooms)
		if err != nil {
			b.Fatal(err)
		}
		h1, s1, g1 := memoryNow()
		if *heapProfile != "" {
			writeHeapProfile(b, *heapProfile)
		}
		heap += float64(int64(h1-h0)) / rooms
		stack += float64(int64(s1-s0)) / rooms
		gor += float64(g1-g0) / rooms
		if got := br.server.Info.ClientsConnected; got != rooms {
			b.Fatalf("%d clients connected, want %d", got, rooms)
		}
		closeAgents(agents)
		in.Close()
		br.Close()
	}
	n := float64(b.N)
	b.ReportMetric(heap/n, "heap-B/conn")
	b.ReportMetric(stack/n, "stack-B/conn")
	b.ReportMetric((heap+stack)/n, "heap+stack-B/conn")
	b.ReportMetric(gor/n, "goroutines/conn")
	b.ReportMetric((heap+stack)/n*10000/1e6, "MB/10k-rooms")
}

// BenchmarkBroker_MemoryMosquitto is the peer: the same rooms connected the
// same way to Debian's Mosquitto (one process, epoll, no thread or stack a
// connection), reporting its anonymous memory (RssAnon) a connection.
//
//	go test ./controller/broker -run '^$' -bench 'BenchmarkBroker_Memory' -benchtime 1x -count 5
func BenchmarkBroker_MemoryMosquitto(b *testing.B) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		b.Skip("mosquitto is not installed (Debian package mosquitto)")
	}
	const rooms = 2000
	var anon float64
	for b.Loop() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		_, port, _ := net.SplitHostPort(addr)
		conf := filepath.Join(b.TempDir(), "mosquitto.conf")
		if err := os.WriteFile(conf, []byte("listener "+port+" 127.0.0.1\nallow_anonymous true\npersistence false\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, "-c", conf)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for i := 0; ; i++ {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				break
			}
			if i == 100 {
				cmd.Process.Kill()
				b.Fatal("mosquitto does not listen on " + addr)
			}
			time.Sleep(50 * time.Millisecond)
		}
		a0 := rssAnon(b, cmd.Process.Pid)
		agents, err := connectAgents(addr, rooms)
		if err != nil {
			cmd.Process.Kill()
			b.Fatal(err)
		}
		anon += float64(rssAnon(b, cmd.Process.Pid)-a0) / rooms
		closeAgents(agents)
		cmd.Process.Kill()
		cmd.Wait()
	}
	b.ReportMetric(anon/float64(b.N), "anon-B/conn")
	b.ReportMetric(anon/float64(b.N)*10000/1e6, "MB/10k-rooms")
}

// rssAnon is a process's anonymous resident memory in bytes.
func rssAnon(b *testing.B, pid int) int64 {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(s), "\n") {
		if v, ok := strings.CutPrefix(l, "RssAnon:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
			return kb << 10
		}
	}
	b.Fatal("no RssAnon in /proc/" + fmt.Sprint(pid) + "/status")
	return 0
}

// BenchmarkBroker_IdleCPU is what the embedded broker costs while its
// connected rooms say nothing: its own timers (expiry sweeps, $SYS topics)
// and keepalives, as the process's CPU time over 5 s, in percent of a core.
//
//	go test ./controller/broker -run '^$' -bench BenchmarkBroker_IdleCPU -benchtime 1x -count 5
//
// The peer, in the same run: mochi's defaults, every sweep and the $SYS
// topics each second.
func BenchmarkBroker_IdleCPU(b *testing.B) {
	b.Run("as-configured", func(b *testing.B) { idleCPU(b, false) })
	b.Run("mochi-defaults", func(b *testing.B) { idleCPU(b, true) })
}

func idleCPU(b *testing.B, mochiDefaults bool) {
	const rooms = 5000
	var pct float64
	for b.Loop() {
		br, err := Start(Options{Listen: "127.0.0.1:0"})
		if err != nil {
			b.Fatal(err)
		}
		if mochiDefaults {
			for _, name := range append(slices.Clone(sweeps), "sysTopics") {
				if err := resetTicker(br.server, name, time.Second); err != nil {
					b.Fatal(err)
				}
			}
		}
		in := br.Inline(ingest.Filters(nil))
		if err := in.Subscribe(func(string, []byte) {}); err != nil {
			b.Fatal(err)
		}
		agents, err := connectAgents(br.Addr(), rooms)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		time.Sleep(time.Second)
		c0, t0 := cpuTime(b), time.Now()
		time.Sleep(5 * time.Second)
		pct += float64(cpuTime(b)-c0) / float64(time.Since(t0)) * 100
		closeAgents(agents)
		in.Close()
		br.Close()
	}
	b.ReportMetric(pct/float64(b.N), "cpu-%")
}

// cpuTime is the process's user and system time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
