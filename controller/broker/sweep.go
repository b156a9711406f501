package broker

import (
	"errors"
	"reflect"
	"time"
	"unsafe"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// retainedSweep is how often the embedded broker looks for expired
// retained messages (a variable for the tests).
//
// mochi does it every second, and each time copies every retained message
// (Topics.Retained.GetAll: a map of packets.Packet, 0.8 KiB each) to look at
// their expiry. A controller keeps one schedule retained for each room and
// agents one status: at 50,000 rooms that is 100,000 packets, 80 MB copied
// a second, a quarter of the controller's CPU in steady state with its GC
// (profiled; BENCHMARKS.md). With no MaximumMessageExpiryInterval, only an
// MQTT 5 client's own message expiry can expire a retained message, and a
// minute late is soon enough for it.
var retainedSweep = time.Minute

// slowRetainedSweep resets mochi's retained-expiry ticker to every. mochi
// has no option for it; the ticker is the unexported
// Server.loop.retainedExpiry, reached by reflection. If a version of mochi
// names it otherwise, this says so and changes nothing, and
// TestBroker_RetainedSweepIsSlowed fails.
func slowRetainedSweep(s *mqtt.Server, every time.Duration) error {
	loop := reflect.ValueOf(s).Elem().FieldByName("loop")
	if !loop.IsValid() || loop.Kind() != reflect.Pointer || loop.IsNil() {
		return errors.New("mochi's Server has no loop")
	}
	f := loop.Elem().FieldByName("retainedExpiry")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*time.Ticker]() {
		return errors.New("mochi's event loop has no retainedExpiry ticker")
	}
	t := *(**time.Ticker)(unsafe.Pointer(f.UnsafeAddr()))
	if t == nil {
		return errors.New("mochi's retainedExpiry ticker is not made yet")
	}
	t.Reset(every)
	return nil
}
