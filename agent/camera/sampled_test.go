package camera

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeV4L2 hands out JPEG frames at a fixed interval, as a V4L2 capture
// queue does: WaitForFrame blocks until the next is due. After failAfter
// frames (when > 0) it fails with failErr.
type fakeV4L2 struct {
	frames    [][]byte
	interval  time.Duration
	failAfter int
	failErr   error
	silent    bool // never delivers a frame

	mu       sync.Mutex
	next     time.Time
	n        int
	released int
	closed   atomic.Bool
}

func (c *fakeV4L2) WaitForFrame(timeout uint32) error {
	if c.silent {
		time.Sleep(10 * time.Millisecond) // one "second" of waiting, shortened
		return errNoFrameYet
	}
	c.mu.Lock()
	if c.next.IsZero() {
		c.next = time.Now()
	}
	wait := time.Until(c.next)
	c.next = c.next.Add(c.interval)
	c.mu.Unlock()
	time.Sleep(wait)
	return nil
}

func (c *fakeV4L2) GetFrame() ([]byte, uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failAfter > 0 && c.n >= c.failAfter {
		return nil, 0, c.failErr
	}
	f := c.frames[c.n%len(c.frames)]
	c.n++
	return f, uint32(c.n % 4), nil
}

func (c *fakeV4L2) ReleaseFrame(uint32) error {
	c.mu.Lock()
	c.released++
	c.mu.Unlock()
	return nil
}

func (c *fakeV4L2) Close() error { c.closed.Store(true); return nil }

// jpegFrames encodes n 320x180 frames of a bar moving across mid-grey (the
// same frame n times when still).
func jpegFrames(t testing.TB, n int, still bool) [][]byte {
	t.Helper()
	var out [][]byte
	for i := 0; i < n; i++ {
		img := image.NewGray(image.Rect(0, 0, 320, 180))
		bar := (i * 24) % 320
		if still {
			bar = 100
		}
		for y := 0; y < 180; y++ {
			for x := 0; x < 320; x++ {
				v := uint8(128)
				if x >= bar && x < bar+40 {
					v = 235
				}
				img.SetGray(x, y, color.Gray{Y: v})
			}
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Bytes())
	}
	return out
}

// countingDecoder decodes JPEG and counts its calls.
type countingDecoder struct{ calls atomic.Int32 }

func (d *countingDecoder) decode(b []byte, _, _ int) (image.Image, func(), error) {
	d.calls.Add(1)
	img, err := jpeg.Decode(bytes.NewReader(b))
	return img, func() {}, err
}

func TestSampled_EveryFrameCountsOnlyASampleIsDecoded(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		still                bool
		frozen               float64
		minDecoded, maxDecod int32
	}{
		// 100 frames a second for 1 s, a sample every 100 ms: about 10.
		{name: "MovingPicture", frozen: 0, minDecoded: 9, maxDecod: 12},
		{name: "RepeatedFrameIsFrozen", still: true, frozen: 1, minDecoded: 9, maxDecod: 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cam := &fakeV4L2{frames: jpegFrames(t, 7, tc.still), interval: 10 * time.Millisecond} // 7: no sample repeats a frame
			var dec countingDecoder
			st := newSampledStream(cam, sampling{decode: dec.decode, width: 320, height: 180, every: 100 * time.Millisecond}, time.Now())
			m, err := capture(context.Background(), st, time.Second)
			if cerr := st.Close(); cerr != nil {
				t.Error(cerr)
			}
			if err != nil {
				t.Fatal(err)
			}
			if m["fps"] < 90 || m["fps"] > 110 {
				t.Errorf("fps %v, want about 100: every frame counts", m["fps"])
			}
			if n := dec.calls.Load(); n < tc.minDecoded || n > tc.maxDecod {
				t.Errorf("%d frames decoded, want %d to %d", n, tc.minDecoded, tc.maxDecod)
			}
			if m["frozen_ratio"] != tc.frozen || m["width_pixels"] != 320 || m["height_pixels"] != 180 || m["black_ratio"] != 0 {
				t.Errorf("measurements %v, want frozen %v at 320x180, not black", m, tc.frozen)
			}
			if !cam.closed.Load() {
				t.Error("the device was not closed")
			}
			cam.mu.Lock()
			defer cam.mu.Unlock()
			if cam.released != cam.n {
				t.Errorf("%d frames dequeued, %d given back", cam.n, cam.released)
			}
		})
	}
}

// A slow decoder does not slow the count: frames are stamped as they
// arrive, whatever the decoding of the sample takes.
func TestSampled_SlowDecodingDoesNotLowerTheRate(t *testing.T) {
	cam := &fakeV4L2{frames: jpegFrames(t, 10, false), interval: 10 * time.Millisecond}
	slow := func(b []byte, w, h int) (image.Image, func(), error) {
		time.Sleep(80 * time.Millisecond) // 8 frame intervals
		img, err := jpeg.Decode(bytes.NewReader(b))
		return img, func() {}, err
	}
	st := newSampledStream(cam, sampling{decode: slow, width: 320, height: 180, every: 100 * time.Millisecond}, time.Now())
	defer st.Close()
	m, err := capture(context.Background(), st, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m["fps"] < 90 || m["fps"] > 110 {
		t.Errorf("fps %v with an 80 ms decoder, want about 100", m["fps"])
	}
}

func TestSampled_DriverFailuresEndTheCapture(t *testing.T) {
	for _, tc := range []struct {
		name string
		cam  *fakeV4L2
		want string
	}{
		{"Unplugged", &fakeV4L2{frames: jpegFrames(t, 2, false), interval: 10 * time.Millisecond, failAfter: 20, failErr: syscall.ENODEV},
			"the camera was disconnected: read frame: no such device (after 0.2 s of the 1 s window, 20 frames)"},
		{"NoFrameAtAll", &fakeV4L2{silent: true}, "read frame: no frame for 0.1 s (after 0 s of the 1 s window, 0 frames)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wrap := func(what string, err error) error {
				if errors.Is(err, syscall.ENODEV) {
					return errors.New("the camera was disconnected: " + what + ": " + err.Error())
				}
				return err
			}
			st := newSampledStream(tc.cam, sampling{decode: (&countingDecoder{}).decode, width: 320, height: 180,
				every: 100 * time.Millisecond, noFrame: 50 * time.Millisecond, wrap: wrap}, time.Now())
			_, err := capture(context.Background(), st, time.Second)
			st.Close()
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
