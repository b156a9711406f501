package audio

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/siaprapat/siaprapat/agent/quiet"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// Defaults and limits of Config.
const (
	DefaultWindow = 5 * time.Second
	MinWindow     = 500 * time.Millisecond
	MaxWindow     = 20 * time.Second // the runner gives a check 30 s by default
	// loopLead and loopTail frame the test signal in the loopback recording:
	// noise is measured in the lead, the tail leaves room for the delay.
	loopLead = 300 * time.Millisecond
	loopTail = 700 * time.Millisecond
)

// InUseFunc says whether the microphone or speaker is in use by another
// application (a meeting), and by what.
type InUseFunc func(ctx context.Context) (inUse bool, why string)

// Config configures the audio check. The zero value records the default
// microphone for DefaultWindow and runs the loopback on the default speaker.
type Config struct {
	// Source is "" for the live microphone, or "file:PATH.wav" for a
	// recording replayed instead (flag --mic-source). A recording has no
	// speaker: the loopback does not run.
	Source string
	// Window is how long the microphone is recorded; DefaultWindow when zero
	// (flag --audio-window).
	Window time.Duration
	// Microphone and Speaker choose devices by a case-insensitive substring
	// of their names; "" is the system's default device (flags --microphone,
	// --speaker). Without a name, a PulseAudio monitor source is never taken
	// for the microphone.
	Microphone, Speaker string
	// NoLoopback turns the loopback off, for rooms that must stay silent
	// (flag --no-loopback).
	NoLoopback bool
	// LoopbackLevel is the test signal's level in dBFS (sine reference);
	// DefaultLoopbackLevel when zero.
	LoopbackLevel float64
	// LoopbackEvery is the least time between two loopbacks; checks in
	// between measure the microphone only (flag --loopback-every).
	// DefaultLoopbackEvery when zero; negative means every check.
	LoopbackEvery time.Duration
	// InUse says whether a meeting holds the devices; nil is the platform's
	// detector (DefaultInUse).
	InUse InUseFunc
	// Driver reaches the sound system; nil is Miniaudio.
	Driver Driver
	Log    *slog.Logger // nil discards
}

// Check is the audio check: one result for the microphone, with the
// loopback through the speaker in it. A microphone it cannot record now (a
// meeting app holds it) is a skipped result with a code and no
// measurements: the runner repeats its last result.
type Check struct {
	cfg       Config
	recording *Recording // the replayed file, or nil for the live microphone
	log       *slog.Logger

	mu       sync.Mutex
	lastLoop time.Time // when the loopback last played
}

// New checks the configuration, reads a recorded source, and returns the check.
func New(cfg Config) (*Check, error) {
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Window < MinWindow || cfg.Window > MaxWindow {
		return nil, fmt.Errorf("audio window %v: want %v to %v", cfg.Window, MinWindow, MaxWindow)
	}
	if cfg.LoopbackLevel == 0 {
		cfg.LoopbackLevel = DefaultLoopbackLevel
	}
	if cfg.LoopbackEvery == 0 {
		cfg.LoopbackEvery = DefaultLoopbackEvery
	}
	if cfg.LoopbackLevel < -60 || cfg.LoopbackLevel > -6 {
		return nil, fmt.Errorf("loopback level %g dBFS: want -60 to -6", cfg.LoopbackLevel)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	log := cfg.Log.With("check", wire.CheckAudio)
	if cfg.Driver == nil {
		cfg.Driver = &Miniaudio{Log: log}
	}
	if cfg.InUse == nil {
		cfg.InUse = DefaultInUse(log)
	}
	rec, err := OpenSource(cfg.Source)
	if err != nil {
		return nil, err
	}
	return &Check{cfg: cfg, recording: rec, log: log}, nil
}

// Name is the check's name in reports and in the standard.
func (c *Check) Name() string { return wire.CheckAudio }

// Run measures the microphone and, unless turned off, the loopback. A
// missing sound system or microphone is a result that says so; an error is
// returned only when the run is cancelled.
func (c *Check) Run(ctx context.Context, std *standard.Standard) ([]wire.CheckResult, error) {
	if c.recording != nil {
		pcm, err := c.recording.Record(ctx, c.cfg.Window)
		if err != nil {
			return nil, err
		}
		res := wire.CheckResult{Check: wire.CheckAudio, Target: c.recording.Name,
			Measurements: Analyze(pcm).Measurements(pcm)}
		explainDead(&res, std)
		return []wire.CheckResult{res}, nil
	}
	res, err := c.runLive(ctx, std)
	if err != nil {
		return nil, err
	}
	return []wire.CheckResult{res}, nil
}

func (c *Check) defaultTarget() string {
	switch {
	case c.recording != nil:
		return c.recording.Name
	case c.cfg.Microphone != "":
		return c.cfg.Microphone
	}
	return "microphone"
}

func (c *Check) runLive(ctx context.Context, std *standard.Standard) (wire.CheckResult, error) {
	res := wire.CheckResult{Check: wire.CheckAudio, Target: c.defaultTarget()}
	session, err := c.cfg.Driver.Open(ctx)
	if err != nil {
		res.Verdict, res.Reason, res.Code = wire.Error, "no sound server: "+err.Error(), wire.CodeNoSoundServer
		return res, nil
	}
	defer func() {
		if err := session.Close(); err != nil {
			c.log.Warn("close the sound system", "err", err)
		}
	}()
	mics, speakers, err := session.Devices(ctx)
	if err != nil {
		res.Verdict, res.Reason = wire.Error, "list audio devices: "+err.Error()
		return res, nil
	}
	mic, ok := pick(mics, c.cfg.Microphone, true)
	if !ok {
		res.Verdict, res.Reason, res.Code = wire.Fail, noDevice("microphone", c.cfg.Microphone, mics)+" with "+session.Backend(), noDeviceCode(c.cfg.Microphone, mics)
		return res, nil
	}
	res.Target = target(mic.Name)
	// A meeting (or a device in use) holds back the loopback's sound, not
	// the recording: capture in shared mode (PulseAudio, PipeWire, WASAPI)
	// does not disturb the meeting app.
	hold, held := quiet.Held(ctx)
	if !held {
		if busy, why := c.cfg.InUse(ctx); busy {
			hold, held = quiet.Hold{Code: wire.CodeInUse, Reason: "microphone or speaker in use by " + why}, true
		}
	}
	pcm, err := liveMicrophone{session, mic}.Record(ctx, c.cfg.Window)
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("record %s: %w", mic.Name, err)
		}
		if held {
			// The meeting app holds the microphone for itself (exclusive
			// mode): the runner repeats the last result.
			res.Verdict, res.Code = wire.Skipped, hold.Code
			res.Reason = fmt.Sprintf("%s; the microphone could not be recorded: %v", hold.Reason, err)
			return res, nil
		}
		res.Verdict, res.Reason = wire.Error, fmt.Sprintf("record %s: %v", mic.Name, err)
		return res, nil
	}
	res.Measurements = Analyze(pcm).Measurements(pcm)
	explainDead(&res, std)
	c.log.Debug("microphone recorded", "microphone", mic.Name, "rate", pcm.Rate, "bits", pcm.Bits,
		"channels", pcm.Channels, "frames", pcm.Frames())
	switch {
	case c.cfg.NoLoopback:
	case held:
		res.Reason = joinReason(res.Reason, "loopback held back: "+hold.Reason+c.lastLoopback())
	case c.loopbackDue():
		c.loopback(ctx, session, mic, speakers, &res)
	}
	return res, nil
}

// DeadReason is the check's reason for a microphone whose peak stays below
// the standard's floor (a rule on peak_dbfs with fail_below): converter
// noise, not a room.
const DeadReason = "the microphone delivers no sound above its converter's own noise: muted, dead or unplugged"

// explainDead says in words why a microphone fails the standard's floor on
// its peak, for the technician who reads the report.
func explainDead(res *wire.CheckResult, std *standard.Standard) {
	if std == nil {
		return
	}
	peak, ok := res.Measurements["peak_dbfs"]
	if !ok {
		return
	}
	for _, r := range std.RulesFor(wire.CheckAudio) {
		if r.Measurement == "peak_dbfs" && r.FailBelow != nil && peak < *r.FailBelow {
			res.Reason = joinReason(DeadReason, res.Reason)
			return
		}
	}
}

func joinReason(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// lastLoopback says when the loopback last played, for a held-back one.
func (c *Check) lastLoopback() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastLoop.IsZero() {
		return "; not played since the agent started"
	}
	return "; last played at " + quiet.Stamp(c.lastLoop, time.Now())
}

// loopbackDue reports whether LoopbackEvery has passed since the last
// loopback.
func (c *Check) loopbackDue() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.LoopbackEvery > 0 && !c.lastLoop.IsZero() && time.Since(c.lastLoop) < c.cfg.LoopbackEvery {
		c.log.Debug("loopback not due", "last", c.lastLoop, "every", c.cfg.LoopbackEvery)
		return false
	}
	return true
}

// loopback plays the chirp on the speaker while recording the microphone
// and adds what it heard to the result. A loopback that cannot run leaves
// the microphone's measurements and says why in the reason.
func (c *Check) loopback(ctx context.Context, s Session, mic Device, speakers []Device, res *wire.CheckResult) {
	spk, ok := pick(speakers, c.cfg.Speaker, false)
	if !ok {
		res.Measurements["loopback_detected"] = 0
		res.Reason = joinReason(res.Reason, "loopback not run: "+noDevice("speaker", c.cfg.Speaker, speakers)+" with "+s.Backend())
		return
	}
	// A meeting (or its margin) may have begun while the microphone was recorded.
	if h, held := quiet.Held(ctx); held {
		res.Reason = joinReason(res.Reason, "loopback held back: "+h.Reason+c.lastLoopback())
		return
	}
	if busy, why := c.cfg.InUse(ctx); busy {
		res.Reason = joinReason(res.Reason, "loopback not run: speaker or microphone in use by "+why)
		return
	}
	c.log.Info("playing the loopback test signal", "speaker", spk.Name, "level_dbfs", c.cfg.LoopbackLevel)
	c.mu.Lock()
	c.lastLoop = time.Now()
	c.mu.Unlock()
	capture, err := s.PlayRecord(ctx, Loop{Speaker: spk, Microphone: mic,
		Signal: Chirp(SignalRate, c.cfg.LoopbackLevel), Lead: loopLead, Tail: loopTail})
	if err != nil {
		res.Reason = joinReason(res.Reason, fmt.Sprintf("loopback through %s not run: %v", spk.Name, err))
		return
	}
	d := Detect(capture)
	c.log.Debug("loopback", "speaker", spk.Name, "detected", d.Detected, "correlation", d.Correlation,
		"level_dbfs", d.Level, "delay", d.Delay)
	maps.Copy(res.Measurements, d.Measurements())
	if !d.Detected {
		res.Reason = joinReason(res.Reason, fmt.Sprintf("the microphone did not hear the test signal played on %s", spk.Name))
	}
}

// pick chooses the device whose name contains want (case-insensitive), or
// whose id is want (devices of one card can share a name: ALSA's loopback
// card names both its devices "Loopback, Loopback PCM", ids ":0,0" and
// ":0,1"), preferring the default; without a name, the default device,
// except that a microphone is never a monitor of an output unless named.
func pick(devices []Device, want string, microphone bool) (Device, bool) {
	var found []Device
	for _, d := range devices {
		if want != "" && d.ID == want {
			return d, true
		}
	}
	for _, d := range devices {
		if want != "" && !strings.Contains(strings.ToLower(d.Name), strings.ToLower(want)) {
			continue
		}
		if want == "" && microphone && d.Monitor {
			continue
		}
		found = append(found, d)
	}
	for _, d := range found {
		if d.Default {
			return d, true
		}
	}
	if len(found) > 0 {
		return found[0], true
	}
	return Device{}, false
}

func noDevice(kind, want string, have []Device) string {
	if want == "" {
		if kind == "microphone" && len(have) > 0 {
			return "no microphone found (only monitors of outputs: " + names(have) + ")"
		}
		return "no " + kind + " found"
	}
	if len(have) == 0 {
		return fmt.Sprintf("no %s found (wanted one named like %q)", kind, want)
	}
	return fmt.Sprintf("no %s named like %q; found: %s", kind, want, names(have))
}

// noDeviceCode is the code of noDevice's case: no device of the kind at
// all, or not the one asked for.
func noDeviceCode(want string, have []Device) string {
	if want == "" || len(have) == 0 {
		return wire.CodeNoDevice
	}
	return wire.CodeDeviceMissing
}

func names(ds []Device) string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%q", d.Name))
	}
	return strings.Join(out, ", ")
}

// target makes a device name fit the report's 128-byte target.
func target(name string) string {
	if name == "" {
		return "microphone"
	}
	for len(name) > 128 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}
