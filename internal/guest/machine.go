package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Module is a kernel module the guest's init loads at boot, with its
// parameters.
type Module struct {
	File   string // the .ko file on the host
	Params string // "n_devs=1 node_types=0x1"
}

// Config describes a guest.
type Config struct {
	Kernel    Kernel
	Initramfs string // the image to boot (made with Initramfs.WriteFile)
	Share     string // host directory mounted at /mnt in the guest; jobs and results cross it
	MemoryMB  int    // 1024 when 0
	CPUs      int    // 2 when 0
	Console   string // file the guest's serial console is written to
	// BootTimeout bounds the boot, up to the init's "ready"; 2 min when 0.
	BootTimeout time.Duration
}

// Machine is a running guest.
type Machine struct {
	cfg   Config
	cmd   *exec.Cmd
	exit  chan error
	next  int
	KVM   bool          // the guest runs under KVM (else plain emulation)
	Boot  time.Duration // from start to the init's "ready"
	Ready string        // what the init wrote when ready (uname -r)
}

// Init is the guest's /init: it mounts what the jobs need, loads the
// modules listed in /etc/guest-modules (one "file params" a line), mounts
// the share at /mnt, says ready there and runs the jobs the host writes:
// /mnt/jobs/N.sh in turn, its output to /mnt/out/N.stdout and .stderr and
// its exit code, last, to /mnt/out/N.rc. /mnt/jobs/halt powers it off.
const Init = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm /tmp /mnt /run
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
ip link set lo up 2>/dev/null
hostname guest
while read -r ko params; do
  [ -n "$ko" ] || continue
  insmod "$ko" $params || echo "guest: insmod $ko failed" > /dev/console
done < /etc/guest-modules
grep -q configfs /proc/filesystems && mount -t configfs none /sys/kernel/config
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share /mnt || { echo "guest: no share" > /dev/console; poweroff -f; }
mkdir -p /mnt/out
uname -r > /mnt/out/ready
n=1
while :; do
  if [ -f /mnt/jobs/$n.sh ]; then
    (cd /tmp && exec sh /mnt/jobs/$n.sh) > /mnt/out/$n.stdout 2> /mnt/out/$n.stderr
    echo $? > /mnt/out/$n.rc.tmp && mv /mnt/out/$n.rc.tmp /mnt/out/$n.rc
    n=$((n+1))
  elif [ -f /mnt/jobs/halt ]; then
    break
  else
    usleep 50000
  fi
done
sync
poweroff -f
`

// ModuleList is the /etc/guest-modules the Init reads: each module's path
// in the image (/lib/guest-modules/NAME.ko) and its parameters.
func ModuleList(mods []Module) []byte {
	var b bytes.Buffer
	for _, m := range mods {
		fmt.Fprintf(&b, "%s %s\n", ModulePath(m.File), m.Params)
	}
	return b.Bytes()
}

// ModulePath is where a module file goes in the image.
func ModulePath(file string) string {
	return "/lib/guest-modules/" + filepath.Base(file)
}

// Boot starts QEMU (with KVM when /dev/kvm can be opened, else plain
// emulation) and waits until the guest's init is ready for jobs.
func Boot(ctx context.Context, cfg Config) (*Machine, error) {
	if cfg.MemoryMB == 0 {
		cfg.MemoryMB = 1024
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 2
	}
	if cfg.BootTimeout == 0 {
		cfg.BootTimeout = 2 * time.Minute
	}
	for _, d := range []string{"jobs", "out"} {
		if err := os.MkdirAll(filepath.Join(cfg.Share, d), 0o755); err != nil {
			return nil, err
		}
	}
	m := &Machine{cfg: cfg, exit: make(chan error, 1), next: 1}
	args := []string{
		"-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none",
		"-m", strconv.Itoa(cfg.MemoryMB), "-smp", strconv.Itoa(cfg.CPUs),
		"-kernel", cfg.Kernel.Image, "-initrd", cfg.Initramfs,
		"-append", "console=ttyS0 quiet loglevel=4 panic=-1",
		"-serial", "file:" + cfg.Console,
		"-virtfs", "local,path=" + cfg.Share + ",mount_tag=share,security_model=none,id=share",
	}
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
		f.Close()
		m.KVM = true
		args = append(args, "-accel", "kvm", "-cpu", "host")
	} else {
		args = append(args, "-accel", "tcg")
	}
	m.cmd = exec.Command("qemu-system-x86_64", args...)
	var stderr bytes.Buffer
	m.cmd.Stderr = &stderr
	start := time.Now()
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start qemu-system-x86_64: %w", err)
	}
	go func() { m.exit <- m.cmd.Wait() }()
	ready := filepath.Join(cfg.Share, "out", "ready")
	deadline := time.NewTimer(cfg.BootTimeout)
	defer deadline.Stop()
	for {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			m.Boot, m.Ready = time.Since(start), strings.TrimSpace(string(b))
			return m, nil
		}
		select {
		case err := <-m.exit:
			return nil, fmt.Errorf("the guest stopped while booting (%v): %s; console: %s", err, bytes.TrimSpace(stderr.Bytes()), m.consoleTail())
		case <-deadline.C:
			m.kill()
			return nil, fmt.Errorf("the guest was not ready after %v; console: %s", cfg.BootTimeout, m.consoleTail())
		case <-ctx.Done():
			m.kill()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (m *Machine) consoleTail() string {
	b, _ := os.ReadFile(m.cfg.Console)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// Console returns what the guest has written to its serial console.
func (m *Machine) Console() string {
	b, _ := os.ReadFile(m.cfg.Console)
	return string(b)
}

// Share is the host side of the guest's /mnt.
func (m *Machine) Share() string { return m.cfg.Share }

// Result is what a job left.
type Result struct {
	Stdout, Stderr string
	Code           int
	Elapsed        time.Duration
}

// Run runs a shell script (busybox sh, in /tmp) in the guest and waits for
// its end. A job that outlives ctx is left running, and so is the guest's
// queue behind it: the caller should stop the machine.
func (m *Machine) Run(ctx context.Context, script string) (Result, error) {
	n := m.next
	m.next++
	job := filepath.Join(m.cfg.Share, "jobs", strconv.Itoa(n)+".sh")
	if err := os.WriteFile(job+".tmp", []byte(script), 0o755); err != nil {
		return Result{}, err
	}
	if err := os.Rename(job+".tmp", job); err != nil {
		return Result{}, err
	}
	start := time.Now()
	out := filepath.Join(m.cfg.Share, "out", strconv.Itoa(n))
	for {
		if b, err := os.ReadFile(out + ".rc"); err == nil {
			code, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				return Result{}, fmt.Errorf("job %d: exit code %q", n, b)
			}
			stdout, _ := os.ReadFile(out + ".stdout")
			stderr, _ := os.ReadFile(out + ".stderr")
			return Result{Stdout: string(stdout), Stderr: string(stderr), Code: code, Elapsed: time.Since(start)}, nil
		}
		select {
		case err := <-m.exit:
			m.exit <- err
			return Result{}, fmt.Errorf("job %d: the guest stopped (%v); console: %s", n, err, m.consoleTail())
		case <-ctx.Done():
			return Result{}, fmt.Errorf("job %d: %w", n, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close asks the guest to power off, and ends QEMU if it has not within
// 20 s.
func (m *Machine) Close() error {
	if err := os.WriteFile(filepath.Join(m.cfg.Share, "jobs", "halt"), nil, 0o644); err != nil {
		m.kill()
		return err
	}
	select {
	case err := <-m.exit:
		m.exit <- err
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return err
		}
		return nil
	case <-time.After(20 * time.Second):
		m.kill()
		return errors.New("the guest did not power off within 20 s: killed")
	}
}

func (m *Machine) kill() {
	if m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
	}
}
