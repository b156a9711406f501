//go:build guest && linux

// Package guest runs the agent against real kernel drivers: Debian's own
// kernel booted under QEMU (internal/guest) with vivid (V4L2), a UVC gadget
// seen through uvcvideo (a USB camera with a known id) and snd-aloop (ALSA
// with no sound server). One guest is booted and every case is a job in it.
//
//	make test-guest    # or: go test -tags guest -v ./e2e/guest/
//
// It needs the Debian packages qemu-system-x86, busybox-static, v4l-utils,
// alsa-utils and ffmpeg, and apt's package lists to fetch the kernel
// package (cached under $SIAPRAPAT_GUEST_CACHE, else the user cache
// directory). In CI a missing piece fails the test; elsewhere it skips.
package guest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/internal/guest"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/wire"
)

// The modules the guest loads at boot, with their parameters. vivid makes
// one webcam-like capture node (input 0, "Webcam") and nothing else.
var bootModules = []struct{ name, params string }{
	{"virtio_pci", ""}, {"9pnet_virtio", ""}, {"9p", ""},
	{"vivid", vividParams},
	{"snd_aloop", "index=0 id=Loopback pcm_substreams=1"},
	{"usbip_vudc", ""}, {"vhci_hcd", ""}, {"usb_f_uvc", ""}, {"uvcvideo", ""},
	{"libcomposite", ""},
}

// machine is the booted guest shared by the cases of TestGuest.
type machine struct {
	*guest.Machine
	t *testing.T
}

// skipOrFail fails in CI and skips elsewhere.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if testenv.InCI() {
		t.Fatal(msg + ": the guest test must run in CI")
	}
	t.Skip(msg + ": skipping outside CI")
}

func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func cacheDir(t *testing.T) string {
	if d := os.Getenv("SIAPRAPAT_GUEST_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(d, "siaprapat-guest")
}

// boot builds the initramfs and boots the guest.
func boot(t *testing.T) *machine {
	t.Helper()
	qemu := testenv.Command(t, "qemu-system-x86_64", "qemu-system-x86")
	_ = qemu
	busybox := testenv.Command(t, "busybox", "busybox-static")
	v4l2ctl := testenv.Command(t, "v4l2-ctl", "v4l-utils")
	aplay := testenv.Command(t, "aplay", "alsa-utils")
	ffmpeg := testenv.Command(t, "ffmpeg", "ffmpeg")
	testenv.Command(t, "apt-get", "apt")
	testenv.Command(t, "dpkg-deb", "dpkg")
	testenv.Command(t, "ldd", "libc-bin")
	if out, err := exec.Command(busybox, "--list").Output(); err != nil || !bytes.Contains(out, []byte("insmod")) {
		skipOrFail(t, "%s has no applet list (want Debian's busybox-static)", busybox)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	k, err := guest.FetchKernel(ctx, cacheDir(t))
	if err != nil {
		skipOrFail(t, "the kernel package: %v (apt-get update first)", err)
	}
	t.Logf("kernel %s (%s), ready in %v", k.Release, k.Package, time.Since(start).Round(time.Millisecond))

	work := t.TempDir()
	share := filepath.Join(work, "share")
	if err := os.MkdirAll(share, 0o755); err != nil {
		t.Fatal(err)
	}
	root := repoRoot(t)
	agent := filepath.Join(work, "siaprapat-agent")
	gadget := filepath.Join(work, "uvc-gadget")
	cameraTest := filepath.Join(work, "camera.test")
	for _, b := range []struct {
		env  []string
		args []string
	}{
		{nil, []string{"build", "-o", agent, "./agent/cmd/siaprapat-agent"}},
		{[]string{"CGO_ENABLED=0"}, []string{"build", "-o", gadget, "./internal/guest/cmd/uvc-gadget"}},
		{nil, []string{"test", "-c", "-tags", "guest", "-o", cameraTest, "./agent/camera"}},
	} {
		cmd := exec.Command("go", b.args...)
		cmd.Dir, cmd.Env = root, append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(b.args, " "), err, out)
		}
	}
	// MJPEG frames for the USB camera: ffmpeg's moving test picture.
	for _, size := range []string{"1280x720", "1920x1080"} {
		dir := filepath.Join(share, "mjpeg-"+size)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(ffmpeg, "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size="+size+":rate=30",
			"-frames:v", "30", "-q:v", "5", "-pix_fmt", "yuvj422p", filepath.Join(dir, "%02d.jpg"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
	}

	if err := os.CopyFS(filepath.Join(share, "testdata"), os.DirFS(filepath.Join(root, "e2e", "guest", "testdata"))); err != nil {
		t.Fatal(err)
	}

	img := guest.NewInitramfs()
	if err := img.AddFile(busybox, "/bin/busybox"); err != nil {
		t.Fatal(err)
	}
	if err := img.AddLibraries(busybox); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(busybox, "--list").Output()
	for _, applet := range strings.Fields(string(out)) {
		if applet != "busybox" {
			img.AddSymlink("/bin/"+applet, "busybox")
		}
	}
	for _, d := range []string{"/proc", "/sys", "/dev", "/tmp", "/mnt", "/run", "/root"} {
		img.AddDir(d)
	}
	img.AddSymlink("/sbin", "bin")
	img.AddSymlink("/bin/arecord", "aplay")
	for _, p := range []struct{ src, dst string }{
		{v4l2ctl, "/bin/v4l2-ctl"}, {aplay, "/bin/aplay"}, {agent, "/bin/siaprapat-agent"},
		{gadget, "/bin/uvc-gadget"}, {cameraTest, "/bin/camera.test"},
	} {
		if err := img.AddProgram(p.src, p.dst); err != nil {
			t.Fatal(err)
		}
	}
	// miniaudio opens libasound at run time; ALSA reads its configuration.
	libasound, err := filepath.EvalSymlinks("/usr/lib/x86_64-linux-gnu/libasound.so.2")
	if err != nil {
		skipOrFail(t, "libasound.so.2 is not installed (Debian package libasound2)")
	}
	if err := img.AddFile(libasound, "/usr/lib/x86_64-linux-gnu/libasound.so.2"); err != nil {
		t.Fatal(err)
	}
	if err := img.AddTree("/usr/share/alsa", "/usr/share/alsa"); err != nil {
		t.Fatal(err)
	}
	var names []string
	params := map[string]string{}
	for _, m := range bootModules {
		names = append(names, m.name)
		params[m.name] = m.params
	}
	files, err := guest.ModuleOrder(k, names...)
	if err != nil {
		t.Fatal(err)
	}
	var mods []guest.Module
	for _, f := range files {
		if err := img.AddFile(f, guest.ModulePath(f)); err != nil {
			t.Fatal(err)
		}
		name := strings.ReplaceAll(strings.TrimSuffix(filepath.Base(f), ".ko"), "-", "_")
		mods = append(mods, guest.Module{File: f, Params: params[name]})
	}
	img.AddBytes("/etc/guest-modules", guest.ModuleList(mods), 0o644)
	img.AddBytes("/init", []byte(guest.Init), 0o755)
	img.AddBytes("/etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
	img.AddBytes("/etc/group", []byte("root:x:0:\naudio:x:29:\nvideo:x:44:\n"), 0o644)
	initrd := filepath.Join(work, "initramfs.cpio")
	if err := img.WriteFile(initrd); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(initrd); err == nil {
		t.Logf("initramfs %.1f MB, %d modules", float64(fi.Size())/1e6, len(mods))
	}
	console := filepath.Join(work, "console.log")
	m, err := guest.Boot(ctx, guest.Config{Kernel: k, Initramfs: initrd, Share: share, Console: console})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("guest %s booted in %v (kvm %v)", m.Ready, m.Boot.Round(time.Millisecond), m.KVM)
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("stop the guest: %v", err)
		}
		if t.Failed() {
			t.Logf("guest console:\n%s", m.Console())
		}
	})
	return &machine{Machine: m, t: t}
}

// run runs a job and fails the test when the guest cannot run it.
func (m *machine) run(t *testing.T, script string) guest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := m.Run(ctx, script)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// check runs siaprapat-agent check --json in the guest with the given
// arguments, between two shell snippets (to set a device up first, and to
// stop what before started; before's output goes to stderr), and returns
// its report; the exit code must be 0 or 1 (a verdict), or 2 with a report
// (nothing could be measured).
func (m *machine) check(t *testing.T, before, after string, args ...string) (wire.Report, guest.Result) {
	t.Helper()
	script := "{\ntrue\n" + before + "\n} >&2\nsiaprapat-agent check --json --log-level debug " + strings.Join(args, " ") +
		"\nrc=$?\n" + after + "\nexit $rc\n"
	res := m.run(t, script)
	var r wire.Report
	if res.Code != 0 && res.Code != 1 && (res.Code != 2 || !strings.HasPrefix(res.Stdout, "{")) {
		t.Fatalf("siaprapat-agent check %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.Code, res.Stdout, res.Stderr)
	}
	if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
		t.Fatalf("report: %v\n%s\nstderr: %s", err, res.Stdout, res.Stderr)
	}
	return r, res
}

func result(t *testing.T, r wire.Report, check string) wire.CheckResult {
	t.Helper()
	var found []wire.CheckResult
	for _, c := range r.Checks {
		if c.Check == check {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s results, want 1: %+v", len(found), check, r.Checks)
	}
	return found[0]
}

func rule(t *testing.T, c wire.CheckResult, name string) wire.RuleResult {
	t.Helper()
	for _, r := range c.Rules {
		if r.Rule == name {
			return r
		}
	}
	t.Fatalf("no rule %s in %+v", name, c.Rules)
	return wire.RuleResult{}
}

var (
	dqbufLine = regexp.MustCompile(`cap dqbuf: \d+ seq:\s+(\d+) .* ts: (\d+\.\d+)`)
	fpsLine   = regexp.MustCompile(`fps: (\d+\.\d+)`)
)

// v4l2Rate streams a mode with v4l2-ctl --stream-mmap --verbose in the guest
// and returns the rate of the frames it dequeued, from their kernel
// timestamps (the first two left out: start-up), and the rate v4l2-ctl
// prints, which it counts in sequence numbers: it includes frames the
// driver dropped. Its output goes to the guest's tmpfs first: written
// line by line to the share, it would slow v4l2-ctl down.
func (m *machine) v4l2Rate(t *testing.T, dev string, width, height int, pixfmt string, fps float64, frames int) (delivered, printed float64) {
	t.Helper()
	res := m.run(t, fmt.Sprintf("v4l2-ctl -d %s --set-fmt-video=width=%d,height=%d,pixelformat=%s --set-parm=%s >/dev/null && v4l2-ctl -d %s --stream-mmap --stream-count=%d --verbose >/tmp/v4l2-ctl.log 2>&1; rc=$?; cat /tmp/v4l2-ctl.log; exit $rc",
		dev, width, height, pixfmt, strconv.FormatFloat(fps, 'f', -1, 64), dev, frames))
	var ts []float64
	for _, m := range dqbufLine.FindAllStringSubmatch(res.Stdout, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		ts = append(ts, v)
	}
	var rates []float64
	for _, m := range fpsLine.FindAllStringSubmatch(res.Stdout, -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		rates = append(rates, v)
	}
	if res.Code != 0 || len(ts) < 10 || len(rates) == 0 {
		t.Fatalf("v4l2-ctl --stream-mmap on %s %dx%d %s: exit %d, %d frames\n%s%s", dev, width, height, pixfmt, res.Code, len(ts), res.Stdout, res.Stderr)
	}
	ts = ts[2:]
	return float64(len(ts)-1) / (ts[len(ts)-1] - ts[0]), rates[len(rates)-1]
}

// figure is one line of the closing table: the agent's rate against
// v4l2-ctl's in the same guest and mode.
type figure struct {
	name        string
	agent, v4l2 float64
}

func logFigures(t *testing.T, figs []figure) {
	var b strings.Builder
	fmt.Fprintf(&b, "%-40s %10s %10s %7s\n", "case", "agent fps", "v4l2-ctl", "ratio")
	for _, f := range figs {
		fmt.Fprintf(&b, "%-40s %10.2f %10.2f %7.3f\n", f.name, f.agent, f.v4l2, f.agent/f.v4l2)
	}
	t.Logf("frame rates against v4l2-ctl --stream-mmap in the same guest and mode:\n%s", b.String())
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestGuest(t *testing.T) {
	start := time.Now()
	m := boot(t)
	t.Run("Camera", func(t *testing.T) { testVivid(t, m) })
	t.Run("CameraFormats", func(t *testing.T) { testVividFormats(t, m) })
	t.Run("USBCamera", func(t *testing.T) { testUSBCamera(t, m) })
	t.Run("ALSA", func(t *testing.T) { testALSA(t, m) })
	t.Logf("guest test: %v in all", time.Since(start).Round(time.Second))
}
