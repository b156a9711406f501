//go:build linux && cgo

package audio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/audio"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/wire"
)

// pulseServer is a private PulseAudio server with one null sink, "siap",
// whose monitor ("Monitor of Null Output") is the microphone the tests
// record through the real miniaudio driver.
type pulseServer struct {
	dir           string
	pactl, paplay string
}

// startPulse starts PulseAudio for the test and points the process (and
// so miniaudio, pactl and paplay) at it with PULSE_SERVER. Root needs no
// --system: PulseAudio only warns, and a private HOME and XDG_RUNTIME_DIR
// keep it off the machine's own server and cookie.
func startPulse(t *testing.T) *pulseServer {
	t.Helper()
	daemon := testenv.Command(t, "pulseaudio", "pulseaudio")
	ps := &pulseServer{
		pactl:  testenv.Command(t, "pactl", "pulseaudio-utils"),
		paplay: testenv.Command(t, "paplay", "pulseaudio-utils"),
	}
	// A short path: a unix socket's path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "siaprapat-pulse-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ps.dir = dir
	socket := filepath.Join(dir, "native")
	t.Setenv("HOME", dir)
	t.Setenv("XDG_RUNTIME_DIR", dir)
	t.Setenv("PULSE_SERVER", "unix:"+socket)
	logFile, err := os.Create(filepath.Join(dir, "pulseaudio.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--daemonize=no", "--exit-idle-time=-1", "-n", "--use-pid-file=no",
		"--log-target=stderr",
		"--load=module-native-protocol-unix socket="+socket+" auth-anonymous=1",
		"--load=module-null-sink sink_name=siap rate=48000 format=s16le channels=2")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pulseaudio: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("pulseaudio log:\n%s", b)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := exec.Command(ps.pactl, "info").Run(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pulseaudio did not answer pactl info within 15 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The monitor carries the sink's volume: 100 % is unity gain.
	ps.run(t, "set-sink-volume", "siap", "100%")
	return ps
}

func (ps *pulseServer) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(ps.pactl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("pactl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// play plays a WAV into the null sink until the test ends, and returns
// once the server has the stream.
func (ps *pulseServer) play(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command(ps.paplay, "--device=siap", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("paplay: %v", err)
	}
	stop := func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for strings.TrimSpace(ps.run(t, "list", "short", "sink-inputs")) == "" {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("paplay's stream did not appear within 10 s: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // into the sink and its monitor
}

const nullMonitor = "Monitor of Null Output"

func TestPulseAudio_MeasuresKnownSignalsThroughTheRealDriver(t *testing.T) {
	ps := startPulse(t)
	std := defaultStandard(t)
	const rate = 48000
	const window = 2 * time.Second // whole periods of every signal below

	// The default microphone of this server is the null sink's monitor:
	// not a microphone unless named.
	t.Run("no microphone but a monitor", func(t *testing.T) {
		c, err := audio.New(audio.Config{NoLoopback: true, InUse: neverInUse})
		if err != nil {
			t.Fatal(err)
		}
		res := runOnce(t, c, std)
		want := `no microphone found (only monitors of outputs: "Monitor of Null Output") with PulseAudio`
		if res.Verdict != wire.Fail || res.Reason != want {
			t.Errorf("%s %q, want fail %q", res.Verdict, res.Reason, want)
		}
	})

	for _, tc := range []struct {
		name        string
		signal      []float64
		wantVerdict wire.Verdict
		wantFailing string // a rule that fails
	}{
		{"tone at -20 dBFS", sine(rate, 10, 1000, -20), wire.Fail, "noise_floor"}, // a steady tone is its own floor
		{"speech-like at -20 dBFS", speechLike(rate, 10, -20, -60), wire.Pass, ""},
		{"clipped", clip(sine(rate, 10, 250, 6)), wire.Fail, "clipping"},
		{"silence", make([]float64, 10*rate), wire.Fail, "microphone_silence"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeWAV(t, "signal.wav", rate, 2, tc.signal)
			file, err := audio.ReadWAV(path)
			if err != nil {
				t.Fatal(err)
			}
			truth := audio.Analyze(file.Slice(0, int(window.Seconds()*rate)))
			ps.play(t, path)

			c, err := audio.New(audio.Config{Microphone: nullMonitor, NoLoopback: true, Window: window, InUse: neverInUse})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res := runOnce(t, c, std)
			m := res.Measurements
			t.Logf("%s: recorded %v in %v from %q", tc.name, window, time.Since(start).Round(time.Millisecond), res.Target)
			t.Logf("  rms   measured %8.2f dBFS  true %8.2f", m["rms_dbfs"], truth.RMS)
			t.Logf("  peak  measured %8.2f dBFS  true %8.2f", m["peak_dbfs"], truth.Peak)
			t.Logf("  noise measured %8.2f dBFS  true %8.2f", m["noise_floor_dbfs"], truth.NoiseFloor)
			t.Logf("  clip  measured %8.5f       true %8.5f", m["clip_ratio"], truth.ClipRatio)
			t.Logf("  silence %v, dc %.6f, %v Hz, %v bits; verdict %s %v", m["digital_silence"], m["dc_offset_ratio"],
				m["sample_rate_hertz"], m["sample_bits"], res.Verdict, failing(res))

			if res.Target != nullMonitor {
				t.Errorf("target %q, want %q", res.Target, nullMonitor)
			}
			for _, q := range []struct {
				name           string
				measured, true float64
			}{
				{"rms_dbfs", m["rms_dbfs"], truth.RMS},
				{"peak_dbfs", m["peak_dbfs"], truth.Peak},
				{"noise_floor_dbfs", m["noise_floor_dbfs"], truth.NoiseFloor},
			} {
				if math.Abs(q.measured-q.true) > 1 {
					t.Errorf("%s measured %.2f, true %.2f: more than 1 dB apart", q.name, q.measured, q.true)
				}
			}
			if math.Abs(m["clip_ratio"]-truth.ClipRatio) > 0.01 {
				t.Errorf("clip_ratio measured %v, true %v", m["clip_ratio"], truth.ClipRatio)
			}
			if (m["digital_silence"] == 1) != truth.Silent {
				t.Errorf("digital_silence %v, true %v", m["digital_silence"], truth.Silent)
			}
			if m["sample_rate_hertz"] != rate || m["sample_bits"] != 16 {
				t.Errorf("format %v Hz %v bits, want the sink's 48000 Hz 16 bits", m["sample_rate_hertz"], m["sample_bits"])
			}
			if res.Verdict != tc.wantVerdict {
				t.Errorf("verdict %s, want %s; rules %v", res.Verdict, tc.wantVerdict, failing(res))
			}
			if tc.wantFailing != "" {
				if r, ok := ruleOf(res, tc.wantFailing); !ok || r.Verdict != wire.Fail {
					t.Errorf("rule %s: %+v, want fail", tc.wantFailing, r)
				}
			}
		})
	}

	// The speaker is the null sink and the microphone its monitor: the
	// check hears its own chirp. The default in-use detector asks this
	// server through pactl; nothing else plays, so it runs.
	c, err := audio.New(audio.Config{Microphone: nullMonitor, Speaker: "Null Output", Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var heard wire.CheckResult
	t.Run("loopback hears its own chirp", func(t *testing.T) {
		heard = runOnce(t, c, std)
		m := heard.Measurements
		t.Logf("loopback: detected %v, level measured %.2f dBFS true %.2f, delay %.4f s; verdict %s %v",
			m["loopback_detected"], m["loopback_level_dbfs"], audio.DefaultLoopbackLevel, m["loopback_delay_seconds"],
			heard.Verdict, failing(heard))
		if m["loopback_detected"] != 1 {
			t.Fatalf("not detected: %q %v", heard.Reason, m)
		}
		// The null sink's path has unity gain, but the chirp is timed by
		// two streams' buffering: a dropped period shortens what is heard
		// (seen: -20.6 dBFS for -19 once in several runs). The levels of
		// played WAVs above are held to 1 dB; the loopback to 3.
		if math.Abs(m["loopback_level_dbfs"]-audio.DefaultLoopbackLevel) > 3 {
			t.Errorf("heard at %.2f dBFS, played at %.1f: more than 3 dB apart", m["loopback_level_dbfs"], audio.DefaultLoopbackLevel)
		}
		if d := m["loopback_delay_seconds"]; d < 0 || d > 0.5 {
			t.Errorf("delay %v s, want 0 to 0.5 through a null sink", d)
		}
		// Nothing else played: the microphone window was silence.
		if r, ok := ruleOf(heard, "microphone_silence"); !ok || r.Verdict != wire.Fail {
			t.Errorf("microphone_silence: %+v", r)
		}
	})

	t.Run("devices in use: the microphone is measured in shared mode, no signal plays", func(t *testing.T) {
		if heard.Measurements == nil {
			t.Skip("the loopback run failed")
		}
		ps.play(t, writeWAV(t, "meeting.wav", rate, 2, speechLike(rate, 10, -20, -60)))
		res := runOnce(t, c, std)
		t.Logf("in use: %s %q %v", res.Verdict, res.Reason, res.Measurements)
		if !strings.HasPrefix(res.Reason, "loopback held back: microphone or speaker in use by paplay (playback stream #") {
			t.Errorf("%s %q", res.Verdict, res.Reason)
		}
		if _, played := res.Measurements["loopback_detected"]; played {
			t.Errorf("a loopback ran while the devices were in use: %v", res.Measurements)
		}
		// The monitor hears the meeting's speech (-20 dBFS), not the silence before.
		if m := res.Measurements["rms_dbfs"]; math.Abs(m-(-20)) > 2 {
			t.Errorf("rms %.2f dBFS while the meeting plays at -20", m)
		}
	})
}

// TestMiniaudio_NoSoundServerIsAClearResultAndSilent runs the check in a
// child process with PULSE_SERVER pointing nowhere, and requires a clear
// result and nothing at all on stderr (ALSA and JACK print there when left
// to themselves).
func TestMiniaudio_NoSoundServerIsAClearResultAndSilent(t *testing.T) {
	if os.Getenv("SIAPRAPAT_AUDIO_CHILD") == "1" {
		c, err := audio.New(audio.Config{NoLoopback: true, InUse: neverInUse, Window: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		results, err := c.Run(context.Background(), defaultStandard(t))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(results)
		os.Stdout.Write(append([]byte("RESULT "), append(b, '\n')...))
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMiniaudio_NoSoundServerIsAClearResultAndSilent$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SIAPRAPAT_AUDIO_CHILD=1", "PULSE_SERVER=unix:"+filepath.Join(dir, "none"),
		"HOME="+dir, "XDG_RUNTIME_DIR="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("the check wrote on stderr:\n%s", stderr.String())
	}
	_, line, ok := strings.Cut(stdout.String(), "RESULT ")
	if !ok {
		t.Fatalf("no result from the child:\n%s", stdout.String())
	}
	var results []wire.CheckResult
	if err := json.Unmarshal([]byte(strings.SplitN(line, "\n", 2)[0]), &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 {
		t.Fatalf("results %+v", results)
	}
	res := results[0]
	t.Logf("no sound server: %s %q", res.Verdict, res.Reason)
	if _, err := os.Stat("/dev/snd"); err == nil {
		t.Logf("this machine has sound cards (/dev/snd): ALSA may find a microphone; only stderr is checked")
		return
	}
	if res.Verdict != wire.Fail || !strings.HasPrefix(res.Reason, "no microphone found with ALSA (PulseAudio: ") {
		t.Errorf("%s %q; want fail: no microphone found with ALSA (PulseAudio: why)", res.Verdict, res.Reason)
	}
}
