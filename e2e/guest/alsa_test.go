//go:build guest && linux

package guest

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siaprapat/siaprapat/wire"
)

// toneDBFS is the level of the tone aplay plays: a 1 kHz sine of amplitude
// 0.1 of full scale, -20 dBFS (a full-scale sine is 0 dBFS, AES17).
const toneDBFS = -20.0

// writeTone writes seconds of a 1 kHz sine at toneDBFS, 48 kHz, 16-bit
// stereo, as a WAV file.
func writeTone(t *testing.T, path string, seconds int) {
	t.Helper()
	const rate, channels = 48000, 2
	n := rate * seconds
	amp := math.Pow(10, toneDBFS/20) * 32767
	data := make([]byte, 44+n*channels*2)
	le := binary.LittleEndian
	copy(data[0:], "RIFF")
	le.PutUint32(data[4:], uint32(len(data)-8))
	copy(data[8:], "WAVEfmt ")
	le.PutUint32(data[16:], 16)
	le.PutUint16(data[20:], 1) // PCM
	le.PutUint16(data[22:], channels)
	le.PutUint32(data[24:], rate)
	le.PutUint32(data[28:], rate*channels*2)
	le.PutUint16(data[32:], channels*2)
	le.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	le.PutUint32(data[40:], uint32(n*channels*2))
	for i := 0; i < n; i++ {
		v := int16(math.Round(amp * math.Sin(2*math.Pi*1000*float64(i)/rate)))
		for c := 0; c < channels; c++ {
			le.PutUint16(data[44+(i*channels+c)*2:], uint16(v))
		}
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testALSA: snd-aloop's card loops what is played on one of its devices to
// the capture of the other (device 0 to device 1 and back); the agent
// reaches it through miniaudio's ALSA backend, with no sound server.
// miniaudio names both devices "Loopback, Loopback PCM"; they are chosen by
// id, ":0,0" and ":0,1".
func testALSA(t *testing.T, m *machine) {
	writeTone(t, filepath.Join(m.Share(), "tone.wav"), 8)
	audio := "--only audio --audio-window 2s"
	t.Run("ToneLevelWithinHalfADecibel", func(t *testing.T) {
		r, res := m.check(t, "aplay -q -D hw:Loopback,0 /mnt/tone.wav &\nplayer=$!\nsleep 1", "kill $player; wait",
			audio, "--no-loopback", "--microphone :0,1")
		c := result(t, r, wire.CheckAudio)
		got := c.Measurements["rms_dbfs"]
		t.Logf("tone at %.1f dBFS measured %.3f dBFS (error %.3f dB), peak %.3f dBFS, %v Hz, %v bits; %s",
			toneDBFS, got, got-toneDBFS, c.Measurements["peak_dbfs"], c.Measurements["sample_rate_hertz"], c.Measurements["sample_bits"], c.Verdict)
		if !near(got, toneDBFS, 0.5) {
			t.Errorf("rms %.3f dBFS, want %.1f +- 0.5\n%s", got, toneDBFS, res.Stderr)
		}
		if !strings.Contains(res.Stderr, "backend=ALSA") {
			t.Errorf("not through miniaudio's ALSA backend:\n%s", res.Stderr)
		}
	})
	t.Run("LoopbackHeardThroughTheCard", func(t *testing.T) {
		r, res := m.check(t, "", "", audio, "--loopback-every 0", "--speaker :0,0", "--microphone :0,1")
		c := result(t, r, wire.CheckAudio)
		ms := c.Measurements
		t.Logf("loopback: detected %v, level %.2f dBFS, delay %.3f s; %s %s", ms["loopback_detected"], ms["loopback_level_dbfs"], ms["loopback_delay_seconds"], c.Verdict, c.Reason)
		if ms["loopback_detected"] != 1 || !near(ms["loopback_level_dbfs"], -19, 1) {
			t.Errorf("loopback %v, want detected at about -19 dBFS (the chirp's level)\n%s", ms, res.Stderr)
		}
	})
	t.Run("NoCardIsNoMicrophone", func(t *testing.T) {
		r, res := m.check(t, "rmmod snd_aloop", "insmod /lib/guest-modules/snd-aloop.ko index=0 id=Loopback pcm_substreams=1", audio)
		c := result(t, r, wire.CheckAudio)
		if c.Verdict != wire.Fail || !strings.HasPrefix(c.Reason, "no microphone found") {
			t.Errorf("%s (%s), want fail \"no microphone found\"\n%s", c.Verdict, c.Reason, res.Stderr)
		}
		t.Logf("no card: %s: %s", c.Verdict, c.Reason)
	})
}
