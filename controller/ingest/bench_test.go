package ingest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/history"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// benchPayloads builds n encoded reports of 1,000 simulated rooms, as the
// fleet simulator sends them (host, camera, audio, network, two devices:
// about 4 KiB each), every one with its own id.
func benchPayloads(b *testing.B, n int) (topics []string, payloads [][]byte) {
	b.Helper()
	std, err := standard.Default()
	if err != nil {
		b.Fatal(err)
	}
	rooms := make([]*fleetsim.Room, 1000)
	for i := range rooms {
		rooms[i] = fleetsim.NewRoom(i, 30, 1, std, "bench")
	}
	for i := range n {
		r := rooms[i%len(rooms)]
		p, err := r.Run(context.Background()).Encode()
		if err != nil {
			b.Fatal(err)
		}
		topics = append(topics, wire.Topic(r.Site, r.Room, wire.KindReport))
		payloads = append(payloads, p)
	}
	return topics, payloads
}

// BenchmarkHandle measures ingest of one report (decode, validate, apply),
// the controller's hot path: to an in-memory fleet ("memory"), and with
// the fleet's store and the report history as the controller runs them
// ("stores": bbolt, written every 250 ms off this path, and counted here
// since they write as the benchmark runs). "standard" judges the reports by
// the default standard, as the controller does: the simulator's reports
// lack the peripherals check it has rules for, so ingest adds it as not
// checked, and a report is no longer what was received.
func BenchmarkHandle(b *testing.B) {
	std, err := standard.Default()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		stores   bool
		standard *standard.Standard
	}{{"memory", false, nil}, {"stores", true, nil}, {"standard", true, std}} {
		b.Run(c.name, func(b *testing.B) {
			topics, payloads := benchPayloads(b, 5000)
			opts := Options{Fleet: fleet.New(fleet.Options{Freshness: time.Minute}), Standard: c.standard}
			if c.stores {
				opts.Fleet, opts.History = benchStores(b)
			}
			in, err := New(opts, prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(payloads[0])))
			i := 0
			for b.Loop() {
				// Past the first round every id is a duplicate the
				// history turns away: rounds stay under 5,000 reports.
				in.Handle(topics[i%len(topics)], payloads[i%len(payloads)])
				i++
			}
		})
	}
}

// BenchmarkHandleResult measures ingest of an agent's answer to a check
// command (a result holding a report), with the fleet's store and the
// history, as a pre-meeting fan-out brings them in: the same reports as
// BenchmarkHandle/stores, each wrapped as a result.
func BenchmarkHandleResult(b *testing.B) {
	topics, payloads := benchPayloads(b, 5000)
	for i, p := range payloads {
		rep, err := wire.Decode(p)
		if err != nil {
			b.Fatal(err)
		}
		res, err := json.Marshal(wire.Result{Schema: wire.ResultSchema, CommandID: wire.NewID(), Report: rep})
		if err != nil {
			b.Fatal(err)
		}
		payloads[i] = res
		topics[i] = wire.Topic(rep.Site, rep.Room, wire.KindResult)
	}
	f, h := benchStores(b)
	in, err := New(Options{Fleet: f, History: h, Results: func(string, string, *wire.Result) {}}, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(payloads[0])))
	i := 0
	for b.Loop() {
		in.Handle(topics[i%len(topics)], payloads[i%len(payloads)])
		i++
	}
}

// benchStores opens the fleet's store and the report history as the
// controller runs them (bbolt), closed when the benchmark ends.
func benchStores(b *testing.B) (*fleet.Fleet, *history.History) {
	b.Helper()
	f, err := fleet.Open(b.TempDir(), fleet.Options{Freshness: time.Minute}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	h, err := history.Open(b.TempDir(), history.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return f, h
}
