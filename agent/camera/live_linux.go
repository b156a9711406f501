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

	"github.com/blackjack/webcam"
	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/driver/availability"
	mdcamera "github.com/pion/mediadevices/pkg/driver/camera" // registers the V4L2 cameras
	"github.com/pion/mediadevices/pkg/frame"
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
		if !cameraNode(s.sysfs, node) {
			s.log.Debug("not a camera's capture node", "node", node)
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
	return s.open(dev, func(props []prop.Media) (prop.Media, bool) { return pickMode(props, want) })
}

// open opens the camera and starts streaming in the mode pick chooses among
// the offered ones.
func (s *liveSource) open(dev Device, pick func([]prop.Media) (prop.Media, bool)) (Stream, error) {
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
	p, ok := pick(props)
	if !ok {
		_ = d.Close()
		return nil, fmt.Errorf("open %s: the camera offers none of the formats %v in %d modes", dev.ID, preferredFormats, len(props))
	}
	if p.FrameFormat == frame.FormatMJPEG {
		// pion's reader decodes every frame: a compressed mode is read
		// through the V4L2 layer under it, and only a sample decoded.
		_ = d.Close()
		st, err := openSampled(dev.ID, p, start)
		if err != nil {
			return nil, err
		}
		s.log.Debug("camera started", "camera", dev.Name, "width", p.Width, "height", p.Height, "format", p.FrameFormat, "fps", p.FrameRate, "decoded_every", DecodeEvery)
		return st, nil
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
	return newLiveStream(d, r, start, 0), nil // the driver times out a read after 5 s
}

// liveErr wraps a driver error, marking "device or resource busy" (a
// meeting app streams from the camera) as ErrInUse. The V4L2 layer reports
// EBUSY as an errno from open and VIDIOC_S_FMT, and as text when mapping
// the buffers.
//
// A camera unplugged while it streams (the V4L2 node unregistered: ENODEV,
// "no such device", as vivid's disconnect control and a pulled USB cable
// give) is said to be disconnected.
func liveErr(what string, err error) error {
	if errors.Is(err, syscall.EBUSY) || errors.Is(err, availability.ErrBusy) ||
		strings.Contains(err.Error(), syscall.EBUSY.Error()) {
		return fmt.Errorf("%s: %w: %w", what, ErrInUse, err)
	}
	if errors.Is(err, syscall.ENODEV) || strings.Contains(err.Error(), syscall.ENODEV.Error()) {
		return fmt.Errorf("the camera was disconnected: %s: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// v4l2FourCC is the V4L2 pixel format of the formats read through
// openSampled.
var v4l2FourCC = map[frame.Format]webcam.PixelFormat{
	frame.FormatMJPEG: 0x47504a4d, // MJPG
	frame.FormatYUYV:  0x56595559, // YUYV (the guest test reads vivid's through this path too)
}

// openSampled starts a mode through blackjack/webcam, the V4L2 library
// pion/mediadevices' camera driver is built on, and reads it with a
// sampledStream: every frame is stamped as it arrives, and a sample is
// decoded with pion's decoder for the format.
func openSampled(path string, p prop.Media, start time.Time) (Stream, error) {
	fourcc, ok := v4l2FourCC[p.FrameFormat]
	if !ok {
		return nil, fmt.Errorf("open %s: %s is not read sampled", path, p.FrameFormat)
	}
	dec, err := frame.NewDecoder(p.FrameFormat)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	cam, err := webcam.Open(path)
	if err != nil {
		return nil, liveErr("open "+path, err)
	}
	what := fmt.Sprintf("start %s at %dx%d %s %s fps", path, p.Width, p.Height, p.FrameFormat, trimFloat(float64(p.FrameRate)))
	fail := func(err error) (Stream, error) {
		_ = cam.Close()
		return nil, liveErr(what, err)
	}
	if _, _, _, err := cam.SetImageFormat(fourcc, uint32(p.Width), uint32(p.Height)); err != nil {
		return fail(err)
	}
	if p.FrameRate > 0 {
		if err := cam.SetFramerate(p.FrameRate); err != nil {
			return fail(err)
		}
	}
	if err := cam.SetBufferCount(4); err != nil {
		return fail(err)
	}
	if err := cam.StartStreaming(); err != nil {
		return fail(err)
	}
	return newSampledStream(v4l2Frames{cam}, sampling{decode: dec.Decode, width: p.Width, height: p.Height, every: DecodeEvery, wrap: liveErr}, start), nil
}

// v4l2Frames is blackjack/webcam's device as rawFrames.
type v4l2Frames struct{ *webcam.Webcam }

func (v v4l2Frames) WaitForFrame(timeout uint32) error {
	err := v.Webcam.WaitForFrame(timeout)
	var t *webcam.Timeout
	if errors.As(err, &t) {
		return errNoFrameYet
	}
	return err
}
