package camera

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync"
	"time"
)

// DecodeEvery is how often a compressed (MJPEG) stream has a frame decoded
// for the picture analysis: twice a second. Every frame still counts for
// the rate and the time to the first frame; only a sample is decoded,
// because decoding them all costs what the check may not: one 1080p MJPEG
// frame took 13 to 37 ms of a core on the project's 2-core machine (go test
// -bench MJPEGFrame), every frame of a 30 fps stream three quarters of a
// core over the check (-bench MJPEGCheck), a sample of three a second about
// 10 %, two a second less. The sample's frames are half a second apart: a
// live picture (sensor noise survives MJPEG's quantisation) differs between
// them as between neighbours, and a hung pipeline repeats them exactly.
const DecodeEvery = time.Second / 2

// rawFrames is a camera's frames as the V4L2 driver hands them over, before
// any decoding: blackjack/webcam's device, the V4L2 layer under
// pion/mediadevices' camera driver.
type rawFrames interface {
	// WaitForFrame waits up to timeout seconds for a frame: errNoFrameYet
	// when none came.
	WaitForFrame(timeout uint32) error
	// GetFrame dequeues a frame; the bytes are valid until ReleaseFrame.
	GetFrame() ([]byte, uint32, error)
	ReleaseFrame(index uint32) error
	Close() error
}

// decodeFunc decodes one compressed frame.
type decodeFunc func(b []byte, width, height int) (image.Image, func(), error)

// sampledStream reads a compressed stream on its own goroutine: it stamps
// every frame as it arrives and keeps a copy of one every DecodeEvery;
// Next decodes the copies (on the caller's goroutine, so decoding never
// delays the stamping) and hands the other frames over without a picture.
type sampledStream struct {
	cam           rawFrames
	decode        decodeFunc
	width, height int
	every         time.Duration
	noFrame       time.Duration // a read gives up after this long without a frame
	start         time.Time
	wrap          func(what string, err error) error // names a driver error (liveErr)

	frames chan sampledFrame
	spare  chan []byte // copies for the sample, passed back and forth
	stop   chan struct{}
	done   chan struct{}
	err    error
	held   []byte // the sample copy the caller's frame came from
	luma   []byte
	once   sync.Once
}

type sampledFrame struct {
	at   time.Duration
	jpeg []byte // nil: not in the sample
	err  error
}

// sampling says how a sampledStream reads and decodes.
type sampling struct {
	decode        decodeFunc
	width, height int
	every         time.Duration                      // a frame is kept for decoding when this has passed since the last
	noFrame       time.Duration                      // a read gives up after this long without a frame; 5 s when 0
	wrap          func(what string, err error) error // names a driver error (liveErr); nil: "what: err"
}

// newSampledStream starts reading cam; the first frame is always decoded.
func newSampledStream(cam rawFrames, s sampling, start time.Time) *sampledStream {
	if s.wrap == nil {
		s.wrap = func(what string, err error) error { return fmt.Errorf("%s: %w", what, err) }
	}
	if s.noFrame == 0 {
		s.noFrame = 5 * time.Second
	}
	st := &sampledStream{
		cam: cam, decode: s.decode, width: s.width, height: s.height, every: s.every, start: start, wrap: s.wrap,
		noFrame: s.noFrame,
		frames:  make(chan sampledFrame, 256),
		spare:   make(chan []byte, 2),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	st.spare <- nil
	st.spare <- nil
	go st.read()
	return st
}

// errNoFrameYet is a wait for a frame that timed out.
var errNoFrameYet = errors.New("no frame yet")

func (st *sampledStream) read() {
	defer close(st.done)
	defer st.cam.Close()
	last := time.Duration(-1)
	waited := time.Duration(0)
	send := func(f sampledFrame) bool {
		select {
		case st.frames <- f:
			return true
		case <-st.stop:
			return false
		}
	}
	for {
		select {
		case <-st.stop:
			return
		default:
		}
		// Short waits, so that Close is noticed within a second.
		if err := st.cam.WaitForFrame(1); err != nil {
			if !errors.Is(err, errNoFrameYet) {
				send(sampledFrame{err: st.wrap("read frame", err)})
				return
			}
			if waited += time.Second; waited >= st.noFrame {
				send(sampledFrame{err: fmt.Errorf("read frame: no frame for %s", seconds(st.noFrame))})
				return
			}
			continue
		}
		waited = 0
		b, index, err := st.cam.GetFrame()
		at := time.Since(st.start)
		if err != nil {
			send(sampledFrame{err: st.wrap("read frame", err)})
			return
		}
		f := sampledFrame{at: at}
		if len(b) > 0 && (last < 0 || at-last >= st.every) {
			select {
			case buf := <-st.spare:
				f.jpeg = append(buf[:0], b...)
				last = at
			default: // the caller still decodes the last sample: this frame only counts
			}
		}
		if err := st.cam.ReleaseFrame(index); err != nil {
			send(sampledFrame{err: st.wrap("requeue frame", err)})
			return
		}
		if len(b) == 0 {
			continue // an empty buffer: no frame
		}
		if !send(f) {
			return
		}
	}
}

// Next returns the next frame: with its luma when it is in the sample,
// else with its time and size only (Y nil).
func (st *sampledStream) Next(ctx context.Context) (Frame, error) {
	if st.held != nil {
		st.spare <- st.held
		st.held = nil
	}
	if st.err != nil {
		return Frame{}, st.err
	}
	var sf sampledFrame
	select {
	case sf = <-st.frames:
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
	if sf.err != nil {
		st.err = sf.err
		return Frame{}, st.err
	}
	if sf.jpeg == nil {
		return Frame{Width: st.width, Height: st.height, Time: sf.at}, nil
	}
	st.held = sf.jpeg
	img, release, err := st.decode(sf.jpeg, st.width, st.height)
	if err != nil {
		return Frame{}, fmt.Errorf("decode frame: %w", err)
	}
	f, luma := lumaInto(img, st.luma)
	release()
	st.luma = luma
	f.Time = sf.at
	return f, nil
}

// Close stops the reader, which closes the device within a second.
func (st *sampledStream) Close() error {
	st.once.Do(func() { close(st.stop) })
	<-st.done
	return nil
}
