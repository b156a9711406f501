//go:build guest && linux && cgo

package camera

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/prop"
)

// TestGuest_EveryDecodableFormat runs inside the guest harness's virtual
// machine (go test -tags guest ./e2e/guest, which builds this package's test
// binary and runs it there): it captures the real V4L2 camera
// $SIAPRAPAT_GUEST_CAMERA through pion/mediadevices' driver in every pixel
// format the camera offers at $SIAPRAPAT_GUEST_MODE (640x360@30) that the
// check decodes, through the check's own stream and analysis, and prints one
// JSON line per format for the harness to judge against v4l2-ctl.
func TestGuest_EveryDecodableFormat(t *testing.T) {
	path := os.Getenv("SIAPRAPAT_GUEST_CAMERA")
	if path == "" {
		t.Skip("runs inside the guest harness (make test-guest), which sets SIAPRAPAT_GUEST_CAMERA")
	}
	var want Mode
	if _, err := fmt.Sscanf(os.Getenv("SIAPRAPAT_GUEST_MODE"), "%dx%d@%g", &want.Width, &want.Height, &want.FPS); err != nil {
		t.Fatalf("SIAPRAPAT_GUEST_MODE %q: want WxH@FPS: %v", os.Getenv("SIAPRAPAT_GUEST_MODE"), err)
	}
	window := 3 * time.Second
	if v, err := strconv.ParseFloat(os.Getenv("SIAPRAPAT_GUEST_WINDOW"), 64); err == nil {
		window = time.Duration(v * float64(time.Second))
	}
	src := newLiveSource(DefaultSysfs, slog.New(slog.DiscardHandler)).(*liveSource)
	ctx := context.Background()
	devs, err := src.Cameras(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(devs, func(d Device) bool { return d.ID == path })
	if i < 0 {
		t.Fatalf("%s not among %+v", path, devs)
	}
	dev := devs[i]

	// The formats offered in the wanted mode, as the driver lists them.
	var offered []frame.Format
	modes := map[frame.Format]prop.Media{}
	probe := func(props []prop.Media) (prop.Media, bool) {
		for _, p := range props {
			if p.Width == want.Width && p.Height == want.Height && float64(p.FrameRate) == want.FPS &&
				slices.Contains(preferredFormats, p.FrameFormat) && !slices.Contains(offered, p.FrameFormat) {
				offered = append(offered, p.FrameFormat)
				modes[p.FrameFormat] = p
			}
		}
		return prop.Media{}, false // list only
	}
	if _, err := src.open(dev, probe); err == nil {
		t.Fatal("the probe opened a stream")
	}
	if len(offered) == 0 {
		t.Fatalf("%s offers no decodable format at %v", path, want)
	}
	for _, f := range offered {
		t.Run(string(f), func(t *testing.T) {
			st, err := src.open(dev, func(props []prop.Media) (prop.Media, bool) {
				for _, p := range props {
					if p.FrameFormat == f && p.Width == want.Width && p.Height == want.Height && float64(p.FrameRate) == want.FPS {
						return p, true
					}
				}
				return prop.Media{}, false
			})
			if err != nil {
				t.Fatal(err)
			}
			m, err := capture(ctx, st, window)
			if cerr := st.Close(); cerr != nil {
				t.Errorf("close: %v", cerr)
			}
			if err != nil {
				t.Fatal(err)
			}
			line, _ := json.Marshal(map[string]any{"format": string(f), "measurements": m})
			fmt.Printf("FORMAT %s\n", line)
		})
	}
	// The reader of compressed modes (MJPEG: every frame counted, a sample
	// decoded), on the real driver: no guest camera streams MJPEG, so it
	// reads YUYV here, with pion's YUYV decoder for the sample.
	if p, ok := modes[frame.FormatYUYV]; ok {
		t.Run("YUYV-sampled", func(t *testing.T) {
			st, err := openSampled(path, p, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			m, err := capture(ctx, st, window)
			if cerr := st.Close(); cerr != nil {
				t.Errorf("close: %v", cerr)
			}
			if err != nil {
				t.Fatal(err)
			}
			line, _ := json.Marshal(map[string]any{"format": "YUYV-sampled", "measurements": m})
			fmt.Printf("FORMAT %s\n", line)
		})
	}
}
