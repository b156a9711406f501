package peripherals

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// usbIDsFixture is a small usb.ids in the database's own format.
const usbIDsFixture = `# test usb.ids
046d  Logitech, Inc.
	082d  HD Pro Webcam C920
	c31c  Keyboard K120
0b0e  GN Netcom
	0422  Jabra SPEAK 510 USB
		00  interface line, ignored
0c76  JMTek, LLC.
1d6b  Linux Foundation
	0002  2.0 root hub
2574  AVer Information, Inc.
	0960  VB342

C 00  (Defined at Interface level)
	01  Audio
`

func testIDs(t *testing.T) *USBIDs {
	u, err := parseUSBIDs(strings.NewReader(usbIDsFixture), keepAll())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// golden is what a fixture room yields: the devices and their judged checks.
type golden struct {
	Verdict     wire.RoomVerdict   `json:"verdict"`
	Peripherals []wire.Peripheral  `json:"peripherals"`
	Checks      []wire.CheckResult `json:"checks"`
}

func TestCheck_FixtureRooms(t *testing.T) {
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	testProfiles, err := LoadProfilesDir("testdata/profiles")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		room     string
		profiles *Profiles
	}{
		{"video-bar-room", shipped},
		{"webcam-speakerphone-room", shipped},
		{"unknown-device-room", shipped},
		{"camera-unplugged-room", shipped},
		{"known-bad-firmware-room", testProfiles},
	} {
		t.Run(tc.room, func(t *testing.T) {
			c := &Check{Sysfs: filepath.Join("testdata", tc.room, "sys"), Profiles: tc.profiles, USBIDs: testIDs(t)}
			r := &runner.Runner{Site: "s", Room: "r", Standard: std, Checks: []runner.Check{c}}
			rep := r.Run(context.Background())
			for i := range rep.Checks {
				rep.Checks[i].DurationSeconds = 0
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			if err := enc.Encode(golden{rep.Verdict, rep.Peripherals, rep.Checks}); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			file := filepath.Join("testdata", tc.room, "golden.json")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs (go test -update rewrites it); got:\n%s", file, got)
			}
			if _, err := rep.Encode(); err != nil {
				t.Errorf("the report does not encode: %v", err)
			}
		})
	}
}

func TestCheck_NoSysfsIsAnError(t *testing.T) {
	c := &Check{Sysfs: t.TempDir(), Profiles: &Profiles{}}
	_, _, err := c.RunInventory(context.Background(), nil)
	if !errors.Is(err, ErrNoUSB) || !strings.Contains(err.Error(), "is "+c.Sysfs+" a sysfs tree?") {
		t.Errorf("err = %v", err)
	}
}

func TestDefaultProfiles_LoadAndCoverSeveralVendors(t *testing.T) {
	ps, err := DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	vendors := map[string]bool{}
	for _, p := range ps.All() {
		vendors[p.Vendor] = true
	}
	if len(ps.All()) < 20 || len(vendors) < 5 {
		t.Errorf("%d profiles from %d vendors; want at least 20 from 5", len(ps.All()), len(vendors))
	}
}

// TestDefaultProfiles_IDsAreInUSBIDs checks every shipped id and name
// against the machine's usb.ids, where it has one.
func TestDefaultProfiles_IDsAreInUSBIDs(t *testing.T) {
	ids, err := FindUSBIDs()
	if err != nil {
		t.Fatal(err)
	}
	if ids == nil {
		msg := "no usb.ids on this machine (Debian package usb.ids; .ci/run installs it)"
		if testenv.InCI() {
			t.Fatal(msg + ": this test must run in CI")
		}
		t.Skip(msg)
	}
	ps, _ := DefaultProfiles()
	for _, p := range ps.All() {
		for _, u := range p.USB {
			if got := ids.Product(u.ID); got != u.Name {
				t.Errorf("%s: %s is %q in usb.ids, the profile says %q", p.File(), u.ID, got, u.Name)
			}
		}
	}
}

func TestLoadProfiles_InvalidFilesNameFileAndField(t *testing.T) {
	for dir, want := range map[string]string{
		"unknown-field": `testdata/invalid-profiles/unknown-field/cam.yaml:10: unknown field "minimun" in firmware`,
		"duplicate-id":  "testdata/invalid-profiles/duplicate-id/b.yaml: field usb: id 046d:082d is already in testdata/invalid-profiles/duplicate-id/a.yaml",
		"bad-values": `testdata/invalid-profiles/bad-values/cam.yaml: field schema: "siaprapat.device/v2" is not supported; want siaprapat.device/v1
testdata/invalid-profiles/bad-values/cam.yaml: field model: missing
testdata/invalid-profiles/bad-values/cam.yaml: field kind: "camera" is not a kind; want one of webcam, conference_camera, ptz_camera, video_bar, speakerphone, microphone, speaker, headset, hub, display_adapter
testdata/invalid-profiles/bad-values/cam.yaml: field usb[0].id: "046D:82D" is not vendor:product in lower-case hex (e.g. 046d:082d)
testdata/invalid-profiles/bad-values/cam.yaml: field usb[0].name: missing; give the usb.ids name
testdata/invalid-profiles/bad-values/cam.yaml: field capabilities.max_fps: 1000 is out of range; want 0 to 480
testdata/invalid-profiles/bad-values/cam.yaml: field firmware.bcd_device: "decimal": want bcd, major_minor or raw
testdata/invalid-profiles/bad-values/cam.yaml: field firmware.known_bad[0].version: version "1.x": want numbers separated by dots
testdata/invalid-profiles/bad-values/cam.yaml: field firmware.known_bad[0].reason: missing: say what goes wrong
testdata/invalid-profiles/bad-values/cam.yaml: field firmware.known_bad[0].source: missing: say where it is reported
testdata/invalid-profiles/bad-values/cam.yaml: field sources[0]: must start with [source] or [judgement]`,
	} {
		t.Run(dir, func(t *testing.T) {
			_, err := LoadProfilesDir(filepath.Join("testdata/invalid-profiles", dir))
			if err == nil || err.Error() != want {
				t.Errorf("error\n got: %v\nwant: %s", err, want)
			}
		})
	}
}

func TestFirmwareVersion(t *testing.T) {
	for _, tc := range []struct{ bcd, mapping, want string }{
		{"0214", "bcd", "2.14"}, {"0108", "bcd", "1.8"}, {"0123", "major_minor", "1.35"}, {"0011", "raw", "0011"},
	} {
		if got, err := FirmwareVersion(tc.bcd, tc.mapping); err != nil || got != tc.want {
			t.Errorf("FirmwareVersion(%s, %s) = %q, %v; want %s", tc.bcd, tc.mapping, got, err, tc.want)
		}
	}
	if _, err := FirmwareVersion("01a0", "bcd"); err == nil {
		t.Error("01a0 accepted as BCD")
	}
	if c, _ := compareVersions("1.8", "1.10", "bcd"); c != -1 {
		t.Error("1.8 should be older than 1.10")
	}
}

func TestUSBIDs_Names(t *testing.T) {
	u := testIDs(t)
	for id, want := range map[string]string{
		"046d:082d": "Logitech, Inc. HD Pro Webcam C920",
		"0c76:161f": "JMTek, LLC.", // vendor known, product not
		"3142:a001": "",
	} {
		if got := u.Name(id); got != want {
			t.Errorf("Name(%s) = %q, want %q", id, got, want)
		}
	}
}

// TestCheck_LongStringsAndCrowdedBusStillEncode: whatever a device says about
// itself, and however many there are, the room still reports.
func TestCheck_LongStringsAndCrowdedBusStillEncode(t *testing.T) {
	root := t.TempDir()
	for i := range wire.MaxPeripherals + 5 {
		d := filepath.Join(root, "bus", "usb", "devices", fmt.Sprintf("1-%d", i+1))
		os.MkdirAll(filepath.Join(d, fmt.Sprintf("1-%d:1.0", i+1)), 0o755)
		os.WriteFile(filepath.Join(d, "idVendor"), []byte("1d6c\n"), 0o644)
		os.WriteFile(filepath.Join(d, "idProduct"), []byte(fmt.Sprintf("%04x\n", i)), 0o644)
		os.WriteFile(filepath.Join(d, "product"), []byte(strings.Repeat("Kamera é ", 100)), 0o644)
		os.WriteFile(filepath.Join(d, fmt.Sprintf("1-%d:1.0", i+1), "bInterfaceClass"), []byte("0e\n"), 0o644)
	}
	std, _ := standard.Default()
	c := &Check{Sysfs: root, Profiles: &Profiles{}, USBIDs: testIDs(t)}
	r := &runner.Runner{Site: "s", Room: "r", Standard: std, Checks: []runner.Check{c}}
	rep := r.Run(context.Background())
	if _, err := rep.Encode(); err != nil {
		t.Fatalf("report does not encode: %v", err)
	}
	if len(rep.Peripherals) != wire.MaxPeripherals || !strings.Contains(rep.Checks[0].Reason, "69 USB devices; the report lists the first 64") {
		t.Errorf("%d devices, reason %q", len(rep.Peripherals), rep.Checks[0].Reason)
	}
}

// The agent reads usb.ids at each check for the devices it has, keeping
// their names only.
func TestParseUSBIDs_KeepsOnlyTheIdsAskedFor(t *testing.T) {
	u, err := parseUSBIDs(strings.NewReader(usbIDsFixture), keepOnly([]string{"046D:082D", "0c76:1234"}))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		"046d:082d": "Logitech, Inc. HD Pro Webcam C920",
		"046d:c31c": "Logitech, Inc.", // its vendor was asked for, not it
		"0c76:1234": "JMTek, LLC.",
		"0b0e:0422": "",
	} {
		if got := u.Name(id); got != want {
			t.Errorf("Name(%s) = %q, want %q", id, got, want)
		}
	}
	if len(u.vendors) != 2 || len(u.products) != 1 {
		t.Errorf("kept %d vendors and %d products, want 2 and 1", len(u.vendors), len(u.products))
	}
}

// No ids is no names, whether the list is nil or empty: every name is asked
// for by FindUSBIDs, never by a list that happens to be nil. (Here usb.ids
// is a directory, so reading it fails: a read would show.)
func TestFindUSBIDsFor_NoIdsReadsNothingNilOrEmpty(t *testing.T) {
	paths := USBIDPaths
	t.Cleanup(func() { USBIDPaths = paths })
	USBIDPaths = []string{t.TempDir()}
	if _, err := FindUSBIDs(); err == nil {
		t.Fatal("FindUSBIDs read a directory as usb.ids; the test would prove nothing")
	}
	for _, ids := range [][]string{nil, {}} {
		if u, err := FindUSBIDsFor(ids); u != nil || err != nil {
			t.Errorf("FindUSBIDsFor(%#v) = %v, %v: want nothing read", ids, u, err)
		}
	}
	for _, ids := range [][]string{nil, {}} {
		u, err := parseUSBIDs(strings.NewReader(usbIDsFixture), keepOnly(ids))
		if err != nil || len(u.vendors) != 0 || len(u.products) != 0 {
			t.Errorf("keepOnly(%#v) kept %d vendors and %d products (%v), want none", ids, len(u.vendors), len(u.products), err)
		}
	}
}

// A room whose devices all have profiles needs no names from usb.ids, so
// the check does not read it (here it cannot: the path is a directory).
func TestCheck_AllProfiledReadsNoUSBIDs(t *testing.T) {
	paths := USBIDPaths
	t.Cleanup(func() { USBIDPaths = paths })
	USBIDPaths = []string{t.TempDir()}
	if _, err := FindUSBIDs(); err == nil {
		t.Fatal("reading a directory as usb.ids succeeded; the test would prove nothing")
	}
	shipped, err := DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	d := filepath.Join(root, "bus", "usb", "devices", "1-1")
	os.MkdirAll(filepath.Join(d, "1-1:1.0"), 0o755)
	os.WriteFile(filepath.Join(d, "idVendor"), []byte("046d\n"), 0o644)
	os.WriteFile(filepath.Join(d, "idProduct"), []byte("082d\n"), 0o644) // C920, profiled
	os.WriteFile(filepath.Join(d, "bcdDevice"), []byte("0011\n"), 0o644)
	os.WriteFile(filepath.Join(d, "1-1:1.0", "bInterfaceClass"), []byte("0e\n"), 0o644)
	c := &Check{Sysfs: root, Profiles: shipped}
	_, devices, err := c.RunInventory(context.Background(), nil)
	if err != nil {
		t.Fatalf("RunInventory: %v", err)
	}
	if len(devices) != 1 || devices[0].Name == "" {
		t.Errorf("devices %+v, want the C920 named from its profile", devices)
	}
}
