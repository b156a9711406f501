//go:build windows && cgo

package camera

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/driver/availability"
	mdcamera "github.com/pion/mediadevices/pkg/driver/camera" // registers the DirectShow cameras
)

// readTimeout ends a stream when the DirectShow driver delivers no frame for
// this long, as the V4L2 driver's own read timeout does. The driver does not
// check that the capture graph runs, so a camera another program holds
// shows this way.
const readTimeout = 5 * time.Second

// liveSource is the room PC's DirectShow video input devices, reached
// through the camera driver of pion/mediadevices and its driver manager.
type liveSource struct {
	log *slog.Logger

	mu      sync.Mutex
	drivers map[string]driver.Driver // by DirectShow device name, from the last listing
}

// newLiveSource returns the DirectShow cameras; sysfs is Linux's and not
// read here.
func newLiveSource(_ string, log *slog.Logger) Source {
	return &liveSource{log: log, drivers: map[string]driver.Driver{}}
}

// Cameras lists the DirectShow video input devices, with their friendly
// names. The listing is the agent's own (COM, directshow_windows.go); the
// driver manager of pion/mediadevices is refreshed from it only when there
// are cameras, so that a camera plugged in since the last check is found.
// (The Windows driver adds every camera again on each listing, so the
// previous listing is removed first, and it prints a failure to list on
// stdout, which would corrupt check --json: stdout is closed to it. Its
// listing in the package's init, before main, is silenced by the agent's
// main package: see stdout_windows.go there.)
func (s *liveSource) Cameras(context.Context) ([]Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inputs, err := videoInputs()
	if err != nil {
		return nil, fmt.Errorf("list the DirectShow cameras: %w", err)
	}
	friendly := map[string]string{}
	for _, in := range inputs {
		friendly[in.displayName] = in.friendlyName
	}
	m := driver.GetManager()
	for _, d := range m.Query(driver.FilterDeviceType(driver.Camera)) {
		m.Delete(d.ID())
	}
	s.drivers = map[string]driver.Driver{}
	if len(inputs) == 0 {
		return nil, nil
	}
	withoutStdout(mdcamera.Initialize)
	var devs []Device
	for _, d := range m.Query(driver.FilterDeviceType(driver.Camera)) {
		label := d.Info().Label
		dev := directShowDevice(label, friendly[label])
		s.drivers[dev.ID] = d
		devs = append(devs, dev)
	}
	slices.SortFunc(devs, func(a, b Device) int { return strings.Compare(a.ID, b.ID) })
	return devs, nil
}

// withoutStdout runs fn with os.Stdout on the null device: the DirectShow
// driver prints its failures there with fmt.Printf. Cameras holds s.mu;
// nothing else of the agent writes to stdout while a check runs.
func withoutStdout(fn func()) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		fn()
		return
	}
	saved := os.Stdout
	os.Stdout = null
	defer func() {
		os.Stdout = saved
		null.Close()
	}()
	fn()
}

// usbIDs finds the vendor and product in a device path ("...vid_046d&pid_082d...").
var usbIDs = regexp.MustCompile(`(?i)\bvid_([0-9a-f]{4})&pid_([0-9a-f]{4})`)

// directShowDevice names a camera from its DirectShow device name, the
// moniker's display name the driver lists it by and opens it with:
//
//	@device:pnp:\\?\usb#vid_046d&pid_082d&mi_00#6&1b2c3d4&0&0000#{65e8773d-8f56-11d0-a3b9-00a0c9223196}\global
//	@device:sw:{860BB310-5D01-11D0-BD3B-00A0C911CE86}\{A3FCE0F5-3493-419F-958A-ABA1250EC20B}
//
// The driver gives no friendly name: the name for people is the friendly
// name read from the device's property bag ("HD Pro Webcam C920"), with
// the device's instance path, which stays the same for a camera on the
// same port and tells two cameras of one model apart.
func directShowDevice(label, friendly string) Device {
	dev := Device{ID: label}
	short := strings.TrimPrefix(label, "@device:")
	if rest, ok := strings.CutPrefix(short, `pnp:\\?\`); ok {
		short = rest
		if i := strings.LastIndex(short, "#{"); i > 0 {
			short = short[:i] // the interface class and reference string
		}
	}
	if friendly == "" {
		friendly = "camera"
	}
	dev.Name = fmt.Sprintf("%s (%s)", friendly, short)
	if m := usbIDs.FindStringSubmatch(label); m != nil && strings.HasPrefix(strings.ToLower(short), "usb#") {
		dev.USBID = strings.ToLower(m[1] + ":" + m[2])
	}
	return dev
}

// Open opens the camera and starts streaming in the offered mode closest to
// the wanted one.
func (s *liveSource) Open(_ context.Context, dev Device, want Mode) (Stream, error) {
	s.mu.Lock()
	d := s.drivers[dev.ID]
	s.mu.Unlock()
	if d == nil {
		return nil, fmt.Errorf("open %s: the camera is gone", dev.Name)
	}
	start := time.Now()
	if err := d.Open(); err != nil {
		return nil, liveErr("open "+dev.Name, err)
	}
	props := d.Properties()
	p, ok := pickMode(props, want)
	if !ok {
		_ = d.Close()
		return nil, fmt.Errorf("open %s: the camera offers none of the formats %v in %d modes (the DirectShow driver reads YUY2 only)", dev.Name, preferredFormats, len(props))
	}
	vr, ok := d.(driver.VideoRecorder)
	if !ok {
		_ = d.Close()
		return nil, fmt.Errorf("open %s: not a video recorder", dev.Name)
	}
	r, err := vr.VideoRecord(p) // closes the driver on error
	if err != nil {
		return nil, liveErr(fmt.Sprintf("start %s at %dx%d %s", dev.Name, p.Width, p.Height, p.FrameFormat), err)
	}
	s.log.Debug("camera started", "camera", dev.Name, "width", p.Width, "height", p.Height, "format", p.FrameFormat)
	return newLiveStream(d, r, start, readTimeout), nil
}

// liveErr wraps a driver error. The DirectShow driver reports failures as
// fixed text ("failed to open device: failed to connect filters") without
// the HRESULT, so only availability.ErrBusy, which it does not return yet,
// is ErrInUse: a camera another program holds delivers no frame instead
// (readTimeout).
func liveErr(what string, err error) error {
	if errors.Is(err, availability.ErrBusy) {
		return fmt.Errorf("%s: %w: %w", what, ErrInUse, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
