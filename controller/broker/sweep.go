package broker

import (
	"errors"
	"fmt"
	"reflect"
	"time"
	"unsafe"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// sweepEvery is how often the embedded broker looks for expired retained
// messages, inflight messages and sessions (a variable for the tests).
//
// mochi does each every second, and each time copies what it looks at: every
// retained message (Topics.Retained.GetAll: a map of packets.Packet, 0.8 KiB
// each), and twice the map of every client, then each client's inflight
// map. A controller keeps one schedule retained for each room and agents
// one status: at 50,000 rooms that is 100,000 packets, 80 MB copied a
// second, a quarter of the controller's CPU in steady state with its GC
// (profiled; BENCHMARKS.md). With no MaximumMessageExpiryInterval, only an
// MQTT 5 client's own message or session expiry can expire anything, and a
// minute late is soon enough for it.
var sweepEvery = time.Minute

// sweeps are mochi's once-a-second sweeps that slowSweeps slows.
var sweeps = []string{"retainedExpiry", "inflightExpiry", "clientExpiry"}

// slowSweeps resets mochi's sweep tickers (sweeps) to every. mochi has no
// option for them; they are the unexported Server.loop's (resetTicker). If a
// version of mochi names one otherwise, this says so and leaves that one as
// it is, and TestBroker_SweepsAreSlowed fails.
func slowSweeps(s *mqtt.Server, every time.Duration) error {
	var errs []error
	for _, name := range sweeps {
		errs = append(errs, resetTicker(s, name, every))
	}
	return errors.Join(errs...)
}

// resetTicker resets one of the tickers of mochi's event loop, by its field
// name in the unexported Server.loop, reached by reflection.
func resetTicker(s *mqtt.Server, name string, every time.Duration) error {
	loop := reflect.ValueOf(s).Elem().FieldByName("loop")
	if !loop.IsValid() || loop.Kind() != reflect.Pointer || loop.IsNil() {
		return errors.New("mochi's Server has no loop")
	}
	f := loop.Elem().FieldByName(name)
	if !f.IsValid() || f.Type() != reflect.TypeFor[*time.Ticker]() {
		return fmt.Errorf("mochi's event loop has no %s ticker", name)
	}
	t := *(**time.Ticker)(unsafe.Pointer(f.UnsafeAddr()))
	if t == nil {
		return fmt.Errorf("mochi's %s ticker is not made yet", name)
	}
	t.Reset(every)
	return nil
}
