//go:build linux && cgo

package camera

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/frame"

	"github.com/siaprapat/siaprapat/internal/testenv"
)

// mjpegFrames makes n frames of ffmpeg's moving test picture as a webcam's
// MJPEG (baseline JPEG, 4:2:2, quality about 90 %), as the guest harness's
// USB camera sends them.
func mjpegFrames(tb testing.TB, size string, n int) [][]byte {
	tb.Helper()
	ffmpeg := testenv.Command(tb, "ffmpeg", "ffmpeg")
	dir := tb.TempDir()
	cmd := exec.Command(ffmpeg, "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size="+size+":rate=30",
		"-frames:v", itoa(n), "-q:v", "5", "-pix_fmt", "yuvj422p", filepath.Join(dir, "%03d.jpg"))
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	var frames [][]byte
	for i := 1; i <= n; i++ {
		b, err := os.ReadFile(filepath.Join(dir, itoa3(i)+".jpg"))
		if err != nil {
			tb.Fatal(err)
		}
		frames = append(frames, b)
	}
	return frames
}

func itoa(n int) string { return trimFloat(float64(n)) }

func itoa3(n int) string {
	s := itoa(n)
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}

// BenchmarkMJPEGFrame measures what one MJPEG frame costs the check when
// it is decoded: pion/mediadevices' MJPEG decoder (image/jpeg), the luma
// copy and the analysis. ms/frame is the cost of one frame; core/30fps is
// the share of a core that decoding every frame of a 30 fps stream takes.
//
//	go test -run '^$' -bench MJPEGFrame ./agent/camera
func BenchmarkMJPEGFrame(b *testing.B) {
	for _, size := range []struct{ name, wxh string }{{"720p", "1280x720"}, {"1080p", "1920x1080"}} {
		b.Run(size.name, func(b *testing.B) {
			frames := mjpegFrames(b, size.wxh, 30)
			dec, err := frame.NewDecoder(frame.FormatMJPEG)
			if err != nil {
				b.Fatal(err)
			}
			var a analyzer
			var buf []byte
			bytes := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				jpg := frames[i%len(frames)]
				bytes += len(jpg)
				img, release, err := dec.Decode(jpg, 0, 0)
				if err != nil {
					b.Fatal(err)
				}
				var f Frame
				f, buf = lumaInto(img, buf)
				release()
				if _, err := a.add(f); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			perFrame := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(perFrame*1e3, "ms/frame")
			b.ReportMetric(perFrame*30, "core/30fps")
			b.ReportMetric(float64(bytes)/float64(b.N)/1e3, "kB/frame")
		})
	}
}

// cpuTime is the process's user and system time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMJPEGCheck runs the check's capture of a 3 s window over a
// 30 fps stream of ffmpeg's 1080p MJPEG frames, handed over as the V4L2
// driver does (fakeV4L2, in real time), and reports the CPU it took as a
// share of one core: sampled (the check: a frame decoded every
// DecodeEvery) and every frame decoded (what pion's reader does), and the
// frame rate each measured.
//
//	go test -run '^$' -bench MJPEGCheck -benchtime 3x ./agent/camera
func BenchmarkMJPEGCheck(b *testing.B) {
	frames := mjpegFrames(b, "1920x1080", 30)
	dec, err := frame.NewDecoder(frame.FormatMJPEG)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		every time.Duration
	}{{"sampled", DecodeEvery}, {"every-frame", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			var cpu time.Duration
			var fps float64
			for i := 0; i < b.N; i++ {
				cam := &fakeV4L2{frames: frames, interval: time.Second / 30}
				before := cpuTime(b)
				st := newSampledStream(cam, sampling{decode: dec.Decode, width: 1920, height: 1080, every: tc.every}, time.Now())
				m, err := capture(context.Background(), st, 3*time.Second)
				st.Close()
				cpu += cpuTime(b) - before
				if err != nil {
					b.Fatal(err)
				}
				fps += m["fps"]
			}
			b.ReportMetric(cpu.Seconds()/float64(b.N)/3, "core")
			b.ReportMetric(fps/float64(b.N), "fps")
		})
	}
}
