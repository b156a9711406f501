// Package agent runs the agent daemon: checks on an interval, reports over MQTT.
package agent

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/siaprapat/siaprapat/agent/host"
	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/runner"
)

// DefaultInterval is how often the daemon checks the room.
const DefaultInterval = 60 * time.Second

// Checks is the one list of the agent's checks, in the order they run.
func Checks() []runner.Check {
	return []runner.Check{
		&host.Check{Source: &host.System{}},
	}
}

// Config configures the daemon.
type Config struct {
	Link     link.Options
	Interval time.Duration
	Runner   *runner.Runner // Site, Room and Checks already set
	Log      *slog.Logger
}

// Run checks the room every interval and publishes each report, until the
// context ends; then it says goodbye to the broker. A broker outage is
// logged and waited out, never fatal.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Interval <= 0 {
		return fmt.Errorf("--interval %v: must be positive", cfg.Interval)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Link.Log = log
	l, err := link.Connect(cfg.Link)
	if err != nil {
		return err
	}
	defer l.Close()

	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		rep := cfg.Runner.Run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		// Give a (re)connecting session a moment before the report is lost.
		wctx, cancel := context.WithTimeout(ctx, min(cfg.Interval/2, 10*time.Second))
		_ = l.WaitConnected(wctx)
		cancel()
		if err := l.PublishReport(rep); err != nil {
			log.Warn("report not delivered", "id", rep.ID, "verdict", rep.Verdict, "err", err)
		} else {
			log.Info("report published", "id", rep.ID, "verdict", rep.Verdict, "checks", len(rep.Checks))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
