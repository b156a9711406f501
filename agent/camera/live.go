//go:build (linux || windows) && cgo

package camera

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// preferredFormats are the decodable formats, cheapest first. Z16 (depth
// cameras) is not a picture. YUY2 is YUYV by its Windows name, the one
// format the DirectShow driver offers.
var preferredFormats = []frame.Format{
	frame.FormatI420, frame.FormatNV12, frame.FormatNV21, frame.FormatYUYV, frame.FormatYUY2, frame.FormatUYVY, frame.FormatMJPEG,
}

// pickMode chooses among a camera's offered modes: the wanted size if
// offered, else the smallest larger one, else the largest; then the wanted
// rate if offered, else the lowest higher one, else the highest; then the
// cheapest format to decode.
func pickMode(props []prop.Media, want Mode) (prop.Media, bool) {
	type score struct{ size, sizeDist, rate, rateDist, format float64 }
	less := func(a, b score) bool {
		for _, p := range [][2]float64{{a.size, b.size}, {a.sizeDist, b.sizeDist}, {a.rate, b.rate}, {a.rateDist, b.rateDist}, {a.format, b.format}} {
			if p[0] != p[1] {
				return p[0] < p[1]
			}
		}
		return false
	}
	var best prop.Media
	var bestScore score
	found := false
	for _, p := range props {
		rank := slices.Index(preferredFormats, p.FrameFormat)
		if rank < 0 || p.Width <= 0 || p.Height <= 0 {
			continue
		}
		var sc score
		sc.format = float64(rank)
		area, wantArea := float64(p.Width*p.Height), float64(want.Width*want.Height)
		switch {
		case p.Width == want.Width && p.Height == want.Height:
		case p.Width >= want.Width && p.Height >= want.Height:
			sc.size, sc.sizeDist = 1, area-wantArea
		default:
			sc.size, sc.sizeDist = 2, -area
		}
		fps := float64(p.FrameRate)
		switch {
		case fps == 0 || fps == want.FPS: // unknown rates are asked for as they are
		case fps > want.FPS:
			sc.rate, sc.rateDist = 1, fps-want.FPS
		default:
			sc.rate, sc.rateDist = 2, -fps
		}
		if !found || less(sc, bestScore) {
			best, bestScore, found = p, sc, true
		}
	}
	return best, found
}

// closeWait is how long Close waits for the next frame before it closes
// the driver under a reader that is still waiting for one.
const closeWait = time.Second

// liveStream reads a camera on its own goroutine, so that Next can give up
// when its context ends. Luma is copied out of the driver's buffer into one
// of two buffers that the reader and the caller pass back and forth.
//
// Once stopped, the reader closes the driver itself, right after a frame
// arrived: a driver whose capture thread hands each frame over a channel
// (DirectShow's) is then between two frames, not in the middle of one.
type liveStream struct {
	d           driver.Driver
	start       time.Time
	readTimeout time.Duration // 0: the driver times its reads out itself
	frames      chan liveFrame
	free        chan []byte
	stop        chan struct{}
	done        chan struct{}
	held        []byte // the buffer of the frame the caller has
	err         error  // the error that ended the stream
	once        sync.Once
	closeOnce   sync.Once
	closeErr    error
}

type liveFrame struct {
	f   Frame
	buf []byte
	err error
}

// newLiveStream starts reading r. A readTimeout above zero ends the stream
// when no frame arrives for that long, for drivers whose reads wait forever.
func newLiveStream(d driver.Driver, r video.Reader, start time.Time, readTimeout time.Duration) *liveStream {
	st := &liveStream{
		d: d, start: start, readTimeout: readTimeout,
		frames: make(chan liveFrame),
		free:   make(chan []byte, 2),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	st.free <- nil
	st.free <- nil
	go st.read(r)
	return st
}

func (st *liveStream) read(r video.Reader) {
	defer close(st.done)
	for {
		img, release, err := r.Read()
		at := time.Since(st.start)
		select {
		case <-st.stop:
			if release != nil {
				release()
			}
			st.closeDriver()
			return
		default:
		}
		if err != nil {
			select {
			case st.frames <- liveFrame{err: err}:
			case <-st.stop:
			}
			return // Close closes the driver
		}
		buf := <-st.free // never waits: the caller holds at most one buffer
		f, buf := lumaInto(img, buf)
		release()
		f.Time = at
		select {
		case st.frames <- liveFrame{f: f, buf: buf}:
		case <-st.stop:
			// The driver may be waiting to hand over the next frame:
			// take it, then close.
		}
	}
}

func (st *liveStream) closeDriver() {
	st.closeOnce.Do(func() { st.closeErr = st.d.Close() })
}

func (st *liveStream) Next(ctx context.Context) (Frame, error) {
	if st.held != nil {
		st.free <- st.held // the caller is done with the previous frame
		st.held = nil
	}
	if st.err != nil {
		return Frame{}, st.err
	}
	var timeout <-chan time.Time
	if st.readTimeout > 0 {
		t := time.NewTimer(st.readTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case lf := <-st.frames:
		if lf.err != nil {
			st.err = liveErr("read frame", lf.err)
			return Frame{}, st.err
		}
		st.held = lf.buf
		return lf.f, nil
	case <-timeout:
		st.err = fmt.Errorf("read frame: the camera delivered none for %s", seconds(st.readTimeout))
		return Frame{}, st.err
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

// Close stops the reader and closes the device: after the next frame, or
// after closeWait when none comes (a V4L2 read in progress then still ends
// at the driver's read timeout, 5 s, on a camera that stopped delivering).
func (st *liveStream) Close() error {
	st.once.Do(func() {
		close(st.stop)
		select {
		case <-st.done:
		case <-time.After(closeWait):
		}
		st.closeDriver() // a no-op when the reader closed the driver
		<-st.done
	})
	return st.closeErr
}
