package camera

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/camera/y4mtest"
	"github.com/siaprapat/siaprapat/agent/quiet"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

func defaultStandard(t *testing.T) *standard.Standard {
	t.Helper()
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	return std
}

// writeClip writes a clip into the test's temporary directory.
func writeClip(t *testing.T, name string, c y4mtest.Clip) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := y4mtest.Write(path, c); err != nil {
		t.Fatal(err)
	}
	return path
}

// runJudged runs the check once and has the standard judge each result, as
// the runner does.
func runJudged(t *testing.T, ctx context.Context, c *Check, std *standard.Standard) []wire.CheckResult {
	t.Helper()
	results, err := c.Run(ctx, std)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for i := range results {
		std.Evaluate(&results[i])
	}
	return results
}

// notPassing maps each rule that did not pass to its verdict.
func notPassing(res wire.CheckResult) map[string]wire.Verdict {
	out := map[string]wire.Verdict{}
	for _, r := range res.Rules {
		if r.Verdict != wire.Pass {
			out[r.Rule] = r.Verdict
		}
	}
	return out
}

func TestCamera_RecordedClipsJudgedByDefaultStandard(t *testing.T) {
	std := defaultStandard(t)
	for _, tc := range []struct {
		name    string
		clip    y4mtest.Clip
		verdict wire.Verdict
		rules   map[string]wire.Verdict // the rules that do not pass
	}{
		{"HealthyMoving720p30Passes", y4mtest.Clip{}, wire.Pass, map[string]wire.Verdict{}},
		{"SmallPictureFailsResolution", y4mtest.Clip{Width: 640, Height: 360}, wire.Fail,
			map[string]wire.Verdict{"camera_min_width": wire.Fail, "camera_min_height": wire.Fail}},
		{"TenFPSFailsFrameRate", y4mtest.Clip{FPS: 10}, wire.Fail,
			map[string]wire.Verdict{"camera_fps": wire.Fail}},
		{"AllBlackFailsBlack", y4mtest.Clip{Pattern: y4mtest.Black}, wire.Fail,
			map[string]wire.Verdict{"camera_black": wire.Fail, "camera_low_detail": wire.Fail}},
		{"FrozenPictureFailsFrozen", y4mtest.Clip{Pattern: y4mtest.Frozen}, wire.Fail,
			map[string]wire.Verdict{"camera_frozen": wire.Fail}},
		{"CoveredLensFailsLowDetail", y4mtest.Clip{Pattern: y4mtest.Grey}, wire.Fail,
			map[string]wire.Verdict{"camera_low_detail": wire.Fail}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeClip(t, "clip.y4m", tc.clip)
			c, err := New(Config{Source: "file:" + path})
			if err != nil {
				t.Fatal(err)
			}
			results := runJudged(t, context.Background(), c, std)
			if len(results) != 1 {
				t.Fatalf("got %d results, want 1: %+v", len(results), results)
			}
			res := results[0]
			t.Logf("measurements %v", res.Measurements)
			if res.Target != "file:"+filepath.Base(path) || res.Check != wire.CheckCamera {
				t.Errorf("check %q target %q, want camera \"file:%s\"", res.Check, res.Target, filepath.Base(path))
			}
			if res.Verdict != tc.verdict {
				t.Errorf("verdict %s (%s), want %s; measurements %v", res.Verdict, res.Reason, tc.verdict, res.Measurements)
			}
			if got := notPassing(res); !maps.Equal(got, tc.rules) {
				t.Errorf("rules not passing: %v, want %v; measurements %v", got, tc.rules, res.Measurements)
			}
			// Replayed in virtual time: the measured rate is the clip's own.
			clip := tc.clip
			fps := float64(orDefault(clip.FPS, 30))
			m := res.Measurements
			if m["fps"] != fps {
				t.Errorf("fps %v, want exactly the clip's %v", m["fps"], fps)
			}
			if math.Abs(m["first_frame_seconds"]-1/fps) > 1e-6 {
				t.Errorf("first_frame_seconds %v, want one frame interval %v", m["first_frame_seconds"], 1/fps)
			}
			if m["width_pixels"] != float64(orDefault(clip.Width, 1280)) || m["height_pixels"] != float64(orDefault(clip.Height, 720)) {
				t.Errorf("size %vx%v, want the clip's", m["width_pixels"], m["height_pixels"])
			}
			for _, name := range []string{"black_ratio", "frozen_ratio", "low_detail_ratio"} {
				if v, ok := m[name]; !ok || v < 0 || v > 1 {
					t.Errorf("%s = %v (present %v), want a ratio", name, v, ok)
				}
			}
		})
	}
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func TestCamera_ClipEndingBeforeWindowIsError(t *testing.T) {
	std := defaultStandard(t)
	path := writeClip(t, "short.y4m", y4mtest.Clip{Pattern: y4mtest.Short}) // 36 frames at 30 fps
	c, err := New(Config{Source: "file:" + path})
	if err != nil {
		t.Fatal(err)
	}
	res := runJudged(t, context.Background(), c, std)[0]
	want := "clip ended after 1.2 s of the 3 s window (36 frames)"
	if res.Verdict != wire.Error || res.Reason != want {
		t.Errorf("got %s %q, want error %q", res.Verdict, res.Reason, want)
	}
	if len(res.Rules) != 0 || len(res.Measurements) != 0 {
		t.Errorf("an unfinished capture has rules %v and measurements %v, want none", res.Rules, res.Measurements)
	}
}

func TestCamera_WindowIsConfigurable(t *testing.T) {
	// The same 1.2 s clip covers a 1 s window.
	path := writeClip(t, "short.y4m", y4mtest.Clip{Pattern: y4mtest.Short})
	c, err := New(Config{Source: "file:" + path, Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res := runJudged(t, context.Background(), c, defaultStandard(t))[0]
	if res.Verdict != wire.Pass {
		t.Errorf("verdict %s (%s), want pass", res.Verdict, res.Reason)
	}
}

func TestCamera_BadClipErrorsNameFileAndPlace(t *testing.T) {
	std := defaultStandard(t)
	dir := t.TempDir()
	healthy := new(strings.Builder)
	if err := y4mtest.Encode(healthy, y4mtest.Clip{Width: 64, Height: 48, Duration: time.Second}); err != nil {
		t.Fatal(err)
	}
	const frameBytes = 6 + 64*48*3/2 // "FRAME\n" and the planes
	header := "YUV4MPEG2 W64 H48 F30:1 Ip A1:1 C420jpeg\n"
	for _, tc := range []struct {
		name, content, want string
	}{
		{"NotY4M", "RIFF....WAVEfmt \n", "clip %s: byte 0: header: starts with \"RIFF....WAVEfmt \", not \"YUV4MPEG2\": not a YUV4MPEG2 clip"},
		{"Empty", "", "clip %s: byte 0: header: empty file: not a YUV4MPEG2 clip"},
		{"NoFrameRate", "YUV4MPEG2 W64 H48 C420jpeg\n", "clip %s: byte 0: header: no frame rate (F)"},
		{"BadFrameRate", "YUV4MPEG2 W64 H48 F30:0\n", "clip %s: byte 18: header: F30:0: the frame rate must be F<num>:<den>, above 0 and at most 1000 fps"},
		{"BadWidth", "YUV4MPEG2 W0 H48 F30:1\n", "clip %s: byte 10: header: W0: W must be a size from 1 to 16384 pixels"},
		{"UnknownColourSpace", "YUV4MPEG2 W64 H48 F30:1 Crgb\n", "clip %s: byte 24: header: Crgb: colour space \"rgb\" is not supported"},
		{"UnknownParameter", "YUV4MPEG2 W64 H48 F30:1 Q9\n", "clip %s: byte 24: header: unknown parameter \"Q9\""},
		{"HeaderCut", "YUV4MPEG2 W64 H4", "clip %s: byte 16: header: truncated: the file ends inside the header"},
		{"FrameCut", healthy.String()[:len(header)+2*frameBytes+1000],
			fmt.Sprintf("clip %%s: frame 3 at byte %d: truncated: the file ends at byte %d, 994 of the frame's 4608 bytes of picture", len(header)+2*frameBytes, len(header)+2*frameBytes+1000)},
		{"NoFrameMarker", header + "FRAMX\n", fmt.Sprintf("clip %%s: frame 1 at byte %d: starts with \"FRAMX\", not FRAME", len(header))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".y4m")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := New(Config{Source: "file:" + path})
			if err != nil {
				t.Fatal(err)
			}
			res := runJudged(t, context.Background(), c, std)[0]
			want := fmt.Sprintf(tc.want, path)
			if res.Verdict != wire.Error || !strings.HasPrefix(res.Reason, want) {
				t.Errorf("got %s %q,\nwant error %q", res.Verdict, res.Reason, want)
			}
		})
	}
}

func TestClip_ColourSpacesGiveTheSameLuma(t *testing.T) {
	want := map[string]float64(nil)
	for _, cs := range []string{"420jpeg", "420mpeg2", "420paldv", "420", "411", "422", "444", "444alpha", "mono", "420p10", "422p12", "444p16", "mono10"} {
		t.Run(cs, func(t *testing.T) {
			// An odd size checks the rounding of the chroma planes.
			path := writeClip(t, "clip.y4m", y4mtest.Clip{Width: 161, Height: 91, Duration: time.Second, Colorspace: cs})
			st, err := openClip(path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			m, err := capture(context.Background(), st, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Next(context.Background()); !errors.Is(err, io.EOF) {
				t.Errorf("after the last frame: %v, want io.EOF", err)
			}
			if want == nil {
				want = m
			} else if !maps.Equal(m, want) {
				t.Errorf("measurements %v, want those of 420jpeg %v", m, want)
			}
		})
	}
}

func TestNew_ValidatesConfig(t *testing.T) {
	clip := writeClip(t, "ok.y4m", y4mtest.Clip{Width: 16, Height: 16, Duration: time.Second})
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" for no error
	}{
		{"LiveCameras", Config{}, ""},
		{"LiveCamerasByPath", Config{Devices: []string{"/dev/video0"}, Window: 5 * time.Second}, ""},
		{"Clip", Config{Source: "file:" + clip}, ""},
		{"UnknownScheme", Config{Source: "rtsp://cam.local/stream"},
			`camera source "rtsp://cam.local/stream": unknown scheme "rtsp"; want "" (the live cameras) or file:PATH.y4m (a recorded clip)`},
		{"NoScheme", Config{Source: "/tmp/a.y4m"},
			`camera source "/tmp/a.y4m": no scheme; want "" (the live cameras) or file:PATH.y4m (a recorded clip) (did you mean file:/tmp/a.y4m?)`},
		{"NoPath", Config{Source: "file:"}, `camera source "file:": no path after file:`},
		{"NotY4M", Config{Source: "file:/tmp/a.mp4"}, `camera source "file:/tmp/a.mp4": /tmp/a.mp4 is not a .y4m (YUV4MPEG2) clip`},
		{"MissingClip", Config{Source: "file:/nonexistent/a.y4m"}, `camera source "file:/nonexistent/a.y4m": stat /nonexistent/a.y4m: no such file or directory`},
		{"WindowTooShort", Config{Window: time.Millisecond}, "camera window 1ms is out of range; want 500ms to 1m0s"},
		{"WindowNegative", Config{Window: -time.Second}, "camera window -1s is out of range; want 500ms to 1m0s"},
		{"RelativeDevice", Config{Devices: []string{"video0"}}, `camera device "video0": want an absolute device path such as /dev/video0`},
		{"DevicesWithClip", Config{Source: "file:" + clip, Devices: []string{"/dev/video0"}}, "camera devices [/dev/video0]: they select live cameras"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want == "" && c.Name() != wire.CheckCamera:
				t.Errorf("Name %q, want %q", c.Name(), wire.CheckCamera)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("New: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWantedMode_ReadsNominalsFromStandard(t *testing.T) {
	if got, want := WantedMode(defaultStandard(t)), (Mode{1280, 720, 30}); got != want {
		t.Errorf("default standard: %v, want %v", got, want)
	}
	std, err := standard.Parse("test.yaml", []byte(`schema: siaprapat.standard/v1
name: test
version: "1"
freshness: 3m
rules:
  - {name: w, check: camera, measurement: width_pixels, fail_below: 1920, source: "[judgement]"}
  - {name: camera_min_width, check: camera, measurement: width_pixels, nominal: 1920, fail_below: 1920, source: "[judgement]"}
  - {name: camera_fps, check: camera, measurement: fps, nominal: 60, fail_below: 50, source: "[judgement]"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := WantedMode(std), (Mode{1920, 720, 60}); got != want {
		t.Errorf("custom standard: %v, want %v (height falls back)", got, want)
	}
	if got := WantedMode(nil); got != fallbackMode {
		t.Errorf("no standard: %v, want %v", got, fallbackMode)
	}
}

// fakeSource is a camera driver in memory, behind the same Source
// interface as the live cameras.
type fakeSource struct {
	mu      sync.Mutex
	cams    []*fakeCamera
	listErr error
	opened  []Mode // the modes asked for
}

type fakeCamera struct {
	dev     Device
	openErr error
	frames  int // frames before the stream fails with streamErr or ends; 0 for endless
	// streamErr ends the stream after frames; io.EOF when nil.
	streamErr error
	// After hold frames (when > 0), Next blocks until its context ends.
	hold    int
	holding chan struct{} // closed when Next starts to block
	closed  chan struct{} // closed by Close
}

func newFakeCamera(id string) *fakeCamera {
	return &fakeCamera{
		dev:     Device{ID: id, Name: "Fake Cam (" + id + ")"},
		holding: make(chan struct{}),
		closed:  make(chan struct{}),
	}
}

func (s *fakeSource) Cameras(context.Context) ([]Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Device
	for _, c := range s.cams {
		out = append(out, c.dev)
	}
	return out, s.listErr
}

func (s *fakeSource) Open(_ context.Context, dev Device, want Mode) (Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened = append(s.opened, want)
	for _, c := range s.cams {
		if c.dev.ID != dev.ID {
			continue
		}
		if c.openErr != nil {
			return nil, c.openErr
		}
		c.closed = make(chan struct{})
		return &fakeStream{cam: c, picture: movingPicture(want.Width, want.Height), fps: want.FPS}, nil
	}
	return nil, fmt.Errorf("open %s: no such camera", dev.ID)
}

type fakeStream struct {
	cam     *fakeCamera
	picture movingFrames
	fps     float64
	n       int
	once    sync.Once
}

func (s *fakeStream) Next(ctx context.Context) (Frame, error) {
	if s.cam.hold > 0 && s.n >= s.cam.hold {
		close(s.cam.holding)
		<-ctx.Done()
		return Frame{}, ctx.Err()
	}
	if s.cam.frames > 0 && s.n >= s.cam.frames {
		if s.cam.streamErr != nil {
			return Frame{}, s.cam.streamErr
		}
		return Frame{}, io.EOF
	}
	s.n++
	f := s.picture.at(s.n)
	f.Time = time.Duration(float64(s.n) / s.fps * float64(time.Second))
	return f, nil
}

func (s *fakeStream) Close() error {
	s.once.Do(func() { close(s.cam.closed) })
	return nil
}

// movingFrames is a noisy checkerboard of 40-pixel squares sliding 4 pixels
// a frame, cut out of one wider picture without copying.
type movingFrames struct {
	pix          []byte
	w, h, stride int
}

func movingPicture(w, h int) movingFrames {
	stride := w + 80
	pix := make([]byte, stride*h)
	for y := 0; y < h; y++ {
		for x := 0; x < stride; x++ {
			v := 60
			if (x/40+y/40)%2 == 1 {
				v = 190
			}
			pix[y*stride+x] = byte(v + (x*7+y*13)%5 - 2)
		}
	}
	return movingFrames{pix: pix, w: w, h: h, stride: stride}
}

func (m movingFrames) at(i int) Frame {
	shift := (4 * i) % 80
	return Frame{Y: m.pix[shift:], Stride: m.stride, Width: m.w, Height: m.h}
}

func newFakeCheck(t *testing.T, src Source, cfg Config) *Check {
	t.Helper()
	if cfg.InUse == nil {
		cfg.InUse = func(context.Context) (bool, string) { return false, "" }
	}
	c, err := NewWithSource(src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCamera_FakeHealthyCameraPassesAndIsAskedNominalMode(t *testing.T) {
	std := defaultStandard(t)
	src := &fakeSource{cams: []*fakeCamera{newFakeCamera("/dev/video0")}}
	res := runJudged(t, context.Background(), newFakeCheck(t, src, Config{}), std)
	if len(res) != 1 || res[0].Verdict != wire.Pass || res[0].Target != "Fake Cam (/dev/video0)" {
		t.Fatalf("got %+v, want one pass for Fake Cam (/dev/video0)", res)
	}
	if len(src.opened) != 1 || src.opened[0] != (Mode{1280, 720, 30}) {
		t.Errorf("asked for %v, want 1280x720 at 30 fps", src.opened)
	}
}

// runRoom runs the check through a runner, which repeats its last results.
func runRoom(t *testing.T, ctx context.Context, r *runner.Runner) []wire.CheckResult {
	t.Helper()
	return r.Run(ctx).Checks
}

func TestCamera_BusyCameraSkippedAndTheRunnerRepeatsItsLastResult(t *testing.T) {
	std := defaultStandard(t)
	cam := newFakeCamera("/dev/video0")
	cam.dev.USBID = "046d:082d"
	src := &fakeSource{cams: []*fakeCamera{cam}}
	c := newFakeCheck(t, src, Config{})
	r := &runner.Runner{Site: "s", Room: "r", Standard: std, Checks: []runner.Check{c}}

	first := runRoom(t, context.Background(), r)[0]
	if first.Verdict != wire.Pass || first.Reason != "USB 046d:082d" {
		t.Fatalf("first run: %s %q, want pass with the USB id", first.Verdict, first.Reason)
	}
	// A meeting app starts streaming: V4L2 answers EBUSY.
	cam.openErr = fmt.Errorf("start /dev/video0: %w", syscall.EBUSY)
	second := runRoom(t, context.Background(), r)[0]
	if second.Verdict != wire.Skipped || second.Code != wire.CodeInUse {
		t.Errorf("verdict %s code %q, want skipped in_use", second.Verdict, second.Code)
	}
	if !regexp.MustCompile(`^in use; USB 046d:082d; repeating the result measured at \d\d:\d\d:\d\dZ$`).MatchString(second.Reason) {
		t.Errorf("reason %q, want in use with the time of the repeated result", second.Reason)
	}
	if !maps.Equal(second.Measurements, first.Measurements) {
		t.Errorf("measurements %v, want the previous %v", second.Measurements, first.Measurements)
	}
	if len(second.Rules) != 0 {
		t.Errorf("a skipped check was judged: %v", second.Rules)
	}
	// The check's own error wrapping works as well as the raw errno.
	cam.openErr = fmt.Errorf("open: %w", ErrInUse)
	if third := runJudged(t, context.Background(), c, std)[0]; third.Verdict != wire.Skipped || third.Code != wire.CodeInUse || third.Measurements != nil {
		t.Errorf("ErrInUse: %+v, want skipped in_use without measurements", third)
	}
}

func TestCamera_BusyCameraWithoutHistoryIsInUse(t *testing.T) {
	cam := newFakeCamera("/dev/video0")
	cam.openErr = syscall.EBUSY
	res := runJudged(t, context.Background(), newFakeCheck(t, &fakeSource{cams: []*fakeCamera{cam}}, Config{}), defaultStandard(t))
	if len(res) != 1 || res[0].Verdict != wire.Skipped || res[0].Reason != "in use" || res[0].Measurements != nil {
		t.Errorf("got %+v, want skipped \"in use\" without measurements", res)
	}
}

func TestCamera_NoCameraFails(t *testing.T) {
	res := runJudged(t, context.Background(), newFakeCheck(t, &fakeSource{}, Config{}), defaultStandard(t))
	want := wire.CheckResult{Check: wire.CheckCamera, Target: "camera", Verdict: wire.Fail, Reason: "no camera found"}
	if len(res) != 1 || res[0].Check != want.Check || res[0].Target != want.Target || res[0].Verdict != want.Verdict ||
		res[0].Reason != want.Reason || len(res[0].Rules) != 0 || len(res[0].Measurements) != 0 {
		t.Errorf("got %+v, want %+v", res, want)
	}
}

func TestCamera_ListingErrorIsCheckError(t *testing.T) {
	_, err := newFakeCheck(t, &fakeSource{listErr: errors.New("no driver")}, Config{}).Run(context.Background(), defaultStandard(t))
	if err == nil || err.Error() != "list cameras: no driver" {
		t.Errorf("Run: %v, want list cameras: no driver", err)
	}
}

func TestCamera_CancelMidCaptureClosesDevice(t *testing.T) {
	cam := newFakeCamera("/dev/video0")
	cam.hold = 12
	c := newFakeCheck(t, &fakeSource{cams: []*fakeCamera{cam}}, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan []wire.CheckResult, 1)
	go func() {
		res, err := c.Run(ctx, defaultStandard(t))
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		done <- res
	}()
	<-cam.holding
	cancel()
	var res []wire.CheckResult
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	select {
	case <-cam.closed:
	default:
		t.Error("the camera was not closed")
	}
	want := "capture stopped after 0.4 s of the 3 s window (12 frames): context canceled"
	if len(res) != 1 || res[0].Verdict != wire.Error || res[0].Reason != want {
		t.Errorf("got %+v, want error %q", res, want)
	}
}

func TestCamera_StreamFailureIsErrorAndClosesDevice(t *testing.T) {
	cam := newFakeCamera("/dev/video0")
	cam.frames, cam.streamErr = 30, errors.New("read timeout")
	res := runJudged(t, context.Background(), newFakeCheck(t, &fakeSource{cams: []*fakeCamera{cam}}, Config{}), defaultStandard(t))
	want := "read timeout (after 1 s of the 3 s window, 30 frames)"
	if len(res) != 1 || res[0].Verdict != wire.Error || res[0].Reason != want {
		t.Errorf("got %+v, want error %q", res, want)
	}
	select {
	case <-cam.closed:
	default:
		t.Error("the camera was not closed")
	}
}

func TestCamera_SelectedDevices(t *testing.T) {
	src := &fakeSource{cams: []*fakeCamera{newFakeCamera("/dev/video0"), newFakeCamera("/dev/video2")}}
	c := newFakeCheck(t, src, Config{Devices: []string{"/dev/video2", "/dev/video4"}})
	res := runJudged(t, context.Background(), c, defaultStandard(t))
	var got []string
	for _, r := range res {
		got = append(got, fmt.Sprintf("%s %s %s", r.Target, r.Verdict, r.Reason))
	}
	want := []string{"/dev/video4 fail camera /dev/video4 not found", "Fake Cam (/dev/video2) pass "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCamera_HeldBackRunOpensNoCameraAndTheRunnerRepeatsThePreviousResult(t *testing.T) {
	std := defaultStandard(t)
	src := &fakeSource{cams: []*fakeCamera{newFakeCamera("/dev/video0"), newFakeCamera("/dev/video2")}}
	c := newFakeCheck(t, src, Config{Devices: []string{"/dev/video0"}})
	r := &runner.Runner{Site: "s", Room: "r", Standard: std, Checks: []runner.Check{c}}
	first := runRoom(t, context.Background(), r)[0]
	held := quiet.WithHold(context.Background(), quiet.Hold{Code: wire.CodeHeldBack, Reason: `meeting "Rapat" 09:00Z to 10:00Z (quiet 08:58Z to 10:02Z)`})
	if res := runJudged(t, held, c, std); len(res) != 1 || res[0].Verdict != wire.Skipped || res[0].Code != wire.CodeHeldBack || res[0].Measurements != nil {
		t.Errorf("the check alone, held back: %+v, want skipped held_back without measurements", res)
	}
	res := runRoom(t, held, r)
	if len(src.opened) != 1 {
		t.Fatalf("opened %d times, want only the first run's", len(src.opened))
	}
	if len(res) != 1 || res[0].Verdict != wire.Skipped || res[0].Code != wire.CodeHeldBack ||
		!regexp.MustCompile(`^camera not opened: meeting "Rapat" 09:00Z to 10:00Z \(quiet 08:58Z to 10:02Z\); repeating the result measured at \d\d:\d\d:\d\dZ$`).MatchString(res[0].Reason) ||
		!maps.Equal(res[0].Measurements, first.Measurements) {
		t.Errorf("held back: %+v", res)
	}
	// A camera never measured says so; a device in use gives its code.
	r = &runner.Runner{Site: "s", Room: "r", Standard: std, Checks: []runner.Check{newFakeCheck(t, src, Config{})}}
	inUse := quiet.WithHold(context.Background(), quiet.Hold{Code: wire.CodeInUse, Reason: "microphone or speaker in use by zoom (recording stream #3)"})
	for _, r := range runRoom(t, inUse, r) {
		if r.Verdict != wire.Skipped || r.Code != wire.CodeInUse || !strings.HasSuffix(r.Reason, runner.NoEarlierResult) {
			t.Errorf("in use, never measured: %+v", r)
		}
	}
}
