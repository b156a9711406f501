package guest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// readNewc parses a newc cpio archive into its entries, in order.
func readNewc(t *testing.T, b []byte) (names []string, modes map[string]uint32, data map[string]string) {
	t.Helper()
	modes, data = map[string]uint32{}, map[string]string{}
	off := 0
	field := func(i int) int {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("header at %d: %v", off, err)
		}
		return int(v)
	}
	for {
		if string(b[off:off+6]) != "070701" {
			t.Fatalf("no newc magic at %d", off)
		}
		mode, size, namesize := field(1), field(6), field(11)
		name := string(b[off+110 : off+110+namesize-1])
		off = (off + 110 + namesize + 3) &^ 3
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Errorf("%d bytes after the trailer", len(b)-off)
			}
			return names, modes, data
		}
		names = append(names, name)
		modes[name] = uint32(mode)
		data[name] = string(b[off : off+size])
		off = (off + size + 3) &^ 3
	}
}

func TestInitramfs_WritesParentsFirstWithContentsAndModes(t *testing.T) {
	src := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(src, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	img := NewInitramfs()
	if err := img.AddFile(src, "/usr/bin/prog"); err != nil {
		t.Fatal(err)
	}
	img.AddBytes("/etc/guest-modules", []byte("x"), 0o644)
	img.AddSymlink("/bin/sh", "busybox")
	img.AddDir("/proc")
	var buf bytes.Buffer
	if _, err := img.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	names, modes, data := readNewc(t, buf.Bytes())
	want := []string{"bin", "bin/sh", "etc", "etc/guest-modules", "proc", "usr", "usr/bin", "usr/bin/prog"}
	if len(names) != len(want) {
		t.Fatalf("entries %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("entries %q, want %q", names, want)
		}
	}
	for name, w := range map[string]struct {
		mode uint32
		data string
	}{
		"usr/bin/prog":      {0o100755, "#!/bin/sh\necho hi\n"},
		"etc/guest-modules": {0o100644, "x"},
		"bin/sh":            {0o120777, "busybox"},
		"usr":               {0o040755, ""},
	} {
		if modes[name] != w.mode || data[name] != w.data {
			t.Errorf("%s: mode %o data %q, want %o %q", name, modes[name], data[name], w.mode, w.data)
		}
	}
}

func TestModuleList_NamesEachModuleInTheImageWithItsParameters(t *testing.T) {
	got := string(ModuleList([]Module{{File: "/cache/k/lib/modules/6.1/kernel/vivid.ko", Params: "n_devs=1"}, {File: "/x/mc.ko"}}))
	want := "/lib/guest-modules/vivid.ko n_devs=1\n/lib/guest-modules/mc.ko \n"
	if got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
