// Package camera checks the room's cameras: it opens each one, asks for the
// standard's nominal mode, captures for a window and measures what arrived
// (time to the first frame, frame rate, size, and the shares of black,
// frozen and featureless frames). The standard judges the measurements.
//
// Cameras come from a Source: the live cameras (through pion/mediadevices:
// V4L2 on Linux, DirectShow on Windows) or a recorded YUV4MPEG2 clip.
package camera

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/siaprapat/siaprapat/agent/quiet"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// Defaults and limits of the configuration.
const (
	DefaultWindow = 3 * time.Second
	MinWindow     = 500 * time.Millisecond
	MaxWindow     = time.Minute
	DefaultSysfs  = "/sys"
)

// The mode asked for when the standard names none.
var fallbackMode = Mode{Width: 1280, Height: 720, FPS: 30}

// Config configures the camera check.
type Config struct {
	// Source selects the cameras: "" for the live cameras, "file:PATH.y4m"
	// for a recorded clip (flag --camera-source).
	Source string
	// Window is how long each camera is captured, counted from its first
	// frame; DefaultWindow when zero (flag --camera-window).
	Window time.Duration
	// Devices limits the live cameras checked to these device paths
	// (/dev/video0, or a /dev/v4l/by-id/... link); all cameras when empty.
	// A listed camera that is missing fails the check.
	Devices []string
	// Sysfs is the sysfs root the USB vendor:product ids of live cameras
	// are read from; DefaultSysfs when empty.
	Sysfs string
	// InUse tells, without opening a camera, whether another program
	// holds one (and which); nil is the platform's DefaultInUse. A camera
	// that cannot be opened or delivers nothing while InUse says so is
	// skipped as in use, not an error.
	InUse InUseFunc
	// Log receives the check's log lines; none when nil.
	Log *slog.Logger
}

// Check is the camera check. A camera it does not open now (a meeting, a
// program holding it) is a skipped result with a code and no
// measurements: the runner repeats that camera's last result.
type Check struct {
	src     Source
	window  time.Duration
	devices []string
	inUse   InUseFunc
	log     *slog.Logger
}

// New validates the configuration and returns the check reading the
// configured source.
func New(cfg Config) (*Check, error) {
	spec, err := parseSource(cfg.Source)
	if err != nil {
		return nil, err
	}
	if !spec.live {
		fi, err := os.Stat(spec.clip)
		if err != nil {
			return nil, fmt.Errorf("camera source %q: %w", cfg.Source, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("camera source %q: %s is not a file", cfg.Source, spec.clip)
		}
		if len(cfg.Devices) > 0 {
			return nil, fmt.Errorf("camera devices %v: they select live cameras, and the camera source is the clip %s", cfg.Devices, spec.clip)
		}
		return NewWithSource(clipSource{path: spec.clip}, cfg)
	}
	sysfs := cfg.Sysfs
	if sysfs == "" {
		sysfs = DefaultSysfs
	}
	return NewWithSource(newLiveSource(sysfs, logger(cfg.Log).With("check", wire.CheckCamera)), cfg)
}

// NewWithSource returns the check reading cameras from src; cfg.Source and
// cfg.Sysfs are not used.
func NewWithSource(src Source, cfg Config) (*Check, error) {
	window := cfg.Window
	if window == 0 {
		window = DefaultWindow
	}
	if window < MinWindow || window > MaxWindow {
		return nil, fmt.Errorf("camera window %v is out of range; want %v to %v", cfg.Window, MinWindow, MaxWindow)
	}
	for _, d := range cfg.Devices {
		// Windows names its cameras ("HD Pro Webcam C920"); Linux by path.
		if runtime.GOOS != "windows" && !filepath.IsAbs(d) {
			return nil, fmt.Errorf("camera device %q: want an absolute device path such as /dev/video0", d)
		}
		if strings.TrimSpace(d) == "" {
			return nil, errors.New("camera device: empty name")
		}
	}
	inUse := cfg.InUse
	if inUse == nil {
		inUse = DefaultInUse(logger(cfg.Log).With("check", wire.CheckCamera))
	}
	return &Check{
		src:     src,
		window:  window,
		devices: cfg.Devices,
		inUse:   inUse,
		log:     logger(cfg.Log).With("check", wire.CheckCamera),
	}, nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Name is the check's name in reports and in the standard.
func (c *Check) Name() string { return wire.CheckCamera }

// Run checks every selected camera in turn, one result each. Without any
// camera it returns one failed result, "no camera found".
func (c *Check) Run(ctx context.Context, std *standard.Standard) ([]wire.CheckResult, error) {
	devs, err := c.src.Cameras(ctx)
	if err != nil {
		return nil, fmt.Errorf("list cameras: %w", err)
	}
	if len(devs) == 0 {
		return []wire.CheckResult{{
			Check: wire.CheckCamera, Target: "camera", Verdict: wire.Fail, Reason: "no camera found", Code: wire.CodeNoDevice,
		}}, nil
	}
	devs, missing := c.selected(devs)
	var results []wire.CheckResult
	for _, d := range missing {
		results = append(results, wire.CheckResult{
			Check: wire.CheckCamera, Target: d, Verdict: wire.Fail, Reason: "camera " + d + " not found", Code: wire.CodeDeviceMissing,
		})
	}
	want := WantedMode(std)
	for _, d := range devs {
		if hold, held := quiet.Held(ctx); held {
			// A meeting: the camera is not opened (a meeting app may
			// want it any moment); the runner repeats its last result.
			results = append(results, c.heldBack(d, hold))
			continue
		}
		results = append(results, c.measure(ctx, d, want))
	}
	return results, nil
}

// WantedMode is the mode the check asks cameras for: the nominal values of
// the standard's rules camera_min_width, camera_min_height and camera_fps,
// 1280x720 at 30 fps where it gives none.
func WantedMode(std *standard.Standard) Mode {
	m := fallbackMode
	if std == nil {
		return m
	}
	nominal := func(rule string) (float64, bool) {
		r, ok := std.Rule(rule)
		if !ok || r.Nominal == nil || *r.Nominal <= 0 {
			return 0, false
		}
		return *r.Nominal, true
	}
	if v, ok := nominal("camera_min_width"); ok {
		m.Width = int(v)
	}
	if v, ok := nominal("camera_min_height"); ok {
		m.Height = int(v)
	}
	if v, ok := nominal("camera_fps"); ok {
		m.FPS = v
	}
	return m
}

// selected keeps the cameras named in the configuration (all when it names
// none) and returns the named ones that are missing.
func (c *Check) selected(devs []Device) (keep []Device, missing []string) {
	if len(c.devices) == 0 {
		return devs, nil
	}
	for _, want := range c.devices {
		resolved := want
		if p, err := filepath.EvalSymlinks(want); err == nil {
			resolved = p // a /dev/v4l/by-id link names the node it points to now
		}
		found := false
		for _, d := range devs {
			if d.ID == want || d.ID == resolved || matchesName(d, want) {
				keep, found = append(keep, d), true
				break
			}
		}
		if !found {
			missing = append(missing, want)
		}
	}
	return keep, missing
}

// matchesName reports whether a camera is the one named: a Windows camera
// by (part of) its name, case aside ("C920", "HD Pro Webcam C920"). Paths
// (Linux) select by their device node only.
func matchesName(d Device, want string) bool {
	if filepath.IsAbs(want) {
		return false
	}
	return strings.Contains(strings.ToLower(d.Name), strings.ToLower(want))
}

// measure opens one camera, captures for the window and returns its result.
func (c *Check) measure(ctx context.Context, dev Device, want Mode) wire.CheckResult {
	res := wire.CheckResult{Check: wire.CheckCamera, Target: dev.Name}
	usb := ""
	if dev.USBID != "" {
		usb = "USB " + dev.USBID
	}
	log := c.log.With("camera", dev.Name)
	fail := func(err error) wire.CheckResult {
		res.Verdict, res.Reason = wire.Error, joinReasons(err.Error(), usb)
		log.Warn("camera could not be checked", "err", err)
		return res
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("not checked: %w", err))
	}
	st, err := c.src.Open(ctx, dev, want)
	if err != nil {
		if by, busy := c.heldBy(ctx, err); busy {
			return c.skipInUse(res, usb, by, log)
		}
		return fail(err)
	}
	m, err := capture(ctx, st, c.window)
	if cerr := st.Close(); cerr != nil {
		log.Warn("close camera", "err", cerr)
	}
	if err != nil {
		if by, busy := c.heldBy(ctx, err); busy {
			return c.skipInUse(res, usb, by, log)
		}
		return fail(err)
	}
	res.Measurements, res.Reason = m, usb
	log.Debug("camera captured", "fps", m["fps"], "width", m["width_pixels"], "height", m["height_pixels"])
	return res
}

// heldBy tells whether a camera failed because another program holds it:
// the driver said so (EBUSY, ErrInUse), or the platform's record names a
// program using a camera now (Windows' DirectShow driver says only that
// the camera delivered nothing). by names the program when known.
func (c *Check) heldBy(ctx context.Context, err error) (by string, busy bool) {
	if ctx.Err() != nil {
		return "", false
	}
	held, who := c.inUse(ctx)
	switch {
	case inUse(err):
		return who, true
	case held:
		return who, true
	}
	return "", false
}

// skipInUse reports a camera another program holds: skipped, with code
// in_use and no measurements (the runner repeats its last result).
func (c *Check) skipInUse(res wire.CheckResult, usb, by string, log *slog.Logger) wire.CheckResult {
	inUse := "in use"
	if by != "" {
		inUse += " by " + by
	}
	res.Verdict, res.Reason, res.Code = wire.Skipped, joinReasons(inUse, usb), wire.CodeInUse
	log.Info("camera in use: skipped", "by", by)
	return res
}

// heldBack reports a camera not opened because the run is held back:
// skipped, with the hold's code and no measurements (the runner repeats its
// last result).
func (c *Check) heldBack(dev Device, h quiet.Hold) wire.CheckResult {
	reason := "camera not opened: " + h.Reason
	if dev.USBID != "" {
		reason += "; USB " + dev.USBID
	}
	return wire.CheckResult{Check: wire.CheckCamera, Target: dev.Name, Verdict: wire.Skipped, Code: h.Code, Reason: reason}
}

// capture reads frames until they cover the window and returns the
// measurements. The window counts from the first frame; n frames cover n
// frame intervals at the rate measured between them, so a 3 s clip at 30 fps
// covers a 3 s window exactly. Every frame counts for the rate; the shares
// of black, frozen and featureless frames are of the decoded ones (all, but
// for a compressed stream's sample).
func capture(ctx context.Context, st Stream, window time.Duration) (map[string]float64, error) {
	var a analyzer
	var first, last time.Duration
	n := 0
	covered := func() time.Duration {
		if n < 2 {
			return last
		}
		return time.Duration(float64(last-first) * float64(n) / float64(n-1))
	}
	const slack = time.Millisecond // rounding of the frame times
	for covered() < window-slack || n < 2 {
		f, err := st.Next(ctx)
		switch {
		case err == nil:
		case errors.Is(err, io.EOF) && n == 0:
			return nil, errors.New("the clip has no frames")
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("clip ended after %s of the %s window (%d frames)", seconds(covered()), seconds(window), n)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("capture stopped after %s of the %s window (%d frames): %w", seconds(covered()), seconds(window), n, ctx.Err())
		default:
			return nil, fmt.Errorf("%w (after %s of the %s window, %d frames)", err, seconds(covered()), seconds(window), n)
		}
		if f.Y != nil {
			if _, err := a.add(f); err != nil {
				return nil, fmt.Errorf("frame %d: %w", n+1, err)
			}
		} else if n == 0 {
			return nil, errors.New("frame 1: not decoded (the first frame always is)")
		}
		if n == 0 {
			first = f.Time
		}
		last = f.Time
		n++
	}
	fps := 0.0
	if span := (last - first).Seconds(); span > 0 {
		// Rounded to a millionth: frame times are whole nanoseconds, so a
		// 30 fps clip would otherwise measure 29.999999997.
		fps = math.Round(float64(n-1)/span*1e6) / 1e6
	}
	black, frozen, lowDetail := a.ratios()
	return map[string]float64{
		"first_frame_seconds": first.Seconds(),
		"fps":                 fps,
		"width_pixels":        float64(a.w),
		"height_pixels":       float64(a.h),
		"black_ratio":         black,
		"frozen_ratio":        frozen,
		"low_detail_ratio":    lowDetail,
	}, nil
}

// seconds writes a duration as "1.2 s".
func seconds(d time.Duration) string {
	return trimFloat(float64(d.Round(100*time.Millisecond))/float64(time.Second)) + " s"
}

func joinReasons(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}
