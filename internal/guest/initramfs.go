package guest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Initramfs collects the files of a guest's root file system and writes
// them as an uncompressed newc cpio archive, which the kernel unpacks
// into its rootfs (no cpio program is needed).
type Initramfs struct {
	entries map[string]entry // by path in the image, without the leading /
}

type entry struct {
	mode   os.FileMode
	src    string // a host file to copy, or
	data   []byte // the content
	target string // a symlink's target
}

// NewInitramfs returns an empty image.
func NewInitramfs() *Initramfs { return &Initramfs{entries: map[string]entry{}} }

func clean(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

// AddFile copies a host file to dst, keeping its permission bits.
func (r *Initramfs) AddFile(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	r.entries[clean(dst)] = entry{mode: fi.Mode().Perm(), src: src}
	return nil
}

// AddBytes writes data to dst with the given permissions.
func (r *Initramfs) AddBytes(dst string, data []byte, perm os.FileMode) {
	r.entries[clean(dst)] = entry{mode: perm, data: data}
}

// AddSymlink makes dst a symbolic link to target.
func (r *Initramfs) AddSymlink(dst, target string) {
	r.entries[clean(dst)] = entry{mode: os.ModeSymlink | 0o777, target: target}
}

// AddDir makes an empty directory.
func (r *Initramfs) AddDir(dst string) {
	r.entries[clean(dst)] = entry{mode: os.ModeDir | 0o755}
}

// AddTree copies a host directory tree to dst (files and symlinks).
func (r *Initramfs) AddTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := path.Join(dst, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			r.AddDir(to)
		case d.Type()&os.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			r.AddSymlink(to, t)
		default:
			return r.AddFile(p, to)
		}
		return nil
	})
}

// AddProgram copies a host program to dst together with the shared
// libraries ldd says it loads, each at its host path.
func (r *Initramfs) AddProgram(src, dst string) error {
	if err := r.AddFile(src, dst); err != nil {
		return err
	}
	return r.AddLibraries(src)
}

// AddLibraries adds the shared libraries a host program or library links
// (as ldd lists them), at their host paths. A static program has none.
func (r *Initramfs) AddLibraries(bin string) error {
	out, err := exec.Command("ldd", bin).CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("not a dynamic executable")) {
			return nil
		}
		return fmt.Errorf("ldd %s: %w: %s", bin, err, bytes.TrimSpace(out))
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var lib string
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			lib = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			lib = f[0] // the dynamic loader
		default:
			continue // linux-vdso
		}
		real, err := filepath.EvalSymlinks(lib)
		if err != nil {
			return fmt.Errorf("library %s of %s: %w", lib, bin, err)
		}
		if err := r.AddFile(real, lib); err != nil {
			return err
		}
	}
	return nil
}

// WriteTo writes the image as a newc cpio archive. Every parent directory
// is written before what it holds, as the kernel's unpacker needs.
func (r *Initramfs) WriteTo(w io.Writer) (int64, error) {
	all := map[string]entry{}
	for p, e := range r.entries {
		all[p] = e
		for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := all[d]; !ok {
				all[d] = entry{mode: os.ModeDir | 0o755}
			}
		}
	}
	paths := make([]string, 0, len(all))
	for p := range all {
		paths = append(paths, p)
	}
	slices.Sort(paths) // "a" sorts before "a/b"
	cw := &countWriter{w: bufio.NewWriterSize(w, 1<<20)}
	ino := 1
	for _, p := range paths {
		e := all[p]
		var data []byte
		var src io.Reader
		var file *os.File
		size := int64(0)
		mode := uint32(e.mode.Perm())
		switch {
		case e.mode.IsDir():
			mode |= 0o040000
		case e.mode&os.ModeSymlink != 0:
			mode |= 0o120000
			data = []byte(e.target)
			size = int64(len(data))
		default:
			mode |= 0o100000
			if e.src != "" {
				f, err := os.Open(e.src)
				if err != nil {
					return cw.n, err
				}
				fi, err := f.Stat()
				if err != nil {
					f.Close()
					return cw.n, err
				}
				src, size, file = f, fi.Size(), f
			} else {
				data = e.data
				size = int64(len(data))
			}
		}
		if data != nil {
			src = bytes.NewReader(data)
		}
		err := cpioEntry(cw, ino, mode, p, size, src)
		if file != nil {
			file.Close()
		}
		if err != nil {
			return cw.n, fmt.Errorf("%s: %w", p, err)
		}
		ino++
	}
	if err := cpioEntry(cw, ino, 0, "TRAILER!!!", 0, nil); err != nil {
		return cw.n, err
	}
	return cw.n, cw.w.(*bufio.Writer).Flush()
}

// WriteFile writes the image to a file.
func (r *Initramfs) WriteFile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := r.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Close()
}

func cpioEntry(w *countWriter, ino int, mode uint32, name string, size int64, data io.Reader) error {
	nlink := 1
	if mode&0o170000 == 0o040000 {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name)+1, 0)
	if _, err := io.WriteString(w, hdr+name+"\x00"); err != nil {
		return err
	}
	if err := pad4(w); err != nil {
		return err
	}
	if data != nil {
		n, err := io.Copy(w, data)
		if err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("%s: %d bytes, want %d", name, n, size)
		}
	}
	return pad4(w)
}

func pad4(w *countWriter) error {
	if r := w.n % 4; r != 0 {
		_, err := w.Write(make([]byte, 4-r))
		return err
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
