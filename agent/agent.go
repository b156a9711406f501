// Package agent runs the agent daemon: checks on an interval, reports over
// MQTT, and reports the broker could not take kept in a spool until it can.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/siaprapat/siaprapat/agent/audio"
	"github.com/siaprapat/siaprapat/agent/camera"
	"github.com/siaprapat/siaprapat/agent/host"
	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/netcheck"
	"github.com/siaprapat/siaprapat/agent/peripherals"
	"github.com/siaprapat/siaprapat/agent/quiet"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/agent/spool"
	"github.com/siaprapat/siaprapat/wire"
)

// DefaultInterval is how often the daemon checks the room.
const DefaultInterval = 60 * time.Second

// Hardware says where the checks find the room's hardware; zero values mean
// the real machine and the embedded data.
type Hardware struct {
	Sysfs    string                // sysfs root for the peripherals check ("/sys")
	Profiles *peripherals.Profiles // hardware profiles; nil means the embedded ones
	Camera   camera.Config         // the cameras, or a recorded clip
	Audio    audio.Config          // the microphone and speaker, or a recorded WAV
	Network  netcheck.Config       // the controller's probe
	// Log receives the checks' own log lines (a loopback played, a network
	// test's bytes, a busy link); nil discards them.
	Log *slog.Logger
	// Clock is the PC's clock against the controller's, which Run measures
	// (Config.Clock) and the host check reports; nil: not reported.
	Clock *host.ClockOffset
	// SpoolRepairs counts the damaged spools moved aside at the start
	// (run --repair); the host check reports it. Nil: not reported.
	SpoolRepairs *atomic.Int64
	// NetworkEvery spaces the network tests out (each moves tens of
	// megabytes over the room's link); in between the last figures are
	// reported again. Zero tests at every check; commands always test.
	NetworkEvery time.Duration
}

// DefaultNetworkEvery is how often the daemon tests the link by default.
const DefaultNetworkEvery = 30 * time.Minute

// Checks is the one list of the agent's checks, in the order they run. The
// runner owns their lives: one run at a time, and the last results repeated
// while a meeting or a busy device keeps a check from measuring.
func Checks(hw Hardware) ([]runner.Check, error) {
	if hw.Camera.Sysfs == "" {
		hw.Camera.Sysfs = hw.Sysfs
	}
	if hw.Log != nil {
		hw.Camera.Log, hw.Audio.Log, hw.Network.Log = hw.Log, hw.Log, hw.Log
	}
	cam, err := camera.New(hw.Camera)
	if err != nil {
		return nil, err
	}
	mic, err := audio.New(hw.Audio)
	if err != nil {
		return nil, err
	}
	nc, err := netcheck.New(hw.Network)
	if err != nil {
		return nil, err
	}
	network := runner.Every(nc, hw.NetworkEvery)
	return []runner.Check{
		&host.Check{Source: &host.System{}, Clock: hw.Clock, SpoolRepairs: hw.SpoolRepairs},
		&peripherals.Check{Sysfs: hw.Sysfs, Profiles: hw.Profiles},
		cam,
		mic,
		network,
	}, nil
}

// Gate is the agent's quiet gate: the room's schedule (nil: none known)
// with a margin around each meeting, then the platform's detectors of a
// meeting app holding the microphone, speaker or camera.
func Gate(sched *quiet.Schedule, margin time.Duration, log *slog.Logger) *quiet.Gate {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &quiet.Gate{Schedule: sched, Margin: margin, Log: log, InUseFor: 3 * time.Second, InUse: []quiet.Detector{
		{Device: "microphone or speaker", InUse: audio.DefaultInUse(log.With("check", wire.CheckAudio))},
		{Device: "camera", InUse: camera.DefaultInUse(log.With("check", wire.CheckCamera))},
	}}
}

// Config configures the daemon.
type Config struct {
	Link     link.Options
	Interval time.Duration
	Runner   *runner.Runner // Site, Room and Checks already set
	// DataDir holds the spool of reports waiting for the broker; empty
	// means no spool: a report the broker cannot take is dropped (and logged).
	DataDir string
	Spool   spool.Limits
	// Schedule, when set, takes the room's schedule from the controller
	// (the runner's quiet gate reads it).
	Schedule *quiet.Schedule
	// Clock, when set, is measured from the time on the controller's
	// acknowledgements (Hardware.Clock: the host check reports it).
	Clock *host.ClockOffset
	Log   *slog.Logger
}

// Run checks the room every interval and publishes each report, until the
// context ends; then it says goodbye to the broker. A broker outage is
// logged and waited out, never fatal; with a DataDir, the reports made
// meanwhile are sent, oldest first, once the broker is back.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Interval <= 0 {
		return fmt.Errorf("--interval %v: must be positive", cfg.Interval)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var sp *spool.Spool
	if cfg.DataDir != "" {
		var err error
		if sp, err = spool.Open(cfg.DataDir, cfg.Spool); err != nil {
			return err
		}
		defer sp.Close()
		if n, size := sp.Len(); n > 0 {
			log.Info("reports waiting in the spool", "reports", n, "bytes", size)
		}
	} else {
		log.Warn("no --data directory: reports the broker cannot take will be dropped")
	}

	reconnected := make(chan struct{}, 1)
	type received struct {
		payload []byte
		at      time.Time
	}
	commands := make(chan received, 8)
	cfg.Link.OnCommand = func(payload []byte) {
		select {
		case commands <- received{payload, time.Now()}:
		default:
			log.Warn("dropped a command: too many waiting")
		}
	}
	// Acknowledgements arrive on paho's goroutine and must not block it;
	// they gather here (none dropped, even while a long drain holds the
	// spool) for the goroutine that removes them from the spool.
	var (
		ackMu   sync.Mutex
		ackIDs  []string
		ackWake = make(chan struct{}, 1)
	)
	if sp != nil || cfg.Clock != nil {
		cfg.Link.OnAck = func(payload []byte) {
			received := time.Now()
			a, err := wire.DecodeAck(payload)
			if err != nil {
				log.Warn("ignored an acknowledgement", "err", err)
				return
			}
			cfg.Clock.Observe(a.At, received)
			if sp == nil {
				return
			}
			ackMu.Lock()
			ackIDs = append(ackIDs, a.IDs...)
			ackMu.Unlock()
			select {
			case ackWake <- struct{}{}:
			default:
			}
		}
	}
	if cfg.Schedule != nil {
		cfg.Link.OnSchedule = func(payload []byte) {
			if err := cfg.Schedule.Update(payload); err != nil {
				log.Warn("ignored a schedule message", "err", err)
			}
		}
	}
	cfg.Link.Log = log
	cfg.Link.OnConnect = func() {
		select {
		case reconnected <- struct{}{}:
		default:
		}
	}
	l, err := link.Connect(cfg.Link)
	if err != nil {
		return err
	}
	defer l.Close()

	// Commands are answered by their own goroutine, in the order they came,
	// beside the periodic checks and the spool; Run waits for it before it
	// closes the link.
	var answerer sync.WaitGroup
	answerer.Add(1)
	go func() {
		defer answerer.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case c := <-commands:
				answer(ctx, cfg.Runner, l, c.payload, c.at, log)
			}
		}
	}()
	defer answerer.Wait()
	if sp != nil {
		answerer.Add(1)
		go func() {
			defer answerer.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case <-ackWake:
					ackMu.Lock()
					ids := ackIDs
					ackIDs = nil
					ackMu.Unlock()
					if n, err := sp.Ack(ids); err != nil {
						log.Error("could not remove acknowledged reports from the spool", "err", err)
					} else if n > 0 {
						log.Debug("reports acknowledged by the controller", "removed", n)
					}
				}
			}
		}()
	}

	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		rep := cfg.Runner.Run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		payload, err := rep.Encode()
		if err != nil {
			log.Error("could not encode the report", "id", rep.ID, "err", err)
		} else if sp != nil {
			if dropped, err := sp.Put(payload); err != nil {
				log.Error("could not spool the report; sending it directly", "id", rep.ID, "err", err)
				publishDirect(ctx, l, cfg.Interval, payload, rep.ID, log)
			} else if dropped > 0 {
				log.Warn("spool full: dropped the oldest reports", "dropped", dropped, "dropped_since_start", sp.Dropped())
			}
		} else {
			publishDirect(ctx, l, cfg.Interval, payload, rep.ID, log)
		}
		if sp != nil {
			waitConnected(ctx, l, cfg.Interval)
			drain(ctx, sp, l, cfg.Interval, log)
		}
		log.Info("room checked", "id", rep.ID, "verdict", rep.Verdict, "checks", len(rep.Checks))
		for wait := true; wait; {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				wait = false
			case <-reconnected:
				if sp != nil {
					drain(ctx, sp, l, cfg.Interval, log)
				}
			}
		}
	}
}

// waitConnected gives a (re)connecting session a moment before a report waits.
func waitConnected(ctx context.Context, l *link.Link, interval time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, min(interval/2, 10*time.Second))
	defer cancel()
	_ = l.WaitConnected(wctx)
}

func publishDirect(ctx context.Context, l *link.Link, interval time.Duration, payload []byte, id string, log *slog.Logger) {
	waitConnected(ctx, l, interval)
	if err := l.PublishEncoded(payload); err != nil {
		log.Warn("report not delivered", "id", id, "err", err)
	}
}

// drain sends what the spool holds, oldest first, while the broker takes it,
// for at most one interval, so that a long backlog on a slow link does not
// hold up the room's checks or a shutdown; the rest goes in later rounds.
func drain(ctx context.Context, sp *spool.Spool, l *link.Link, interval time.Duration, log *slog.Logger) {
	if !l.Connected() {
		if n, _ := sp.Len(); n > 0 {
			log.Warn("broker unreachable; reports wait in the spool", "waiting", n)
		}
		return
	}
	dctx, cancel := context.WithTimeout(ctx, interval)
	defer cancel()
	sent, err := sp.Drain(dctx, l.PublishEncoded)
	left, _ := sp.Len()
	switch {
	case ctx.Err() != nil:
	case errors.Is(err, context.DeadlineExceeded):
		log.Info("sent part of the spool; the rest goes next round", "sent", sent, "waiting", left)
	case err != nil:
		log.Warn("broker stopped taking reports; the rest wait in the spool", "sent", sent, "waiting", left, "err", err)
	case sent > 1:
		log.Info("sent reports that waited in the spool", "sent", sent)
	}
}

// answer runs the checks a command asks for, under its deadline, and
// publishes the result. A command that cannot be read is logged and ignored;
// one past its deadline is not run (nobody waits for it any more).
func answer(ctx context.Context, r *runner.Runner, l *link.Link, payload []byte, received time.Time, log *slog.Logger) {
	cmd, err := wire.DecodeCommand(payload)
	if err != nil {
		log.Warn("ignored a command", "err", err)
		return
	}
	log = log.With("command", cmd.ID)
	deadline := cmd.DeadlineFrom(received)
	if !time.Now().Before(deadline) {
		log.Warn("ignored a command past its deadline", "deadline", deadline)
		return
	}
	res := &wire.Result{Schema: wire.ResultSchema, CommandID: cmd.ID}
	checks, err := runner.Select(r.Checks, cmd.Checks)
	if err != nil {
		res.Error = err.Error()
	} else {
		cctx, cancel := context.WithDeadline(runner.WithFresh(ctx), deadline) // asked for: measure now
		res.Report = r.RunChecks(cctx, checks)
		cancel()
	}
	if err := l.PublishResult(res); err != nil {
		log.Warn("could not answer a command", "err", err)
		return
	}
	if res.Report != nil {
		log.Info("answered a command", "verdict", res.Report.Verdict)
	} else {
		log.Info("answered a command", "error", res.Error)
	}
}
