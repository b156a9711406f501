//go:build linux && cgo

package camera

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/driver/availability"
	mdcamera "github.com/pion/mediadevices/pkg/driver/camera" // registers the V4L2 cameras
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// liveSource is the room PC's V4L2 cameras, reached through the camera
// driver of pion/mediadevices and its driver manager.
type liveSource struct {
	sysfs string
	log   *slog.Logger

	mu      sync.Mutex
	drivers map[string]driver.Driver // by device path, from the last listing
}

func newLiveSource(sysfs string, log *slog.Logger) Source {
	return &liveSource{sysfs: sysfs, log: log, drivers: map[string]driver.Driver{}}
}

// Cameras lists the V4L2 capture nodes. The driver manager is refreshed on
// every call, so that a camera plugged in since the last check is found.
func (s *liveSource) Cameras(context.Context) ([]Device, error) {
	mdcamera.Initialize()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drivers = map[string]driver.Driver{}
	var devs []Device
	for _, d := range driver.GetManager().Query(driver.FilterDeviceType(driver.Camera)) {
		info := d.Info()
		// Label is "<name in /dev/v4l/...>;video0", Name "<card>;<bus info>".
		node := info.Label
		if i := strings.LastIndex(node, mdcamera.LabelSeparator); i >= 0 {
			node = node[i+1:]
		}
		if secondaryNode(s.sysfs, node) {
			s.log.Debug("not a capture node", "node", node)
			continue
		}
		path := "/dev/" + node
		name, _, _ := strings.Cut(info.Name, mdcamera.LabelSeparator)
		if name == "" {
			name = "camera" // the node could not be queried; opening it will say why
		}
		s.drivers[path] = d
		devs = append(devs, Device{ID: path, Name: fmt.Sprintf("%s (%s)", name, path), USBID: usbID(s.sysfs, node)})
	}
	slices.SortFunc(devs, func(a, b Device) int { return strings.Compare(a.ID, b.ID) })
	return devs, nil
}

// Open opens the camera and starts streaming in the offered mode closest to
// the wanted one. A camera another program streams from is ErrInUse.
func (s *liveSource) Open(_ context.Context, dev Device, want Mode) (Stream, error) {
	s.mu.Lock()
	d := s.drivers[dev.ID]
	s.mu.Unlock()
	if d == nil {
		return nil, fmt.Errorf("open %s: the camera is gone", dev.ID)
	}
	start := time.Now()
	if ok, err := driver.IsAvailable(d); !ok && errors.Is(err, availability.ErrBusy) {
		return nil, fmt.Errorf("open %s: %w", dev.ID, ErrInUse)
	}
	if err := d.Open(); err != nil {
		return nil, liveErr("open "+dev.ID, err)
	}
	props := d.Properties()
	p, ok := pickMode(props, want)
	if !ok {
		_ = d.Close()
		return nil, fmt.Errorf("open %s: the camera offers none of the formats %v in %d modes", dev.ID, preferredFormats, len(props))
	}
	vr, ok := d.(driver.VideoRecorder)
	if !ok {
		_ = d.Close()
		return nil, fmt.Errorf("open %s: not a video recorder", dev.ID)
	}
	r, err := vr.VideoRecord(p) // closes the driver on error
	if err != nil {
		return nil, liveErr(fmt.Sprintf("start %s at %dx%d %s %s fps", dev.ID, p.Width, p.Height, p.FrameFormat, trimFloat(float64(p.FrameRate))), err)
	}
	s.log.Debug("camera started", "camera", dev.Name, "width", p.Width, "height", p.Height, "format", p.FrameFormat, "fps", p.FrameRate)
	return newLiveStream(d, r, start), nil
}

// liveErr wraps a driver error, marking "device or resource busy" (a
// meeting app streams from the camera) as ErrInUse. The V4L2 layer reports
// EBUSY as an errno from open and VIDIOC_S_FMT, and as text when mapping
// the buffers.
func liveErr(what string, err error) error {
	if errors.Is(err, syscall.EBUSY) || errors.Is(err, availability.ErrBusy) ||
		strings.Contains(err.Error(), syscall.EBUSY.Error()) {
		return fmt.Errorf("%s: %w: %w", what, ErrInUse, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// preferredFormats are the decodable formats, cheapest first. Z16 (depth
// cameras) is not a picture.
var preferredFormats = []frame.Format{
	frame.FormatI420, frame.FormatNV12, frame.FormatNV21, frame.FormatYUYV, frame.FormatUYVY, frame.FormatMJPEG,
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

// liveStream reads a camera on its own goroutine, so that Next can give up
// when its context ends. Luma is copied out of the driver's buffer into one
// of two buffers that the reader and the caller pass back and forth.
type liveStream struct {
	d      driver.Driver
	start  time.Time
	frames chan liveFrame
	free   chan []byte
	stop   chan struct{}
	done   chan struct{}
	held   []byte // the buffer of the frame the caller has
	err    error  // the error that ended the stream
	once   sync.Once
}

type liveFrame struct {
	f   Frame
	buf []byte
	err error
}

func newLiveStream(d driver.Driver, r video.Reader, start time.Time) *liveStream {
	st := &liveStream{
		d: d, start: start,
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
		if err != nil {
			select {
			case st.frames <- liveFrame{err: err}:
			case <-st.stop:
			}
			return
		}
		var buf []byte
		select {
		case buf = <-st.free:
		case <-st.stop:
			release()
			return
		}
		f, buf := lumaInto(img, buf)
		release()
		f.Time = at
		select {
		case st.frames <- liveFrame{f: f, buf: buf}:
		case <-st.stop:
			return
		}
	}
}

func (st *liveStream) Next(ctx context.Context) (Frame, error) {
	if st.held != nil {
		st.free <- st.held // the caller is done with the previous frame
		st.held = nil
	}
	if st.err != nil {
		return Frame{}, st.err
	}
	select {
	case lf := <-st.frames:
		if lf.err != nil {
			st.err = liveErr("read frame", lf.err)
			return Frame{}, st.err
		}
		st.held = lf.buf
		return lf.f, nil
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

// Close stops the reader and closes the device. The driver finishes the
// read in progress first: one frame interval, or its read timeout (5 s) on a
// camera that stopped delivering.
func (st *liveStream) Close() error {
	var err error
	st.once.Do(func() {
		close(st.stop)
		err = st.d.Close()
		<-st.done
	})
	return err
}
