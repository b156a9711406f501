package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// Sites the simulated rooms are spread over.
const sites = 30

// generator is the load: simulated rooms (fleetsim, the same reports the
// simulator and real agents send) over MQTT connections, each carrying
// one room (with its own client id and last will, as an agent) or, past
// what the open-file limit allows, several.
type generator struct {
	broker       string
	rooms        []*simRoom
	byName       map[string]*simRoom
	conns        []mqtt.Client
	roomsPerConn int

	// Acknowledgements of stored reports, heard by each room as an agent
	// hears them (one connection for all would overflow its outbound queue
	// in the embedded broker, 64 messages for a TCP client).
	ackMu    sync.Mutex
	waiting  map[string]bool // report ids not yet acknowledged
	acked    atomic.Int64
	lastAck  atomic.Int64 // unix nanoseconds
	allAcked chan struct{}

	// Commands and the results sent back.
	checkDuration time.Duration
	cmdMu         sync.Mutex
	commands      []commandSeen
}

type simRoom struct {
	*fleetsim.Room
	conn mqtt.Client
}

// commandSeen is one check command a simulated room got, and its answer.
type commandSeen struct {
	id       string
	issued   time.Time // by the controller's clock: deadline less timeout
	received time.Time
	answered time.Time // result acknowledged by the broker; zero if it failed
}

func newGenerator(broker string, n, roomsPerConn int, std *standard.Standard) *generator {
	g := &generator{broker: broker, byName: map[string]*simRoom{}, roomsPerConn: roomsPerConn}
	for i := range n {
		r := &simRoom{Room: fleetsim.NewRoom(i, min(sites, n), 11, std, "bench")}
		g.rooms = append(g.rooms, r)
		g.byName[r.Site+"/"+r.Room.Room] = r
	}
	return g
}

func clientOptions(broker, id string) *mqtt.ClientOptions {
	return mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetKeepAlive(2 * time.Minute).SetConnectTimeout(60 * time.Second).SetWriteTimeout(60 * time.Second).
		SetOrderMatters(false).SetStore(mqtt.NewMemoryStore())
}

// connect opens every connection, 64 at a time. With controller set, each
// subscribes to its rooms' ack and cmd topics, counts acknowledgements
// and answers checks after checkDuration. Every room says "online"
// (retained), as an agent does.
func (g *generator) connect(ctx context.Context, controller bool, checkDuration time.Duration) error {
	g.checkDuration = checkDuration
	k := g.roomsPerConn
	n := (len(g.rooms) + k - 1) / k
	g.conns = make([]mqtt.Client, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var firstErr error
	var errMu sync.Mutex
	for c := range n {
		rooms := g.rooms[c*k : min((c+1)*k, len(g.rooms))]
		sem <- struct{}{}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := g.connectOne(c, rooms, controller); err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func (g *generator) connectOne(c int, rooms []*simRoom, controller bool) error {
	id := fmt.Sprintf("siaprapat-bench-%d", c)
	if len(rooms) == 1 {
		id = wire.AgentClientID(rooms[0].Site, rooms[0].Room.Room)
	}
	opts := clientOptions(g.broker, id)
	if len(rooms) == 1 {
		opts.SetWill(wire.Topic(rooms[0].Site, rooms[0].Room.Room, wire.KindStatus), wire.StatusOffline, 1, true)
	}
	cl := mqtt.NewClient(opts)
	if err := wait(cl.Connect(), "connect "+id); err != nil {
		return err
	}
	g.conns[c] = cl
	if controller {
		filters := map[string]byte{}
		for _, r := range rooms {
			filters[wire.Topic(r.Site, r.Room.Room, wire.KindCmd)] = 1
			filters[wire.Topic(r.Site, r.Room.Room, wire.KindAck)] = 1
		}
		handle := func(cl mqtt.Client, m mqtt.Message) {
			if strings.HasSuffix(m.Topic(), "/"+wire.KindAck) {
				g.onAck(cl, m)
			} else {
				g.onCommand(cl, m)
			}
		}
		if err := wait(cl.SubscribeMultiple(filters, handle), "subscribe "+id); err != nil {
			return err
		}
	}
	for _, r := range rooms {
		r.conn = cl
		if err := wait(cl.Publish(wire.Topic(r.Site, r.Room.Room, wire.KindStatus), 1, true, wire.StatusOnline), "online"); err != nil {
			return err
		}
	}
	return nil
}

func wait(t mqtt.Token, what string) error {
	if !t.WaitTimeout(2 * time.Minute) {
		return fmt.Errorf("%s: no answer within 2 minutes", what)
	}
	if err := t.Error(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// close disconnects everything, saying nothing (the retained statuses
// are cleared by the next run's fresh broker).
func (g *generator) close() {
	var wg sync.WaitGroup
	for _, cl := range g.conns {
		if cl == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl.Disconnect(0)
		}()
	}
	wg.Wait()
}

func (g *generator) onAck(_ mqtt.Client, m mqtt.Message) {
	a, err := wire.DecodeAck(m.Payload())
	if err != nil {
		return
	}
	g.ackMu.Lock()
	defer g.ackMu.Unlock()
	for _, id := range a.IDs {
		if g.waiting[id] {
			delete(g.waiting, id)
			g.lastAck.Store(time.Now().UnixNano())
			if g.acked.Add(1) > 0 && len(g.waiting) == 0 && g.allAcked != nil {
				close(g.allAcked)
				g.allAcked = nil
			}
		}
	}
}

// payload is one report ready to send.
type payload struct {
	room *simRoom
	id   string
	data []byte
}

// buildBurst encodes m reports, round robin over the rooms, each with its
// own id and a later measured_at than the room's one before.
func (g *generator) buildBurst(ctx context.Context, m int) ([]payload, error) {
	out := make([]payload, m)
	base := time.Now().UTC().Add(-time.Duration(m/len(g.rooms)+1) * time.Second)
	for j := range out {
		r := g.rooms[j%len(g.rooms)]
		rep := r.Run(ctx)
		rep.MeasuredAt = base.Add(time.Duration(j/len(g.rooms)) * time.Second).Truncate(time.Millisecond)
		data, err := rep.Encode()
		if err != nil {
			return nil, err
		}
		out[j] = payload{room: r, id: rep.ID, data: data}
	}
	return out, nil
}

// expectAcks makes the ack observer wait for these reports.
func (g *generator) expectAcks(ps []payload) <-chan struct{} {
	g.ackMu.Lock()
	defer g.ackMu.Unlock()
	g.waiting = make(map[string]bool, len(ps))
	for _, p := range ps {
		g.waiting[p.id] = true
	}
	g.acked.Store(0)
	ch := make(chan struct{})
	g.allAcked = ch
	return ch
}

// publishAll sends the reports at QoS 1 as fast as the broker takes them,
// workers at a time, and returns when the broker has acknowledged the
// last (or failed it). With window above 0, at most that many reports are
// out that the controller has not acknowledged as stored, so the burst
// measures storing reports rather than the brokers' queues growing (the
// embedded broker used to drop what passed 8,192 queued for the
// controller; it now hands reports to it inline and holds back).
func (g *generator) publishAll(ctx context.Context, ps []payload, workers, window int) (failed int64) {
	var next atomic.Int64
	var fails atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				j := next.Add(1) - 1
				if j >= int64(len(ps)) {
					return
				}
				for window > 0 && j-g.acked.Load() >= int64(window) && ctx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
				p := ps[j]
				if wait(p.room.conn.Publish(wire.Topic(p.room.Site, p.room.Room.Room, wire.KindReport), 1, false, p.data), "publish") != nil {
					fails.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return fails.Load()
}

// steady has every room report once an interval, at its own phase, as a
// fleet of agents does, until ctx ends. It returns the count of reports
// sent and failed so far, and stops when ctx ends.
func (g *generator) steady(ctx context.Context, interval time.Duration) (sent, failed *atomic.Int64) {
	sent, failed = &atomic.Int64{}, &atomic.Int64{}
	for i, r := range g.rooms {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(i), 99))
			t := time.NewTimer(time.Duration(rng.Int64N(int64(interval))))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if err := g.publishReport(ctx, r); err != nil {
					failed.Add(1)
				} else {
					sent.Add(1)
				}
				t.Reset(interval)
			}
		}()
	}
	return sent, failed
}

// publishReport runs a room's checks and publishes the report, returning
// once the broker has it; it returns the report's measured_at.
func (g *generator) publishReport(ctx context.Context, r *simRoom) error {
	_, err := g.publishReportAt(ctx, r)
	return err
}

func (g *generator) publishReportAt(ctx context.Context, r *simRoom) (time.Time, error) {
	rep := r.Run(ctx)
	data, err := rep.Encode()
	if err != nil {
		return time.Time{}, err
	}
	return rep.MeasuredAt, wait(r.conn.Publish(wire.Topic(r.Site, r.Room.Room, wire.KindReport), 1, false, data), "publish")
}

// onCommand answers a check command after the check's duration with a
// fresh report, as an agent would.
func (g *generator) onCommand(_ mqtt.Client, m mqtt.Message) {
	received := time.Now()
	site, room, _, ok := wire.ParseTopic(m.Topic())
	r := g.byName[site+"/"+room]
	cmd, err := wire.DecodeCommand(m.Payload())
	if !ok || r == nil || err != nil {
		return
	}
	issued := cmd.Deadline.Add(-time.Duration(cmd.TimeoutSeconds * float64(time.Second)))
	g.cmdMu.Lock()
	idx := len(g.commands)
	g.commands = append(g.commands, commandSeen{id: cmd.ID, issued: issued, received: received})
	g.cmdMu.Unlock()
	time.AfterFunc(g.checkDuration, func() {
		res := &wire.Result{Schema: wire.ResultSchema, CommandID: cmd.ID, Report: r.Run(context.Background())}
		data, err := res.Encode()
		if err != nil {
			return
		}
		if wait(r.conn.Publish(wire.Topic(r.Site, r.Room.Room, wire.KindResult), 1, false, data), "result") != nil {
			return
		}
		g.cmdMu.Lock()
		g.commands[idx].answered = time.Now()
		g.cmdMu.Unlock()
	})
}

// seenCommands returns a copy of the commands seen so far.
func (g *generator) seenCommands() []commandSeen {
	g.cmdMu.Lock()
	defer g.cmdMu.Unlock()
	return append([]commandSeen(nil), g.commands...)
}
