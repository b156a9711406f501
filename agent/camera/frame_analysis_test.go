package camera

import (
	"math"
	"math/rand/v2"
	"testing"
)

// picture draws a w x h luma frame from f(x, y).
func picture(w, h int, f func(x, y int) float64) Frame {
	pix := make([]byte, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			pix[y*w+x] = byte(min(max(math.Round(f(x, y)), 0), 255))
		}
	}
	return Frame{Y: pix, Stride: w, Width: w, Height: h}
}

func checkerboard(x, y int) float64 {
	if (x/40+y/40)%2 == 1 {
		return 190
	}
	return 60
}

// noisy adds Gaussian noise of the given RMS to a picture, from its own seed.
func noisy(base func(x, y int) float64, rms float64, seed uint64) func(x, y int) float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	return func(x, y int) float64 { return base(x, y) + rng.NormFloat64()*rms }
}

func flat(v float64) func(x, y int) float64 { return func(int, int) float64 { return v } }

func TestAnalyze_FlagsFrames(t *testing.T) {
	const w, h = 1280, 720
	// A dark room (dim furniture) with a lit window: dark on average, but
	// not black.
	darkRoomWithWindow := func(x, y int) float64 {
		if x > 1000 && x < 1150 && y > 100 && y < 250 {
			return 200
		}
		if (x/40+y/40)%2 == 1 {
			return 40
		}
		return 5
	}
	// A smooth ramp: plenty of deviation, no edges (badly out of focus).
	ramp := func(x, y int) float64 { return 40 + 160*float64(x)/w }
	for _, tc := range []struct {
		name                     string
		prev, cur                Frame
		black, frozen, lowDetail bool
	}{
		{"NoisyCheckerboardIsFine", picture(w, h, noisy(checkerboard, 1.5, 1)), picture(w, h, noisy(checkerboard, 1.5, 2)), false, false, false},
		{"StaticSceneWithSensorNoiseIsNotFrozen", picture(w, h, noisy(checkerboard, 0.7, 1)), picture(w, h, noisy(checkerboard, 0.7, 2)), false, false, false},
		{"RepeatedBufferIsFrozen", picture(w, h, noisy(checkerboard, 1.5, 1)), picture(w, h, noisy(checkerboard, 1.5, 1)), false, true, false},
		{"VideoBlackIsBlack", picture(w, h, noisy(flat(16), 1, 1)), picture(w, h, noisy(flat(16), 1, 2)), true, false, true},
		{"FullRangeBlackIsBlack", picture(w, h, flat(0)), picture(w, h, flat(0)), true, true, true},
		{"DarkRoomWithWindowIsNotBlack", picture(w, h, noisy(darkRoomWithWindow, 1.5, 1)), picture(w, h, noisy(darkRoomWithWindow, 1.5, 2)), false, false, false},
		{"UniformGreyIsLowDetail", picture(w, h, noisy(flat(128), 1.5, 1)), picture(w, h, noisy(flat(128), 1.5, 2)), false, false, true},
		{"CoveredLensAtHighGainIsLowDetail", picture(w, h, noisy(flat(70), 5, 1)), picture(w, h, noisy(flat(70), 5, 2)), false, false, true},
		{"SmoothRampIsLowDetail", picture(w, h, noisy(ramp, 1, 1)), picture(w, h, noisy(ramp, 1, 2)), false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a analyzer
			if _, err := a.add(tc.prev); err != nil {
				t.Fatal(err)
			}
			st, err := a.add(tc.cur)
			if err != nil {
				t.Fatal(err)
			}
			if st.Black != tc.black || st.Frozen != tc.frozen || st.LowDetail != tc.lowDetail {
				t.Errorf("black %v frozen %v low detail %v, want %v %v %v (%+v)",
					st.Black, st.Frozen, st.LowDetail, tc.black, tc.frozen, tc.lowDetail, st)
			}
		})
	}
}

func TestAnalyze_RatiosCountFrames(t *testing.T) {
	const w, h = 320, 180
	black := picture(w, h, flat(16))
	scene := []Frame{picture(w, h, noisy(checkerboard, 1.5, 1)), picture(w, h, noisy(checkerboard, 1.5, 2))}
	var a analyzer
	// scene, scene (new noise), the same again (frozen), black: of 4 frames
	// 1 black and 1 featureless; of the 3 with one before, 1 frozen.
	for _, f := range []Frame{scene[0], scene[1], scene[1], black} {
		if _, err := a.add(f); err != nil {
			t.Fatal(err)
		}
	}
	if b, fr, ld := a.ratios(); b != 0.25 || math.Abs(fr-1.0/3) > 1e-12 || ld != 0.25 {
		t.Errorf("ratios black %v frozen %v low detail %v, want 0.25 0.333 0.25", b, fr, ld)
	}
}

func TestAnalyze_SizeChangeStartsOver(t *testing.T) {
	var a analyzer
	for _, f := range []Frame{picture(640, 360, checkerboard), picture(1280, 720, checkerboard)} {
		st, err := a.add(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Diff != -1 {
			t.Errorf("%dx%d: compared with a frame of another size (diff %v)", f.Width, f.Height, st.Diff)
		}
	}
}

func TestAnalyze_RejectsMalformedFrame(t *testing.T) {
	var a analyzer
	if _, err := a.add(Frame{Y: make([]byte, 100), Stride: 20, Width: 20, Height: 10}); err == nil {
		t.Error("a frame shorter than its size was accepted")
	}
}

func TestAnalyze_NoAllocationsInSteadyState(t *testing.T) {
	frames := []Frame{picture(1920, 1080, noisy(checkerboard, 1.5, 1)), picture(1920, 1080, noisy(checkerboard, 1.5, 2))}
	var a analyzer
	i := 0
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := a.add(frames[i%2]); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}

// BenchmarkAnalyze1080p is the per-frame analysis of a 1920x1080 frame
// (target: under 2 ms on one core, no allocations).
func BenchmarkAnalyze1080p(b *testing.B) {
	frames := []Frame{picture(1920, 1080, noisy(checkerboard, 1.5, 1)), picture(1920, 1080, noisy(checkerboard, 1.5, 2))}
	var a analyzer
	if _, err := a.add(frames[1]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(1920 * 1080)
	i := 0
	for b.Loop() {
		if _, err := a.add(frames[i%2]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
