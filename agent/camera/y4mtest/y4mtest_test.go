package y4mtest

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestEncode_WritesHeaderAndFrames(t *testing.T) {
	for _, tc := range []struct {
		clip       Clip
		header     string
		frames     int
		frameBytes int
	}{
		{Clip{Width: 4, Height: 2, FPS: 5, Duration: time.Second}, "YUV4MPEG2 W4 H2 F5:1 Ip A1:1 C420jpeg\n", 5, 4*2 + 2*2*1},
		{Clip{Width: 3, Height: 3, FPS: 10, Duration: time.Second, Pattern: Short, Colorspace: "422"}, "YUV4MPEG2 W3 H3 F10:1 Ip A1:1 C422\n", 4, 9 + 2*2*3},
		{Clip{Width: 2, Height: 2, FPS: 2, Duration: time.Second, Pattern: Black, Colorspace: "mono10"}, "YUV4MPEG2 W2 H2 F2:1 Ip A1:1 Cmono10\n", 2, 2 * 4},
	} {
		var b bytes.Buffer
		if err := Encode(&b, tc.clip); err != nil {
			t.Fatal(err)
		}
		if tc.clip.Frames() != tc.frames {
			t.Errorf("%+v: Frames() = %d, want %d", tc.clip, tc.clip.Frames(), tc.frames)
		}
		out := b.String()
		if !strings.HasPrefix(out, tc.header) {
			t.Errorf("%+v: header %q, want %q", tc.clip, out[:min(len(out), len(tc.header))], tc.header)
		}
		if want := len(tc.header) + tc.frames*(len("FRAME\n")+tc.frameBytes); len(out) != want {
			t.Errorf("%+v: %d bytes, want %d", tc.clip, len(out), want)
		}
		if got := strings.Count(out, "FRAME\n"); got != tc.frames {
			t.Errorf("%+v: %d frames, want %d", tc.clip, got, tc.frames)
		}
	}
}

func TestEncode_RejectsUnknownPatternAndColourSpace(t *testing.T) {
	for _, c := range []Clip{{Pattern: "stripes"}, {Colorspace: "rgb"}} {
		if err := Encode(&bytes.Buffer{}, c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
