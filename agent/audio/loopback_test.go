package audio_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/audio"
)

// loopRecording is 1.5 s at a rate: noise at noiseLevel throughout, and the
// chirp at chirpLevel (0: no chirp), starting delay after playedAt, on
// channel ch of channels.
func loopRecording(rate, channels, ch int, noiseLevel, chirpLevel float64, playedAt int, delay time.Duration) audio.LoopCapture {
	rng := rand.New(rand.NewPCG(3, 4))
	n := rate * 3 / 2
	p := audio.PCM{Rate: rate, Channels: channels, Bits: 16, Samples: make([]float32, n*channels)}
	for i, v := range noise(rng, n*channels, noiseLevel) {
		p.Samples[i] = float32(v)
	}
	if chirpLevel != 0 {
		c := audio.Chirp(rate, chirpLevel)
		start := playedAt + int(delay.Seconds()*float64(rate))
		for i, v := range c.Samples {
			if start+i < n {
				p.Samples[(start+i)*channels+ch] += v
			}
		}
	}
	return audio.LoopCapture{PCM: p, PlayedAt: playedAt}
}

func TestDetect_FindsTheChirpWithItsLevelAndDelay(t *testing.T) {
	for _, tc := range []struct {
		name              string
		rate, channels    int
		ch                int
		noise, chirp      float64
		delay             time.Duration
		wantLevel, within float64
	}{
		{"clean loop", 48000, 2, 0, -120, -30, 37 * time.Millisecond, -30, 0.1},
		{"quiet room, 44.1 kHz mono", 44100, 1, 0, -65, -40, 120 * time.Millisecond, -40, 0.2},
		{"noisy room, right channel only", 48000, 2, 1, -50, -45, 250 * time.Millisecond, -45, 1},
		{"16 kHz headset", 16000, 1, 0, -70, -35, 10 * time.Millisecond, -35, 0.2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			playedAt := tc.rate * 3 / 10
			d := audio.Detect(loopRecording(tc.rate, tc.channels, tc.ch, tc.noise, tc.chirp, playedAt, tc.delay))
			t.Logf("correlation %.3f, level %.2f dBFS, delay %v, channel %d", d.Correlation, d.Level, d.Delay, d.Channel)
			if !d.Detected {
				t.Fatalf("not detected (correlation %.3f)", d.Correlation)
			}
			if math.Abs(d.Level-tc.wantLevel) > tc.within {
				t.Errorf("level %.2f dBFS, want %.1f ± %.1f", d.Level, tc.wantLevel, tc.within)
			}
			if diff := d.Delay - tc.delay; diff < -time.Millisecond || diff > time.Millisecond {
				t.Errorf("delay %v, want %v", d.Delay, tc.delay)
			}
			if d.Channel != tc.ch {
				t.Errorf("heard best on channel %d, want %d", d.Channel, tc.ch)
			}
			m := d.Measurements()
			finite(t, m)
			if m["loopback_detected"] != 1 || m["loopback_delay_seconds"] < 0 {
				t.Errorf("measurements %v", m)
			}
		})
	}
}

func TestDetect_InvertedPolarityIsStillHeard(t *testing.T) {
	rec := loopRecording(48000, 1, 0, -80, -30, 14400, 20*time.Millisecond)
	for i := range rec.PCM.Samples {
		rec.PCM.Samples[i] = -rec.PCM.Samples[i]
	}
	if d := audio.Detect(rec); !d.Detected || math.Abs(d.Level+30) > 0.2 {
		t.Errorf("inverted chirp: %+v", d)
	}
}

func TestDetect_NoChirpIsNotHeard(t *testing.T) {
	for _, tc := range []struct {
		name  string
		noise float64
		chirp float64 // 0: none
	}{
		{"room noise only", -40, 0},
		{"digital silence", -400, 0},
		{"chirp buried 30 dB under noise", -20, -50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := loopRecording(48000, 2, 0, tc.noise, tc.chirp, 14400, 50*time.Millisecond)
			if tc.noise < -300 {
				clear(rec.PCM.Samples)
			}
			d := audio.Detect(rec)
			t.Logf("correlation %.3f", d.Correlation)
			if d.Detected {
				t.Errorf("detected: %+v", d)
			}
			m := d.Measurements()
			finite(t, m)
			if len(m) != 1 || m["loopback_detected"] != 0 {
				t.Errorf("measurements %v, want only loopback_detected 0", m)
			}
		})
	}
}

func TestDetect_ChirpBeforeItWasPlayedIsNotHeard(t *testing.T) {
	// Something chirp-like 200 ms before the speaker took the signal is not
	// the loopback.
	rec := loopRecording(48000, 1, 0, -90, -30, 24000, -200*time.Millisecond)
	if d := audio.Detect(rec); d.Detected {
		t.Errorf("detected a chirp recorded before it was played: %+v", d)
	}
}

func TestChirp_HasItsLevelAndLength(t *testing.T) {
	c := audio.Chirp(48000, -30)
	if c.Duration() != audio.ChirpLength {
		t.Errorf("length %v, want %v", c.Duration(), audio.ChirpLength)
	}
	l := audio.Analyze(c)
	// The fades take a little of its energy: within 0.2 dB of the level.
	if math.Abs(l.Peak+30) > 0.05 || math.Abs(l.RMS+30) > 0.2 {
		t.Errorf("peak %.2f, RMS %.2f dBFS; want -30", l.Peak, l.RMS)
	}
	if c.Samples[0] != 0 {
		t.Errorf("starts at %v, want 0 (no click)", c.Samples[0])
	}
}

func BenchmarkDetect_OneAndAHalfSecondsStereo48k(b *testing.B) {
	rec := loopRecording(48000, 2, 0, -60, -30, 14400, 40*time.Millisecond)
	b.ResetTimer()
	for b.Loop() {
		audio.Detect(rec)
	}
}
