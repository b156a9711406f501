//go:build (linux || windows) && cgo

package camera

import (
	"context"
	"errors"
	"image"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"

	"github.com/siaprapat/siaprapat/wire"
)

func TestLive_PickModeNearestToWanted(t *testing.T) {
	m := func(w, h int, fps float32, f frame.Format) prop.Media {
		return prop.Media{Video: prop.Video{Width: w, Height: h, FrameRate: fps, FrameFormat: f}}
	}
	want := Mode{1280, 720, 30}
	for _, tc := range []struct {
		name  string
		props []prop.Media
		pick  prop.Media
		ok    bool
	}{
		{"ExactSizeAndRateBeatsCheaperFormat", // USB 2 webcams: raw 720p only at 10 fps
			[]prop.Media{m(1280, 720, 10, frame.FormatYUYV), m(1280, 720, 30, frame.FormatMJPEG), m(640, 480, 30, frame.FormatYUYV)},
			m(1280, 720, 30, frame.FormatMJPEG), true},
		{"CheaperFormatWhenModesTie",
			[]prop.Media{m(1280, 720, 30, frame.FormatMJPEG), m(1280, 720, 30, frame.FormatYUYV)},
			m(1280, 720, 30, frame.FormatYUYV), true},
		{"SmallestLargerSize",
			[]prop.Media{m(3840, 2160, 30, frame.FormatMJPEG), m(1920, 1080, 30, frame.FormatMJPEG), m(640, 480, 30, frame.FormatMJPEG)},
			m(1920, 1080, 30, frame.FormatMJPEG), true},
		{"LargestWhenAllSmaller",
			[]prop.Media{m(320, 240, 30, frame.FormatYUYV), m(640, 480, 30, frame.FormatYUYV)},
			m(640, 480, 30, frame.FormatYUYV), true},
		{"LowestHigherRate",
			[]prop.Media{m(1280, 720, 60, frame.FormatMJPEG), m(1280, 720, 15, frame.FormatMJPEG), m(1280, 720, 50, frame.FormatMJPEG)},
			m(1280, 720, 50, frame.FormatMJPEG), true},
		{"WindowsYUY2WithoutRates", // the DirectShow driver's modes
			[]prop.Media{m(640, 480, 0, frame.FormatYUY2), m(1280, 720, 0, frame.FormatYUY2), m(1920, 1080, 0, frame.FormatYUY2)},
			m(1280, 720, 0, frame.FormatYUY2), true},
		{"DepthOnlyCameraHasNoPicture",
			[]prop.Media{m(1280, 720, 30, frame.FormatZ16)}, prop.Media{}, false},
		{"NoModes", nil, prop.Media{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := pickMode(tc.props, want)
			if ok != tc.ok || got.Video != tc.pick.Video {
				t.Errorf("pickMode = %+v %v, want %+v %v", got.Video, ok, tc.pick.Video, tc.ok)
			}
		})
	}
}

// stubDriver stands in for an opened mediadevices camera driver: Close
// makes its reader return io.EOF, as the V4L2 driver's does.
type stubDriver struct {
	driver.Driver // not called
	mu            sync.Mutex
	closed        chan struct{}
	closes        int
}

func (d *stubDriver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closes++
	if d.closes == 1 {
		close(d.closed)
	}
	return nil
}

// stubReader delivers YCbCr frames whose luma is the frame number; after
// stall frames it blocks until the driver is closed, after fail frames it
// fails.
func stubReader(d *stubDriver, stall, fail int) video.Reader {
	n := 0
	return video.ReaderFunc(func() (image.Image, func(), error) {
		n++
		if fail > 0 && n > fail {
			return nil, func() {}, errors.New("read timeout")
		}
		if stall > 0 && n > stall {
			<-d.closed
			return nil, func() {}, io.EOF
		}
		img := image.NewYCbCr(image.Rect(0, 0, 64, 48), image.YCbCrSubsampleRatio420)
		for i := range img.Y {
			img.Y[i] = byte(n)
		}
		return img, func() {}, nil
	})
}

func TestLiveStream_DeliversFramesInTurn(t *testing.T) {
	d := &stubDriver{closed: make(chan struct{})}
	st := newLiveStream(d, stubReader(d, 0, 0), time.Now(), 0)
	var prev time.Duration
	for i := 1; i <= 5; i++ {
		f, err := st.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if f.Width != 64 || f.Height != 48 || f.Y[0] != byte(i) || f.Y[len(f.Y)-1] != byte(i) {
			t.Errorf("frame %d: %dx%d luma %d, want 64x48 luma %d", i, f.Width, f.Height, f.Y[0], i)
		}
		if f.Time < prev {
			t.Errorf("frame %d arrived at %v, before the frame before (%v)", i, f.Time, prev)
		}
		prev = f.Time
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil || d.closes != 1 {
		t.Errorf("second Close: %v, driver closed %d times, want once", err, d.closes)
	}
}

func TestLiveStream_CancelReturnsAndCloseStopsReader(t *testing.T) {
	d := &stubDriver{closed: make(chan struct{})}
	st := newLiveStream(d, stubReader(d, 2, 0), time.Now(), 0)
	ctx, cancel := context.WithCancel(context.Background())
	for range 2 {
		if _, err := st.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cancel() // the camera delivers nothing more
	if _, err := st.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next: %v, want context.Canceled", err)
	}
	st.Close() // returns only once the reader goroutine has stopped
	select {
	case <-st.done:
	default:
		t.Error("the reader goroutine still runs after Close")
	}
}

func TestLiveStream_ReadErrorEndsStream(t *testing.T) {
	d := &stubDriver{closed: make(chan struct{})}
	st := newLiveStream(d, stubReader(d, 0, 1), time.Now(), 0)
	defer st.Close()
	if _, err := st.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 2 { // and again, without waiting for a reader that has stopped
		if _, err := st.Next(context.Background()); err == nil || err.Error() != "read frame: read timeout" {
			t.Errorf("Next: %v, want read frame: read timeout", err)
		}
	}
}

func TestLiveStream_CloseTakesTheWaitingFrameFirst(t *testing.T) {
	d := &stubDriver{closed: make(chan struct{})}
	var read atomic.Int32
	readAtClose := make(chan int32, 1)
	r := video.ReaderFunc(func() (image.Image, func(), error) {
		select {
		case <-d.closed:
			return nil, func() {}, io.EOF
		default:
		}
		read.Add(1)
		return image.NewGray(image.Rect(0, 0, 8, 8)), func() {}, nil
	})
	st := newLiveStream(&closeRecorder{stubDriver: d, at: func() { readAtClose <- read.Load() }}, r, time.Now(), 0)
	for range 2 {
		if _, err := st.Next(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// The reader holds frame 3 for the caller, and the driver frame 4:
	// Close takes frame 4 before it closes the driver.
	for read.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the reader waits to hand frame 3 over
	began := time.Now()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if n := <-readAtClose; n != 4 {
		t.Errorf("the driver was closed after %d frames were read, want 4", n)
	}
	if took := time.Since(began); took >= closeWait {
		t.Errorf("Close took %v: it waited for a frame that had arrived", took)
	}
}

// closeRecorder calls at when the driver is closed.
type closeRecorder struct {
	*stubDriver
	at func()
}

func (d *closeRecorder) Close() error {
	d.at()
	return d.stubDriver.Close()
}

func TestLiveStream_ReadTimeoutEndsStream(t *testing.T) {
	d := &stubDriver{closed: make(chan struct{})}
	st := newLiveStream(d, stubReader(d, 1, 0), time.Now(), 100*time.Millisecond)
	defer st.Close()
	if _, err := st.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	const want = "read frame: the camera delivered none for 0.1 s"
	for range 2 {
		if _, err := st.Next(context.Background()); err == nil || err.Error() != want {
			t.Errorf("Next: %v, want %s", err, want)
		}
	}
}

// On a machine without a camera (those this is developed and tested on:
// Linux in a VM, Windows under Wine) the live source finds none and the
// check fails. Windows ignores the sysfs directory.
func TestLive_NoCameraOnThisMachineFails(t *testing.T) {
	src := newLiveSource(DefaultSysfs, slog.New(slog.DiscardHandler))
	devs, err := src.Cameras(context.Background())
	if err != nil {
		t.Fatalf("Cameras: %v", err)
	}
	if len(devs) > 0 {
		t.Skipf("this machine has cameras (%v); the no-camera path needs one without", devs)
	}
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(context.Background(), defaultStandard(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Verdict != wire.Fail || res[0].Reason != "no camera found" || res[0].Target != "camera" {
		t.Errorf("got %+v, want one fail \"no camera found\"", res)
	}
}
