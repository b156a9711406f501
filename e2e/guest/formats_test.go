//go:build guest && linux

package guest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// The formats the check decodes that vivid offers (all but MJPEG), by
// pion/mediadevices' name, with their V4L2 fourcc.
// YUYV-sampled is YUYV read the way the check reads MJPEG: every frame
// stamped, a sample decoded (camera.DecodeEvery).
var vividFormats = []struct{ name, fourcc string }{
	{"I420", "YU12"}, {"NV12", "NV12"}, {"NV21", "NV21"}, {"YUYV", "YUYV"}, {"UYVY", "UYVY"}, {"YUYV-sampled", "YUYV"},
}

// testVividFormats runs the camera package's guest test (its test binary,
// built with -tags guest, is in the image) on vivid, one pixel format at a
// time at 640x360 at 30 fps, each followed by v4l2-ctl in the same mode.
func testVividFormats(t *testing.T, m *machine) {
	dev := m.nodeNamed(t, "vivid")
	var figs []figure
	for _, f := range vividFormats {
		t.Run(f.name, func(t *testing.T) {
			res := m.run(t, vividSetup(dev, barsPattern, moving, 0)+" >&2\nSIAPRAPAT_GUEST_CAMERA="+dev+
				" SIAPRAPAT_GUEST_MODE=640x360@30 camera.test -test.run 'TestGuest_EveryDecodableFormat/^"+f.name+"$' -test.v 2>&1")
			if res.Code != 0 {
				t.Fatalf("camera.test: exit %d\n%s", res.Code, res.Stdout)
			}
			i := slices.IndexFunc(strings.Split(res.Stdout, "\n"), func(l string) bool { return strings.HasPrefix(l, "FORMAT ") })
			if i < 0 {
				t.Fatalf("%s was not captured (not offered?)\n%s", f.name, res.Stdout)
			}
			var got struct {
				Format       string             `json:"format"`
				Measurements map[string]float64 `json:"measurements"`
			}
			line := strings.Split(res.Stdout, "\n")[i]
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "FORMAT ")), &got); err != nil || got.Format != f.name {
				t.Fatalf("%s: %v", line, err)
			}
			ms := got.Measurements
			if ms["width_pixels"] != 640 || ms["height_pixels"] != 360 {
				t.Errorf("size %vx%v, want 640x360", ms["width_pixels"], ms["height_pixels"])
			}
			if ms["frozen_ratio"] != 0 || ms["black_ratio"] != 0 || ms["low_detail_ratio"] != 0 {
				t.Errorf("moving colour bars read frozen %v, black %v, low detail %v; want 0, 0, 0", ms["frozen_ratio"], ms["black_ratio"], ms["low_detail_ratio"])
			}
			ref, _ := m.v4l2Rate(t, dev, 640, 360, f.fourcc, 30, 120)
			figs = append(figs, figure{name: "format " + f.name + " 640x360", agent: ms["fps"], v4l2: ref})
			if !near(ms["fps"]/ref, 1, fpsTolerance) {
				t.Errorf("%.2f fps against v4l2-ctl's %.2f", ms["fps"], ref)
			}
		})
	}
	logFigures(t, figs)
}
