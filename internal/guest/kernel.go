// Package guest is for tests: it boots Debian's own kernel under QEMU with
// an initramfs made from Debian packages (the kernel package's modules,
// busybox-static, v4l-utils, alsa-utils and the programs under test with
// the libraries they link), and runs shell jobs in it, so that the agent
// meets real kernel drivers (vivid, snd-aloop, the UVC gadget and uvcvideo)
// on a machine that has none.
//
// Jobs and their results cross a 9p shared directory: the guest's init runs
// each job the host writes there and writes back its output and exit code.
package guest

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// KernelMeta is the Debian package that depends on the current kernel.
const KernelMeta = "linux-image-amd64"

// Kernel is an unpacked Debian kernel package.
type Kernel struct {
	Package string // linux-image-6.1.0-57-amd64
	Release string // 6.1.0-57-amd64
	Image   string // path of vmlinuz
	Root    string // where the package is unpacked (boot/, lib/modules/)
}

// ModulesDir is the kernel's module tree.
func (k Kernel) ModulesDir() string {
	return filepath.Join(k.Root, "lib", "modules", k.Release)
}

// FetchKernel returns the kernel package linux-image-amd64 depends on,
// unpacked under cacheDir: taken with apt-get download and dpkg-deb the
// first time, from the cache after. It needs apt's package lists
// (apt-get update).
func FetchKernel(ctx context.Context, cacheDir string) (Kernel, error) {
	out, err := exec.CommandContext(ctx, "apt-cache", "depends", KernelMeta).CombinedOutput()
	if err != nil {
		return Kernel{}, fmt.Errorf("apt-cache depends %s: %w: %s", KernelMeta, err, bytes.TrimSpace(out))
	}
	m := regexp.MustCompile(`Depends: (linux-image-(\d\S*-amd64))`).FindSubmatch(out)
	if m == nil {
		return Kernel{}, fmt.Errorf("apt-cache depends %s names no kernel package (run apt-get update): %s", KernelMeta, bytes.TrimSpace(out))
	}
	k := Kernel{Package: string(m[1]), Release: string(m[2])}
	k.Root = filepath.Join(cacheDir, k.Package)
	k.Image = filepath.Join(k.Root, "boot", "vmlinuz-"+k.Release)
	if _, err := os.Stat(k.Image); err == nil {
		return k, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return Kernel{}, err
	}
	tmp, err := os.MkdirTemp(cacheDir, ".fetch-")
	if err != nil {
		return Kernel{}, err
	}
	defer os.RemoveAll(tmp)
	dl := exec.CommandContext(ctx, "apt-get", "download", k.Package)
	dl.Dir = tmp
	if out, err := dl.CombinedOutput(); err != nil {
		return Kernel{}, fmt.Errorf("apt-get download %s: %w: %s", k.Package, err, bytes.TrimSpace(out))
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, k.Package+"_*.deb"))
	if len(debs) != 1 {
		return Kernel{}, fmt.Errorf("apt-get download %s left %d packages", k.Package, len(debs))
	}
	root := filepath.Join(tmp, "root")
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", debs[0], root).CombinedOutput(); err != nil {
		return Kernel{}, fmt.Errorf("dpkg-deb -x %s: %w: %s", debs[0], err, bytes.TrimSpace(out))
	}
	if err := os.Rename(root, k.Root); err != nil {
		return Kernel{}, err
	}
	if _, err := os.Stat(k.Image); err != nil {
		return Kernel{}, fmt.Errorf("%s has no kernel image: %w", k.Package, err)
	}
	return k, nil
}

// moduleIndex maps a module's name (with '_' for '-') to its file.
func moduleIndex(k Kernel) (map[string]string, error) {
	idx := map[string]string{}
	err := filepath.WalkDir(filepath.Join(k.ModulesDir(), "kernel"), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name, ok := strings.CutSuffix(d.Name(), ".ko"); ok {
			idx[modName(name)] = path
		}
		return nil
	})
	return idx, err
}

func modName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// moduleDepends reads a module's dependencies from its .modinfo section
// (what modinfo -F depends prints), so no depmod is needed.
func moduleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("%s: no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					deps = append(deps, modName(d))
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}

// ModuleOrder returns the files of the named modules and of everything they
// depend on, each once, dependencies first: the order to insmod them in.
func ModuleOrder(k Kernel, names ...string) ([]string, error) {
	idx, err := moduleIndex(k)
	if err != nil {
		return nil, fmt.Errorf("modules of %s: %w", k.Release, err)
	}
	var order []string
	seen := map[string]bool{}
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		name = modName(name)
		if seen[name] {
			return nil
		}
		path, ok := idx[name]
		if !ok {
			if builtin(k, name) {
				seen[name] = true
				return nil
			}
			return fmt.Errorf("module %s (needed by %s) is not in %s", name, strings.Join(chain, " <- "), k.Package)
		}
		seen[name] = true
		deps, err := moduleDepends(path)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, append([]string{name}, chain...)); err != nil {
				return err
			}
		}
		order = append(order, path)
		return nil
	}
	for _, n := range names {
		if err := visit(n, []string{"the guest"}); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// builtin reports whether a module is built into the kernel image.
func builtin(k Kernel, name string) bool {
	b, err := os.ReadFile(filepath.Join(k.ModulesDir(), "modules.builtin"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if modName(strings.TrimSuffix(filepath.Base(line), ".ko")) == name {
			return true
		}
	}
	return false
}
