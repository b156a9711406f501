package audio_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/audio"
	"github.com/siaprapat/siaprapat/agent/quiet"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

func defaultStandard(t testing.TB) *standard.Standard {
	t.Helper()
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	return std
}

// runOnce runs the check and judges its single result as the runner does.
func runOnce(t testing.TB, c *audio.Check, std *standard.Standard) wire.CheckResult {
	t.Helper()
	results, err := c.Run(context.Background(), std)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if len(results) != 1 {
		t.Fatalf("%d results, want 1: %+v", len(results), results)
	}
	res := results[0]
	std.Evaluate(&res)
	finite(t, res.Measurements)
	return res
}

// ruleOf returns the named rule's result.
func ruleOf(res wire.CheckResult, name string) (wire.RuleResult, bool) {
	for _, r := range res.Rules {
		if r.Rule == name {
			return r, true
		}
	}
	return wire.RuleResult{}, false
}

func failing(res wire.CheckResult) []string {
	var out []string
	for _, r := range res.Rules {
		if r.Verdict != wire.Pass {
			out = append(out, r.Rule+" "+string(r.Verdict)+": "+r.Reason)
		}
	}
	return out
}

func TestCheck_RecordedSpeechPassesTheDefaultStandard(t *testing.T) {
	const rate = 48000
	path := writeWAV(t, "speech.wav", rate, 1, speechLike(rate, 6, -20, -60))
	c, err := audio.New(audio.Config{Source: "file:" + path})
	if err != nil {
		t.Fatal(err)
	}
	res := runOnce(t, c, defaultStandard(t))
	m := res.Measurements
	t.Logf("speech-like recording: %v", m)
	if res.Verdict != wire.Pass {
		t.Errorf("verdict %s, want pass; rules: %v", res.Verdict, failing(res))
	}
	if res.Target != "file:speech.wav" {
		t.Errorf("target %q", res.Target)
	}
	if math.Abs(m["rms_dbfs"]+20) > 0.5 || math.Abs(m["noise_floor_dbfs"]+60) > 1 {
		t.Errorf("RMS %v, noise floor %v dBFS; want -20 ± 0.5, -60 ± 1", m["rms_dbfs"], m["noise_floor_dbfs"])
	}
	if m["sample_rate_hertz"] != rate || m["sample_bits"] != 16 {
		t.Errorf("format %v Hz %v bits", m["sample_rate_hertz"], m["sample_bits"])
	}
	if _, ok := m["loopback_detected"]; ok {
		t.Error("a recording has a loopback measurement")
	}
	// Replayed in virtual time: a 5 s window of a 6 s file is 5 s of it.
	if d := res.DurationSeconds; d != 0 {
		t.Errorf("the check set its own duration %v", d)
	}
}

func TestCheck_RecordedFaultsFailTheirRules(t *testing.T) {
	const rate = 16000
	for _, tc := range []struct {
		name, rule, reason string
		signal             []float64
	}{
		{"all-zero silence", "microphone_silence", "digital_silence is yes", make([]float64, 3*rate)},
		{"clipped speech", "clipping", "clip_ratio", clip(sine(rate, 3, 300, 6))},
		{"hiss at -30 dBFS", "noise_floor", "above the fail limit", noise(rand.New(rand.NewPCG(5, 5)), 3*rate, -30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeWAV(t, "fault.wav", rate, 2, tc.signal)
			c, err := audio.New(audio.Config{Source: "file:" + path, Window: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			res := runOnce(t, c, defaultStandard(t))
			if res.Verdict != wire.Fail {
				t.Errorf("verdict %s, want fail; rules: %v", res.Verdict, failing(res))
			}
			r, ok := ruleOf(res, tc.rule)
			if !ok || r.Verdict != wire.Fail || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("rule %s: %+v; want fail with %q", tc.rule, r, tc.reason)
			}
		})
	}
}

func TestNew_RejectsBadSourcesAndSettings(t *testing.T) {
	dir := t.TempDir()
	truncated := filepath.Join(dir, "cut.wav")
	b := wavBytes(t, 48000, 1, 16, sine(48000, 1, 440, -20))
	if err := os.WriteFile(truncated, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	notWAV := filepath.Join(dir, "notes.wav")
	if err := os.WriteFile(notWAV, []byte("meeting notes, not audio"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.wav")
	if err := os.WriteFile(empty, wavBytes(t, 48000, 1, 16, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  audio.Config
		want string
	}{
		{"truncated WAV", audio.Config{Source: "file:" + truncated}, truncated + ": truncated WAV file: data chunk says 96000 bytes, file has 47978"},
		{"not a WAV", audio.Config{Source: "file:" + notWAV}, notWAV + `: not a WAV file: starts with "meeting note"`},
		{"missing file", audio.Config{Source: "file:" + filepath.Join(dir, "nope.wav")}, "no such file"},
		{"empty recording", audio.Config{Source: "file:" + empty}, "no audio"},
		{"no path", audio.Config{Source: "file:"}, "no file named"},
		{"unknown scheme", audio.Config{Source: "alsa:hw:0"}, `want "" (the live microphone) or file:PATH.wav`},
		{"window too short", audio.Config{Window: time.Millisecond}, "audio window 1ms: want 500ms to 20s"},
		{"window too long", audio.Config{Window: time.Minute}, "audio window 1m0s"},
		{"loud test signal", audio.Config{LoopbackLevel: -1}, "loopback level -1 dBFS: want -60 to -6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audio.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// fakeDriver is a sound system in memory: a microphone that hears what mic
// returns, and, when loop is set, hears the speaker's signal through it.
type fakeDriver struct {
	openErr           error
	recordErr         error
	microphones       []audio.Device
	speakers          []audio.Device
	mic               func(window time.Duration) audio.PCM
	loopGain          float64 // dB from speaker to microphone; 0: the microphone does not hear the speaker
	loopDelay         time.Duration
	mu                sync.Mutex
	recorded, played  []audio.Device
	opened, closed    int
	lastSignalLevelDB float64
}

func (f *fakeDriver) Open(context.Context) (audio.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.openErr != nil {
		return nil, f.openErr
	}
	f.opened++
	return &fakeSession{f}, nil
}

type fakeSession struct{ f *fakeDriver }

func (s *fakeSession) Backend() string { return "fake" }

func (s *fakeSession) Close() error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.closed++
	return nil
}

func (s *fakeSession) Devices(context.Context) ([]audio.Device, []audio.Device, error) {
	return s.f.microphones, s.f.speakers, nil
}

func (s *fakeSession) Record(_ context.Context, mic audio.Device, window time.Duration) (audio.PCM, error) {
	s.f.mu.Lock()
	s.f.recorded = append(s.f.recorded, mic)
	err := s.f.recordErr
	s.f.mu.Unlock()
	if err != nil {
		return audio.PCM{}, err
	}
	return s.f.mic(window), nil
}

func (s *fakeSession) PlayRecord(_ context.Context, loop audio.Loop) (audio.LoopCapture, error) {
	s.f.mu.Lock()
	s.f.played = append(s.f.played, loop.Speaker)
	s.f.lastSignalLevelDB = audio.Analyze(loop.Signal).Peak
	s.f.mu.Unlock()
	rec := s.f.mic(loop.Lead + loop.Signal.Duration() + loop.Tail)
	playedAt := int(loop.Lead.Seconds() * float64(rec.Rate))
	if s.f.loopGain != 0 {
		at := playedAt + int(s.f.loopDelay.Seconds()*float64(rec.Rate))
		g := float32(math.Pow(10, s.f.loopGain/20))
		sig := audio.Chirp(rec.Rate, audio.Analyze(loop.Signal).Peak)
		for i, v := range sig.Samples {
			for c := 0; c < rec.Channels && at+i < rec.Frames(); c++ {
				rec.Samples[(at+i)*rec.Channels+c] += g * v
			}
		}
	}
	return audio.LoopCapture{PCM: rec, PlayedAt: playedAt}, nil
}

// quietRoom is a microphone hearing speech-like sound at -20 dBFS.
func quietRoom(window time.Duration) audio.PCM {
	return pcm(48000, 2, speechLike(48000, window.Seconds(), -20, -60))
}

// hiss is a microphone hearing only noise at -70 dBFS.
func hiss(window time.Duration) audio.PCM {
	return pcm(48000, 1, noise(rand.New(rand.NewPCG(9, 9)), int(window.Seconds()*48000), -70))
}

var (
	usbMic      = audio.Device{Name: "USB Conference Speakerphone Mono", ID: "alsa_input.usb-speakerphone", Default: true}
	builtinMic  = audio.Device{Name: "Built-in Audio Analog Stereo", ID: "alsa_input.pci-analog"}
	monitor     = audio.Device{Name: "Monitor of USB Conference Speakerphone", ID: "alsa_output.usb-speakerphone.monitor", Monitor: true}
	usbSpeaker  = audio.Device{Name: "USB Conference Speakerphone Analog Stereo", ID: "alsa_output.usb-speakerphone", Default: true}
	neverInUse  = func(context.Context) (bool, string) { return false, "" }
	meetingNow  = func(context.Context) (bool, string) { return true, "Zoom (recording stream #4)" }
	roomDevices = []audio.Device{builtinMic, monitor, usbMic}
)

func TestCheck_LiveMicrophoneAndLoopback(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cfg         audio.Config
		drv         *fakeDriver
		wantTarget  string
		wantVerdict wire.Verdict
		wantReason  string
		wantID      string             // the device recorded, when names do not tell
		want        map[string]float64 // measurements checked (±1 for levels)
		absent      []string
	}{
		{
			name:        "default devices, speaker heard at -19.5 dBFS",
			drv:         &fakeDriver{microphones: roomDevices, speakers: []audio.Device{usbSpeaker}, mic: quietRoom, loopGain: -0.5, loopDelay: 42 * time.Millisecond},
			wantTarget:  usbMic.Name,
			wantVerdict: wire.Pass,
			want:        map[string]float64{"rms_dbfs": -20, "loopback_detected": 1, "loopback_level_dbfs": -19.5, "loopback_delay_seconds": 0.042},
		},
		{
			name:        "microphone chosen by name",
			cfg:         audio.Config{Microphone: "built-in", NoLoopback: true},
			drv:         &fakeDriver{microphones: roomDevices, mic: quietRoom},
			wantTarget:  builtinMic.Name,
			wantVerdict: wire.Pass,
			absent:      []string{"loopback_detected"},
		},
		{
			name: "microphone chosen by id among devices of one name",
			cfg:  audio.Config{Microphone: ":0,1", NoLoopback: true},
			drv: &fakeDriver{microphones: []audio.Device{
				{Name: "Loopback, Loopback PCM", ID: ":0,0", Default: true}, {Name: "Loopback, Loopback PCM", ID: ":0,1"},
			}, mic: quietRoom},
			wantTarget:  "Loopback, Loopback PCM",
			wantID:      ":0,1",
			wantVerdict: wire.Pass,
		},
		{
			name:        "monitor only when named",
			cfg:         audio.Config{Microphone: "monitor of", NoLoopback: true},
			drv:         &fakeDriver{microphones: roomDevices, mic: quietRoom},
			wantTarget:  monitor.Name,
			wantVerdict: wire.Pass,
		},
		{
			name:        "speaker not heard",
			drv:         &fakeDriver{microphones: roomDevices, speakers: []audio.Device{usbSpeaker}, mic: quietRoom},
			wantTarget:  usbMic.Name,
			wantVerdict: wire.Fail,
			wantReason:  "the microphone did not hear the test signal played on USB Conference Speakerphone Analog Stereo",
			want:        map[string]float64{"loopback_detected": 0},
			absent:      []string{"loopback_level_dbfs", "loopback_delay_seconds"},
		},
		{
			name:        "no speaker",
			drv:         &fakeDriver{microphones: roomDevices, mic: quietRoom},
			wantTarget:  usbMic.Name,
			wantVerdict: wire.Fail,
			wantReason:  "loopback not run: no speaker found with fake",
			want:        map[string]float64{"loopback_detected": 0},
		},
		{
			name:        "only monitors",
			drv:         &fakeDriver{microphones: []audio.Device{monitor}, mic: quietRoom},
			wantTarget:  "microphone",
			wantVerdict: wire.Fail,
			wantReason:  `no microphone found (only monitors of outputs: "Monitor of USB Conference Speakerphone") with fake`,
		},
		{
			name:        "no devices at all",
			drv:         &fakeDriver{mic: quietRoom},
			wantTarget:  "microphone",
			wantVerdict: wire.Fail,
			wantReason:  "no microphone found with fake",
		},
		{
			name:        "named microphone missing",
			cfg:         audio.Config{Microphone: "Jabra"},
			drv:         &fakeDriver{microphones: roomDevices, mic: quietRoom},
			wantTarget:  "Jabra",
			wantVerdict: wire.Fail,
			wantReason:  `no microphone named like "Jabra"; found: "Built-in Audio Analog Stereo", "Monitor of USB Conference Speakerphone", "USB Conference Speakerphone Mono" with fake`,
		},
		{
			name:        "no sound server",
			drv:         &fakeDriver{openErr: errors.New("PulseAudio: Failed to connect PulseAudio context; ALSA: no cards")},
			wantTarget:  "microphone",
			wantVerdict: wire.Error,
			wantReason:  "no sound server: PulseAudio: Failed to connect PulseAudio context; ALSA: no cards",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Driver, cfg.InUse, cfg.Window = tc.drv, neverInUse, time.Second
			c, err := audio.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			res := runOnce(t, c, defaultStandard(t))
			t.Logf("%s %s %q %v", res.Target, res.Verdict, res.Reason, res.Measurements)
			if res.Target != tc.wantTarget || res.Verdict != tc.wantVerdict {
				t.Errorf("target %q verdict %s; want %q %s; rules %v", res.Target, res.Verdict, tc.wantTarget, tc.wantVerdict, failing(res))
			}
			if tc.wantReason != "" && res.Reason != tc.wantReason {
				t.Errorf("reason %q\nwant   %q", res.Reason, tc.wantReason)
			}
			if tc.wantID != "" && (len(tc.drv.recorded) != 1 || tc.drv.recorded[0].ID != tc.wantID) {
				t.Errorf("recorded %+v, want the device %s", tc.drv.recorded, tc.wantID)
			}
			for name, want := range tc.want {
				got, ok := res.Measurements[name]
				if !ok || math.Abs(got-want) > 1 || (strings.HasSuffix(name, "_seconds") && math.Abs(got-want) > 0.001) {
					t.Errorf("%s = %v (measured %v), want %v", name, got, ok, want)
				}
			}
			for _, name := range tc.absent {
				if _, ok := res.Measurements[name]; ok {
					t.Errorf("%s measured, want absent", name)
				}
			}
			if tc.drv.opened != tc.drv.closed {
				t.Errorf("sound system opened %d times, closed %d", tc.drv.opened, tc.drv.closed)
			}
		})
	}
}

func TestCheck_LoopbackPlaysAtTheConfiguredLevel(t *testing.T) {
	drv := &fakeDriver{microphones: roomDevices, speakers: []audio.Device{usbSpeaker}, mic: hiss, loopGain: -3}
	for _, tc := range []struct {
		level, want float64
	}{{0, audio.DefaultLoopbackLevel}, {-40, -40}} {
		c, err := audio.New(audio.Config{Driver: drv, InUse: neverInUse, Window: time.Second, LoopbackLevel: tc.level})
		if err != nil {
			t.Fatal(err)
		}
		res := runOnce(t, c, defaultStandard(t))
		if math.Abs(drv.lastSignalLevelDB-tc.want) > 0.05 {
			t.Errorf("signal played at %.2f dBFS, want %v", drv.lastSignalLevelDB, tc.want)
		}
		if got := res.Measurements["loopback_level_dbfs"]; math.Abs(got-(tc.want-3)) > 0.5 {
			t.Errorf("heard at %v dBFS, want %v", got, tc.want-3)
		}
	}
}

func TestCheck_InUseMeasuresTheMicrophoneAndPlaysNothing(t *testing.T) {
	drv := &fakeDriver{microphones: roomDevices, speakers: []audio.Device{usbSpeaker}, mic: quietRoom, loopGain: -0.5}
	c, err := audio.New(audio.Config{Driver: drv, InUse: meetingNow, Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res := runOnce(t, c, defaultStandard(t))
	if res.Verdict != wire.Pass || res.Reason != "loopback held back: microphone or speaker in use by Zoom (recording stream #4); not played since the agent started" {
		t.Errorf("in use: %s %q", res.Verdict, res.Reason)
	}
	if len(drv.recorded) != 1 || len(drv.played) != 0 || res.Measurements["peak_dbfs"] == 0 {
		t.Errorf("in use: %d recordings, %d plays, measurements %v: want the microphone measured in shared mode and no sound", len(drv.recorded), len(drv.played), res.Measurements)
	}
}

func TestCheck_HeldBackRunMeasuresTheMicrophoneAndPlaysNothing(t *testing.T) {
	drv := &fakeDriver{microphones: roomDevices, speakers: []audio.Device{usbSpeaker}, mic: quietRoom, loopGain: -0.5}
	c, err := audio.New(audio.Config{Driver: drv, InUse: neverInUse, Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	std := defaultStandard(t)
	runOnce(t, c, std) // plays
	held := quiet.WithHold(context.Background(), quiet.Hold{Code: wire.CodeHeldBack, Reason: `meeting "Rapat" 09:00Z to 10:00Z (quiet 08:58Z to 10:02Z)`})
	res, err := c.Run(held, std)
	if err != nil {
		t.Fatal(err)
	}
	std.Evaluate(&res[0])
	if len(drv.played) != 1 || len(drv.recorded) != 2 {
		t.Errorf("%d plays and %d recordings, want the free run's play and both recordings", len(drv.played), len(drv.recorded))
	}
	if !regexp.MustCompile(`^loopback held back: meeting "Rapat" 09:00Z to 10:00Z \(quiet 08:58Z to 10:02Z\); last played at \d\d:\d\d:\d\dZ$`).MatchString(res[0].Reason) || res[0].Verdict != wire.Pass {
		t.Errorf("held back: %s %q", res[0].Verdict, res[0].Reason)
	}
}

func TestCheck_MicrophoneHeldExclusivelyIsSkippedAndTheRunnerRepeatsThePreviousResult(t *testing.T) {
	drv := &fakeDriver{microphones: roomDevices, speakers: []audio.Device{usbSpeaker}, mic: quietRoom, loopGain: -0.5}
	var busy bool
	var mu sync.Mutex
	inUse := func(context.Context) (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		if busy {
			return true, "Zoom (recording stream #4)"
		}
		return false, ""
	}
	c, err := audio.New(audio.Config{Driver: drv, InUse: inUse, Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	std := defaultStandard(t)
	r := &runner.Runner{Site: "s", Room: "r", Standard: std, Checks: []runner.Check{c}}
	measured := r.Run(context.Background()).Checks[0]
	if measured.Verdict != wire.Pass {
		t.Fatalf("free devices: %s %v", measured.Verdict, failing(measured))
	}
	mu.Lock()
	busy = true
	mu.Unlock()
	drv.recordErr = errors.New("device in use (exclusive mode)")
	alone := runOnce(t, c, std)
	if alone.Verdict != wire.Skipped || alone.Code != wire.CodeInUse || alone.Measurements != nil {
		t.Errorf("the check alone, held exclusively: %+v, want skipped in_use without measurements", alone)
	}
	r.Run(context.Background()) // the runner's first result is its own
	skipped := r.Run(context.Background()).Checks[0]
	if skipped.Verdict != wire.Skipped || skipped.Code != wire.CodeInUse || skipped.Target != measured.Target {
		t.Errorf("held exclusively: %s %s on %q, want skipped in_use on %q", skipped.Verdict, skipped.Code, skipped.Target, measured.Target)
	}
	if !regexp.MustCompile(`^microphone or speaker in use by Zoom \(recording stream #4\); the microphone could not be recorded: device in use \(exclusive mode\); repeating the result measured at \d\d:\d\d:\d\dZ`).MatchString(skipped.Reason) {
		t.Errorf("reason %q", skipped.Reason)
	}
	for name, v := range measured.Measurements {
		if skipped.Measurements[name] != v {
			t.Errorf("%s repeated as %v, was %v", name, skipped.Measurements[name], v)
		}
	}
	if len(skipped.Rules) != 0 || len(drv.played) != 1 {
		t.Errorf("a skipped result was judged (%v) or the signal played during the meeting (%d plays)", skipped.Rules, len(drv.played))
	}
}

func TestCheck_MeetingStartingAfterTheRecordingStopsTheLoopback(t *testing.T) {
	drv := &fakeDriver{microphones: roomDevices, speakers: []audio.Device{usbSpeaker}, mic: quietRoom, loopGain: -0.5}
	calls := 0
	inUse := func(context.Context) (bool, string) {
		calls++
		return calls > 1, "Teams (playback stream #9)"
	}
	c, err := audio.New(audio.Config{Driver: drv, InUse: inUse, Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res := runOnce(t, c, defaultStandard(t))
	if len(drv.played) != 0 {
		t.Error("the test signal was played during a meeting")
	}
	if res.Verdict != wire.Pass || res.Reason != "loopback not run: speaker or microphone in use by Teams (playback stream #9)" {
		t.Errorf("%s %q", res.Verdict, res.Reason)
	}
}

// TestCheck_OneRunAtATime: under the runner, a run that comes while
// another holds the devices (a command beside the periodic check) waits for
// it and measures; only one whose deadline ends first is not started.
func TestCheck_OneRunAtATime(t *testing.T) {
	release := make(chan struct{})
	drv := &fakeDriver{microphones: roomDevices, mic: func(w time.Duration) audio.PCM {
		<-release
		return quietRoom(w)
	}}
	c, err := audio.New(audio.Config{Driver: drv, InUse: neverInUse, NoLoopback: true, Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r := &runner.Runner{Site: "s", Room: "r", Standard: defaultStandard(t), Checks: []runner.Check{c}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(context.Background())
	}()
	// Wait for the first run to hold the devices.
	for i := 0; ; i++ {
		drv.mu.Lock()
		n := drv.opened
		drv.mu.Unlock()
		if n > 0 {
			break
		}
		if i > 1000 {
			t.Fatal("the first run never opened the sound system")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	skipped := r.Run(ctx).Checks
	cancel()
	if len(skipped) != 1 || skipped[0].Verdict != wire.Skipped ||
		!regexp.MustCompile(`^the audio check was not started again: its run begun at \d\d:\d\d:\d\dZ is still going; no earlier result to repeat$`).MatchString(skipped[0].Reason) {
		t.Errorf("a run whose deadline came first: %+v", skipped)
	}
	waited := make(chan wire.CheckResult, 1)
	go func() { waited <- r.Run(context.Background()).Checks[0] }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	<-done
	if res := <-waited; res.Verdict != wire.Pass || res.Measurements["rms_dbfs"] == 0 {
		t.Errorf("a run that waited: %s %q %v", res.Verdict, res.Reason, res.Measurements)
	}
	drv.mu.Lock()
	defer drv.mu.Unlock()
	if drv.opened != 2 {
		t.Errorf("the sound system was opened %d times, want 2 (the first run, then the one that waited)", drv.opened)
	}
}

func TestCheck_Name(t *testing.T) {
	c, err := audio.New(audio.Config{Driver: &fakeDriver{}, InUse: meetingNow})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != wire.CheckAudio {
		t.Errorf("name %q", c.Name())
	}
}

// gateAfter holds intrusive acts from its n-th question on: a meeting's
// margin beginning while a run is under way.
type gateAfter struct {
	n, asked int
}

func (g *gateAfter) Hold(context.Context) (quiet.Hold, bool) {
	g.asked++
	if g.asked < g.n {
		return quiet.Hold{}, false
	}
	return quiet.Hold{Code: wire.CodeHeldBack, Reason: `meeting "Rapat" 09:00Z to 10:00Z (quiet 08:58Z to 10:02Z)`}, true
}

func TestCheck_AMarginBeginningDuringTheRecordingHoldsTheLoopback(t *testing.T) {
	drv := &fakeDriver{microphones: roomDevices, speakers: []audio.Device{usbSpeaker}, mic: quietRoom, loopGain: -0.5}
	c, err := audio.New(audio.Config{Driver: drv, InUse: neverInUse, Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	g := &gateAfter{n: 2}
	res, err := c.Run(quiet.WithGate(context.Background(), g), defaultStandard(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(drv.played) != 0 || len(drv.recorded) != 1 || g.asked != 2 {
		t.Errorf("%d plays, %d recordings, gate asked %d times: want the recording, then the gate asked again before playing", len(drv.played), len(drv.recorded), g.asked)
	}
	if res[0].Reason != `loopback held back: meeting "Rapat" 09:00Z to 10:00Z (quiet 08:58Z to 10:02Z); not played since the agent started` {
		t.Errorf("reason %q", res[0].Reason)
	}
}
