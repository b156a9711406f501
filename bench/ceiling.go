package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// ceilingSystem names the run that bounds every consumer's ingest rate on
// this machine: the same load generator and Mosquitto, with a subscriber
// that takes each message and does nothing with it.
const ceilingSystem = "no-op subscriber + Mosquitto (ceiling)"

// runCeiling measures how many reports a second the load generator and
// Mosquitto can pass to a subscriber at all on this machine: the burst of
// the other runs, to a QoS 1 subscriber that only counts. Neither siaprapat
// nor Telegraf can ingest faster than this while sharing the cores with the
// generator and the broker.
func runCeiling(ctx context.Context, cfg *config, std *standard.Standard, n int) (*result, error) {
	res := &result{System: ceilingSystem, Rooms: n, RoomsPerConn: roomsPerConn(n, cfg.maxConns)}
	dir, err := os.MkdirTemp("", "siaprapat-bench-ceiling-")
	if err != nil {
		return nil, err
	}
	defer cleanup(cfg, dir)
	mosq, brokerURL, err := startMosquitto(ctx, cfg.mosquitto, dir)
	if err != nil {
		return nil, err
	}
	defer mosq.stop(10 * time.Second)

	var got atomic.Int64
	var last atomic.Int64 // unix nanoseconds of the newest message
	sub := mqtt.NewClient(clientOptions(brokerURL, "siaprapat-bench-noop").SetOrderMatters(false))
	if err := wait(sub.Connect(), "connect"); err != nil {
		return nil, err
	}
	defer sub.Disconnect(250)
	if err := wait(sub.Subscribe(wire.Filter(wire.KindReport), 1, func(_ mqtt.Client, _ mqtt.Message) {
		got.Add(1)
		last.Store(time.Now().UnixNano())
	}), "subscribe"); err != nil {
		return nil, err
	}

	g, err := startGenerator(ctx, brokerURL, n, std, res, false, 0)
	if err != nil {
		return nil, err
	}
	defer g.close()
	ps, err := burst(ctx, g, res)
	if err != nil {
		return nil, err
	}
	b0, t0 := mosq.cpu(), time.Now()
	if f := g.publishAll(ctx, ps, cfg.publishers, 0); f > 0 {
		res.note("%d burst messages failed to publish", f)
	}
	deadline := time.Now().Add(cfg.ackTimeout + time.Duration(res.Messages)*time.Millisecond)
	for got.Load() < int64(res.Messages) && time.Now().Before(deadline) && ctx.Err() == nil {
		sleepCtx(ctx, 20*time.Millisecond)
	}
	b1 := mosq.cpu()
	res.Stored = got.Load()
	if res.Stored == 0 {
		return nil, fmt.Errorf("the no-op subscriber received nothing")
	}
	if res.Stored < int64(res.Messages) {
		res.note("the no-op subscriber received %d of %d messages within the timeout", res.Stored, res.Messages)
	}
	span := time.Unix(0, last.Load()).Sub(t0)
	res.Rate = float64(res.Stored) / span.Seconds()
	res.BrokerCPUPerMsg = (b1 - b0) / time.Duration(res.Stored)
	logf("  burst: %d messages received in %v: %.0f/s (Mosquitto %v CPU each)", res.Stored, span.Round(time.Millisecond),
		res.Rate, res.BrokerCPUPerMsg.Round(time.Microsecond))
	return res, mosq.exited()
}
