package camera

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClip_PlaneLayouts builds 3x3 clips by hand, with the frame sizes
// worked out from the YUV4MPEG2 layout (chroma planes rounded up, deep
// samples two bytes little endian), as ffmpeg's yuv4mpegpipe writes them.
func TestClip_PlaneLayouts(t *testing.T) {
	for _, tc := range []struct {
		c         string
		extra     string // header extensions ffmpeg adds
		rest      int    // bytes after the luma plane in one frame
		deepShift int    // bits below the top 8 of a deep sample; -1 for 8-bit
	}{
		{"420jpeg", " XYSCSS=420JPEG XCOLORRANGE=FULL", 2 * 2 * 2, -1},
		{"420mpeg2", " XYSCSS=420MPEG2", 2 * 2 * 2, -1},
		{"420paldv", " XYSCSS=420PALDV", 2 * 2 * 2, -1},
		{"411", " XYSCSS=411", 2 * 1 * 3, -1},
		{"422", " XYSCSS=422", 2 * 2 * 3, -1},
		{"444", " XYSCSS=444", 2 * 3 * 3, -1},
		{"444alpha", "", 3 * 3 * 3, -1},
		{"mono", "", 0, -1},
		{"mono16", "", 0, 8},
		{"420p10", " XYSCSS=420P10", 2 * 2 * 2 * 2, 2},
		{"444p12", " XYSCSS=444P12", 2 * 3 * 3 * 2, 4},
	} {
		t.Run(tc.c, func(t *testing.T) {
			var clip bytes.Buffer
			clip.WriteString("YUV4MPEG2 W3 H3 F25:1 Ip A0:0 C" + tc.c + tc.extra + "\n")
			var want [2][]byte
			for f := range 2 {
				clip.WriteString("FRAME\n")
				for i := range 9 {
					v := byte(20*i + f)
					want[f] = append(want[f], v)
					if tc.deepShift < 0 {
						clip.WriteByte(v)
					} else {
						s := uint16(v)<<tc.deepShift | 1 // low bits below 8-bit precision are dropped
						clip.Write([]byte{byte(s), byte(s >> 8)})
					}
				}
				clip.Write(bytes.Repeat([]byte{0x80}, tc.rest))
			}
			path := filepath.Join(t.TempDir(), "clip.y4m")
			if err := os.WriteFile(path, clip.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			st, err := openClip(path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for f := range 2 {
				fr, err := st.Next(context.Background())
				if err != nil {
					t.Fatalf("frame %d: %v", f, err)
				}
				if !bytes.Equal(fr.Y, want[f]) || fr.Width != 3 || fr.Height != 3 || fr.Stride != 3 {
					t.Errorf("frame %d: %dx%d luma %v, want 3x3 %v", f, fr.Width, fr.Height, fr.Y, want[f])
				}
				if wantTime := time.Duration(f+1) * 40 * time.Millisecond; fr.Time != wantTime {
					t.Errorf("frame %d arrives at %v, want %v", f, fr.Time, wantTime)
				}
			}
			if _, err := st.Next(context.Background()); !errors.Is(err, io.EOF) {
				t.Errorf("after the last frame: %v, want io.EOF", err)
			}
		})
	}
}

func TestClip_ReplaysInVirtualTime(t *testing.T) {
	// 1800 frames at 30000/1001 fps: a minute of clip, read without
	// waiting (a replay in real time would take the minute).
	var clip bytes.Buffer
	clip.WriteString("YUV4MPEG2 W2 H2 F30000:1001 Cmono\n")
	for i := range 1800 {
		clip.WriteString("FRAME\n")
		clip.Write([]byte{byte(i), 0, 255, byte(i)})
	}
	path := filepath.Join(t.TempDir(), "ntsc.y4m")
	if err := os.WriteFile(path, clip.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := openClip(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	m, err := capture(context.Background(), st, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m["fps"], 30000.0/1001; got < want-1e-6 || got > want+1e-6 {
		t.Errorf("fps %v, want the clip's %v", got, want)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("a minute of clip took %v to replay: it must not wait in real time", took)
	}
}

func TestClip_CancelledContextStopsReading(t *testing.T) {
	var clip bytes.Buffer
	clip.WriteString("YUV4MPEG2 W2 H2 F30:1 Cmono\nFRAME\n\x00\x00\x00\x00")
	path := filepath.Join(t.TempDir(), "c.y4m")
	if err := os.WriteFile(path, clip.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := openClip(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := st.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next after cancel: %v, want context.Canceled", err)
	}
}

func TestClip_LongHeaderLineIsRejected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "long.y4m")
	if err := os.WriteFile(path, []byte("YUV4MPEG2 W2 H2 F30:1 X"+strings.Repeat("a", 5000)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := openClip(path)
	if want := "clip " + path + ": byte 0: header: no end of header within 4096 bytes"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("openClip: %v, want %q", err, want)
	}
}
