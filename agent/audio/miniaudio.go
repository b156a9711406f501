//go:build cgo

package audio

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gen2brain/malgo"
)

// captureSettle is discarded at the start of every recording: many
// microphones deliver zeros or a click while they start.
const captureSettle = 100 * time.Millisecond

// startTimeout bounds how much longer than asked a recording may take
// before the microphone is declared stalled.
const startTimeout = 5 * time.Second

// appName is the client name the sound server shows for the check's streams.
const appName = "siaprapat-agent"

// Miniaudio is the real sound system: miniaudio through malgo, with a
// context per session and the platform's backends tried in order.
type Miniaudio struct {
	Log *slog.Logger // miniaudio's own log goes here at debug level; nil discards
}

// backends are the sound systems tried, in order.
func backends() []malgo.Backend {
	switch runtime.GOOS {
	case "linux":
		return []malgo.Backend{malgo.BackendPulseaudio, malgo.BackendAlsa}
	case "windows":
		return []malgo.Backend{malgo.BackendWasapi}
	case "darwin":
		return []malgo.Backend{malgo.BackendCoreaudio}
	}
	return nil // miniaudio's own order
}

func backendName(b malgo.Backend) string {
	switch b {
	case malgo.BackendPulseaudio:
		return "PulseAudio"
	case malgo.BackendAlsa:
		return "ALSA"
	case malgo.BackendWasapi:
		return "WASAPI"
	case malgo.BackendCoreaudio:
		return "Core Audio"
	}
	return fmt.Sprintf("backend %d", b)
}

// Open initialises the first backend that works.
func (m *Miniaudio) Open(ctx context.Context) (Session, error) {
	log := m.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	list := backends()
	if list == nil {
		mctx, err := initContext(nil, log)
		if err != nil {
			return nil, err
		}
		return &maSession{ctx: mctx, backend: "miniaudio", desc: "miniaudio", log: log}, nil
	}
	var failures []string
	for _, b := range list {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		mctx, err := initContext([]malgo.Backend{b}, log)
		if err != nil {
			log.Debug("sound backend unavailable", "backend", backendName(b), "err", err)
			failures = append(failures, backendName(b)+": "+err.Error())
			continue
		}
		log.Debug("sound backend", "backend", backendName(b))
		desc := backendName(b)
		if len(failures) > 0 {
			desc += " (" + strings.Join(failures, "; ") + ")"
		}
		return &maSession{ctx: mctx, backend: backendName(b), desc: desc, pulse: b == malgo.BackendPulseaudio,
			alsa: b == malgo.BackendAlsa, log: log}, nil
	}
	return nil, errors.New(strings.Join(failures, "; "))
}

// initContext creates a miniaudio context. Its error gives miniaudio's own
// account of the failure ("[PulseAudio] Failed to connect PulseAudio
// context"), which its result code ("No backend") does not.
func initContext(list []malgo.Backend, log *slog.Logger) (*malgo.AllocatedContext, error) {
	name := append([]byte(appName), 0)
	var pin runtime.Pinner // miniaudio copies the name; it is pinned while C holds it
	pin.Pin(&name[0])
	defer pin.Unpin()
	var cfg malgo.ContextConfig
	cfg.Pulse.PApplicationName = &name[0]
	var (
		mu           sync.Mutex
		initializing = true
		tagged, lib  string
	)
	mctx, err := malgo.InitContext(list, cfg, func(msg string) {
		msg = strings.TrimSpace(msg)
		log.Debug("miniaudio", "msg", msg)
		mu.Lock()
		defer mu.Unlock()
		if !initializing {
			return
		}
		switch {
		case strings.HasPrefix(msg, "[") && tagged == "":
			_, tagged, _ = strings.Cut(msg, "] ")
		case strings.HasPrefix(msg, "Failed to load library"):
			lib = msg
		}
	})
	mu.Lock()
	initializing = false
	detail := strings.TrimSuffix(cmp.Or(tagged, lib), ".")
	mu.Unlock()
	if err != nil && detail != "" {
		return nil, fmt.Errorf("%s (%w)", detail, err)
	}
	return mctx, err
}

type maSession struct {
	ctx         *malgo.AllocatedContext
	backend     string
	desc        string // the backend, and why those before it failed
	pulse, alsa bool
	log         *slog.Logger

	mu       sync.Mutex
	captures map[string]malgo.DeviceID // by Device.ID
	playback map[string]malgo.DeviceID
}

func (s *maSession) Backend() string { return s.desc }

func (s *maSession) Close() error {
	err := s.ctx.Uninit()
	s.ctx.Free()
	return err
}

func (s *maSession) Devices(ctx context.Context) ([]Device, []Device, error) {
	caps, err := s.ctx.Devices(malgo.Capture)
	if err != nil {
		return nil, nil, fmt.Errorf("%s capture devices: %w", s.backend, err)
	}
	plays, err := s.ctx.Devices(malgo.Playback)
	if err != nil {
		return nil, nil, fmt.Errorf("%s playback devices: %w", s.backend, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.captures, s.playback = map[string]malgo.DeviceID{}, map[string]malgo.DeviceID{}
	return s.devices(caps, s.captures), s.devices(plays, s.playback), nil
}

func (s *maSession) devices(infos []malgo.DeviceInfo, ids map[string]malgo.DeviceID) []Device {
	var out []Device
	var plugins []string
	for _, info := range infos {
		id := s.idString(info.ID)
		if s.alsa && !alsaHardware(id) {
			// ALSA also lists plugins (null, jack, pulse, rate converters...):
			// none is a microphone or speaker, and "default" may lead to a
			// PulseAudio server that is not there, which ALSA reports on stderr.
			plugins = append(plugins, id)
			continue
		}
		ids[id] = info.ID
		out = append(out, Device{
			Name:    info.Name(),
			ID:      id,
			Default: info.IsDefault != 0,
			Monitor: s.pulse && strings.HasSuffix(id, ".monitor"),
		})
	}
	if len(plugins) > 0 {
		s.log.Debug("ALSA plugins ignored: not sound cards", "ids", plugins)
	}
	return out
}

// idString is the backend's device identifier as text: PulseAudio and ALSA
// name devices with strings; other backends' identifiers are shown in hex.
func (s *maSession) idString(id malgo.DeviceID) string {
	if s.backend == "PulseAudio" || s.backend == "ALSA" {
		if i := bytes.IndexByte(id[:], 0); i >= 0 {
			return string(id[:i])
		}
	}
	return id.String()
}

// alsaHardware tells a sound card's device (":0,0" as miniaudio names
// "hw:0,0" when it may choose the plugin; "hw:", "plughw:") from a plugin.
func alsaHardware(id string) bool {
	return strings.HasPrefix(id, ":") || strings.HasPrefix(id, "hw:") || strings.HasPrefix(id, "plughw:")
}

func (s *maSession) lookup(ids map[string]malgo.DeviceID, d Device) (*malgo.DeviceID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := ids[d.ID]
	if !ok {
		return nil, fmt.Errorf("device %q (%s) is not among the devices %s listed", d.Name, d.ID, s.backend)
	}
	return &id, nil
}

// Record records a microphone in its native format.
func (s *maSession) Record(ctx context.Context, mic Device, window time.Duration) (PCM, error) {
	rec, err := s.startCapture(mic)
	if err != nil {
		return PCM{}, err
	}
	defer rec.stop()
	need := framesIn(window, rec.pcm.Rate)
	if err := rec.waitFor(ctx, func(n int) bool { return n >= need }, window+startTimeout); err != nil {
		return PCM{}, err
	}
	return rec.take(need), nil
}

// PlayRecord records the microphone, plays the signal after Lead, and
// records until Tail after the signal's end.
func (s *maSession) PlayRecord(ctx context.Context, loop Loop) (LoopCapture, error) {
	rec, err := s.startCapture(loop.Microphone)
	if err != nil {
		return LoopCapture{}, err
	}
	defer rec.stop()
	rate := rec.pcm.Rate
	lead := framesIn(loop.Lead, rate)
	if err := rec.waitFor(ctx, func(n int) bool { return n >= lead }, loop.Lead+startTimeout); err != nil {
		return LoopCapture{}, err
	}

	id, err := s.lookup(s.playback, loop.Speaker)
	if err != nil {
		return LoopCapture{}, err
	}
	var (
		playedAt atomic.Int64 // capture frame when the first signal frame was taken, +1
		mu       sync.Mutex
		pos      int // next signal frame
		sig      = loop.Signal
	)
	cfg := malgo.DefaultDeviceConfig(malgo.Playback)
	cfg.Playback.Format = malgo.FormatF32
	cfg.Playback.Channels = uint32(sig.Channels)
	cfg.SampleRate = uint32(sig.Rate)
	cfg.Pulse.StreamNamePlayback = "siaprapat loopback test"
	onData := func(out, _ []byte, frames uint32) {
		playedAt.CompareAndSwap(0, int64(rec.frames())+1)
		mu.Lock()
		defer mu.Unlock()
		n := min(int(frames)*sig.Channels, len(sig.Samples)-pos*sig.Channels, len(out)/4)
		for i := 0; i < n; i++ {
			binary.NativeEndian.PutUint32(out[4*i:], math.Float32bits(sig.Samples[pos*sig.Channels+i]))
		}
		clear(out[4*n:]) // silence after the signal
		pos += n / sig.Channels
	}
	dev, err := s.initDevice(cfg, id, malgo.DeviceCallbacks{Data: onData})
	if err != nil {
		return LoopCapture{}, fmt.Errorf("open speaker %s: %w", loop.Speaker.Name, err)
	}
	defer dev.Uninit()
	if err := dev.Start(); err != nil {
		return LoopCapture{}, fmt.Errorf("start speaker %s: %w", loop.Speaker.Name, err)
	}
	after := framesIn(sig.Duration()+loop.Tail, rate)
	done := func(n int) bool {
		p := playedAt.Load()
		return p > 0 && n >= int(p-1)+after
	}
	if err := rec.waitFor(ctx, done, loop.Lead+sig.Duration()+loop.Tail+startTimeout); err != nil {
		if playedAt.Load() == 0 {
			return LoopCapture{}, fmt.Errorf("speaker %s took no audio: %w", loop.Speaker.Name, err)
		}
		return LoopCapture{}, err
	}
	return LoopCapture{PCM: rec.take(rec.frames()), PlayedAt: int(playedAt.Load() - 1)}, nil
}

// initDevice opens a device with its identifier pinned while miniaudio
// copies it.
func (s *maSession) initDevice(cfg malgo.DeviceConfig, id *malgo.DeviceID, cb malgo.DeviceCallbacks) (*malgo.Device, error) {
	var pin runtime.Pinner
	pin.Pin(id)
	defer pin.Unpin()
	switch cfg.DeviceType {
	case malgo.Capture:
		cfg.Capture.DeviceID = unsafe.Pointer(id)
	default:
		cfg.Playback.DeviceID = unsafe.Pointer(id)
	}
	return malgo.InitDevice(s.ctx.Context, cfg, cb)
}

// capture is a running recording.
type capture struct {
	dev    *malgo.Device
	notify chan struct{}

	mu     sync.Mutex
	format malgo.FormatType
	settle int // frames still to discard
	pcm    PCM // Samples grow as the device delivers
}

func (s *maSession) startCapture(mic Device) (*capture, error) {
	id, err := s.lookup(s.captures, mic)
	if err != nil {
		return nil, err
	}
	rec := &capture{notify: make(chan struct{}, 1)}
	cfg := malgo.DefaultDeviceConfig(malgo.Capture)
	// Format, channels and rate are left unset: the device's own.
	cfg.Pulse.StreamNameCapture = "siaprapat audio check"
	dev, err := s.initDevice(cfg, id, malgo.DeviceCallbacks{Data: rec.onData})
	if err != nil {
		return nil, fmt.Errorf("open microphone %s: %w", mic.Name, err)
	}
	rec.dev = dev
	format := dev.CaptureFormat()
	bits, float, err := formatBits(format)
	if err != nil {
		dev.Uninit()
		return nil, fmt.Errorf("microphone %s: %w", mic.Name, err)
	}
	pcm := PCM{Rate: int(dev.SampleRate()), Channels: int(dev.CaptureChannels()), Bits: bits, Float: float}
	if pcm.Rate <= 0 || pcm.Channels <= 0 {
		dev.Uninit()
		return nil, fmt.Errorf("microphone %s: %d channels at %d Hz", mic.Name, pcm.Channels, pcm.Rate)
	}
	rec.mu.Lock()
	rec.format, rec.pcm, rec.settle = format, pcm, framesIn(captureSettle, pcm.Rate)
	rec.mu.Unlock()
	s.log.Debug("microphone opened", "backend", s.backend, "microphone", mic.Name, "id", mic.ID,
		"rate", pcm.Rate, "channels", pcm.Channels, "bits", bits, "float", float)
	if err := dev.Start(); err != nil {
		dev.Uninit()
		return nil, fmt.Errorf("start microphone %s: %w", mic.Name, err)
	}
	return rec, nil
}

func formatBits(f malgo.FormatType) (bits int, float bool, err error) {
	switch f {
	case malgo.FormatU8:
		return 8, false, nil
	case malgo.FormatS16:
		return 16, false, nil
	case malgo.FormatS24:
		return 24, false, nil
	case malgo.FormatS32:
		return 32, false, nil
	case malgo.FormatF32:
		return 32, true, nil
	}
	return 0, false, fmt.Errorf("unsupported sample format %d", f)
}

// onData runs on the device's thread with each period of samples.
func (c *capture) onData(_, in []byte, frames uint32) {
	c.mu.Lock()
	ch := c.pcm.Channels
	size := c.pcm.Bits / 8
	if ch == 0 || size == 0 {
		c.mu.Unlock()
		return // not started yet
	}
	n := min(int(frames)*ch, len(in)/size)
	skip := min(c.settle*ch, n)
	c.settle -= skip / ch
	for i := skip; i < n; i++ {
		c.pcm.Samples = append(c.pcm.Samples, decodeNative(in[i*size:(i+1)*size], c.format))
	}
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// decodeNative converts one sample in the machine's byte order to a float
// with full scale ±1.
func decodeNative(b []byte, f malgo.FormatType) float32 {
	ne := binary.NativeEndian
	switch f {
	case malgo.FormatU8:
		return float32(int(b[0])-128) / 128
	case malgo.FormatS16:
		return float32(int16(ne.Uint16(b))) / (1 << 15)
	case malgo.FormatS24:
		var v int32
		if ne.Uint16([]byte{1, 0}) == 1 { // little endian
			v = int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
		} else {
			v = int32(uint32(b[2])<<8|uint32(b[1])<<16|uint32(b[0])<<24) >> 8
		}
		return float32(float64(v) / (1 << 23))
	case malgo.FormatS32:
		return float32(float64(int32(ne.Uint32(b))) / (1 << 31))
	}
	return finite(float64(math.Float32frombits(ne.Uint32(b))))
}

func (c *capture) frames() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pcm.Frames()
}

// take copies the first n frames recorded.
func (c *capture) take(n int) PCM {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.pcm.Slice(0, n)
	out.Samples = append([]float32(nil), out.Samples...)
	return out
}

// waitFor waits until ready says yes to the frames recorded, the context
// ends, or the microphone has stalled for longer than limit.
func (c *capture) waitFor(ctx context.Context, ready func(frames int) bool, limit time.Duration) error {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		n := c.frames()
		if ready(n) {
			return nil
		}
		select {
		case <-c.notify:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("the microphone delivered %d frames (%v) in %v", n,
				time.Duration(float64(n)/float64(max(c.pcm.Rate, 1))*float64(time.Second)).Round(time.Millisecond), limit)
		}
	}
}

func (c *capture) stop() { c.dev.Uninit() }
