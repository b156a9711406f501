package peripherals

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	firmwareprofiles "github.com/siaprapat/siaprapat/firmware-profiles"
	"github.com/siaprapat/siaprapat/internal/yamlstrict"
	"github.com/siaprapat/siaprapat/wire"
)

// ProfileSchema is the schema identifier device profiles must declare.
const ProfileSchema = "siaprapat.device/v1"

// Profile is one hardware model: how to recognise it, what it can do, and
// which firmware is good.
type Profile struct {
	Schema       string        `yaml:"schema"`
	Model        string        `yaml:"model"`
	Vendor       string        `yaml:"vendor"`
	Kind         string        `yaml:"kind"`
	USB          []USBID       `yaml:"usb"`
	Capabilities *Capabilities `yaml:"capabilities"`
	Firmware     *Firmware     `yaml:"firmware"`
	Sources      []string      `yaml:"sources"`
	Notes        string        `yaml:"notes"`

	file string
}

// USBID is one vendor:product id of a model, with its usb.ids name.
type USBID struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
}

// Capabilities that matter for the standard.
type Capabilities struct {
	MaxWidthPixels  int     `yaml:"max_width_pixels"`
	MaxHeightPixels int     `yaml:"max_height_pixels"`
	MaxFPS          float64 `yaml:"max_fps"`
	Microphone      *bool   `yaml:"microphone"`
	Speaker         *bool   `yaml:"speaker"`
}

// Firmware says how bcdDevice maps to the vendor's version and which
// versions are good.
type Firmware struct {
	BCDDevice   string     `yaml:"bcd_device"` // bcd, major_minor or raw
	Minimum     string     `yaml:"minimum"`
	Recommended string     `yaml:"recommended"`
	KnownBad    []KnownBad `yaml:"known_bad"`
}

// KnownBad is a firmware version with a known problem.
type KnownBad struct {
	Version string `yaml:"version"`
	Reason  string `yaml:"reason"`
	Source  string `yaml:"source"`
}

// File is where the profile was loaded from.
func (p *Profile) File() string { return p.file }

// Profiles is a set of profiles indexed by USB id.
type Profiles struct {
	list []*Profile
	byID map[string]*Profile
}

// Lookup finds the profile of a vendor:product id.
func (ps *Profiles) Lookup(id string) (*Profile, bool) {
	if ps == nil {
		return nil, false
	}
	p, ok := ps.byID[id]
	return p, ok
}

// All returns the profiles sorted by file.
func (ps *Profiles) All() []*Profile { return ps.list }

// DefaultProfiles returns the profiles embedded in the binary.
func DefaultProfiles() (*Profiles, error) {
	sub, err := fs.Sub(firmwareprofiles.FS(), "devices")
	if err != nil {
		return nil, err
	}
	return LoadProfiles(sub, "devices")
}

// LoadProfilesDir reads every *.yaml of a directory; "" means the embedded ones.
func LoadProfilesDir(dir string) (*Profiles, error) {
	if dir == "" {
		return DefaultProfiles()
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("device profiles: %w", err)
	}
	return LoadProfiles(os.DirFS(dir), dir)
}

// LoadProfiles reads every *.yaml file of fsys; label prefixes file names in
// messages. A bad file, or an id claimed by two files, is an error naming them.
func LoadProfiles(fsys fs.FS, label string) (*Profiles, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	ps := &Profiles{byID: map[string]*Profile{}}
	var errs []error
	for _, name := range names {
		file := path.Join(label, name)
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
			continue
		}
		p := &Profile{file: file}
		if err := yamlstrict.Decode(file, data, p, map[string]string{
			"peripherals.Profile": "the profile", "peripherals.USBID": "a usb id", "peripherals.Capabilities": "capabilities",
			"peripherals.Firmware": "firmware", "peripherals.KnownBad": "a known_bad entry",
		}); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, u := range p.USB {
			if other, dup := ps.byID[u.ID]; dup {
				errs = append(errs, fmt.Errorf("%s: field usb: id %s is already in %s", file, u.ID, other.file))
				continue
			}
			ps.byID[u.ID] = p
		}
		ps.list = append(ps.list, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ps, nil
}

// Validate checks a profile's fields; messages name the file and the field.
func (p *Profile) Validate() error {
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s: field %s: %s", p.file, field, fmt.Sprintf(format, args...)))
	}
	if p.Schema != ProfileSchema {
		bad("schema", "%q is not supported; want %s", p.Schema, ProfileSchema)
	}
	if p.Model == "" {
		bad("model", "missing")
	}
	if p.Vendor == "" {
		bad("vendor", "missing")
	}
	if !slices.Contains(wire.DeviceKinds, p.Kind) {
		bad("kind", "%q is not a kind; want one of %s", p.Kind, strings.Join(wire.DeviceKinds, ", "))
	}
	if len(p.USB) == 0 {
		bad("usb", "no ids")
	}
	for i, u := range p.USB {
		if !wire.ValidUSBID(u.ID) {
			bad(fmt.Sprintf("usb[%d].id", i), "%q is not vendor:product in lower-case hex (e.g. 046d:082d)", u.ID)
		}
		if u.Name == "" {
			bad(fmt.Sprintf("usb[%d].name", i), "missing; give the usb.ids name")
		}
	}
	if c := p.Capabilities; c != nil {
		if c.MaxWidthPixels < 0 || c.MaxWidthPixels > 16384 {
			bad("capabilities.max_width_pixels", "%d is out of range; want 0 to 16384", c.MaxWidthPixels)
		}
		if c.MaxHeightPixels < 0 || c.MaxHeightPixels > 16384 {
			bad("capabilities.max_height_pixels", "%d is out of range; want 0 to 16384", c.MaxHeightPixels)
		}
		if c.MaxFPS < 0 || c.MaxFPS > 480 {
			bad("capabilities.max_fps", "%v is out of range; want 0 to 480", c.MaxFPS)
		}
	}
	if f := p.Firmware; f != nil {
		switch f.BCDDevice {
		case "bcd", "major_minor", "raw":
		default:
			bad("firmware.bcd_device", "%q: want bcd, major_minor or raw", f.BCDDevice)
		}
		for field, v := range map[string]string{"firmware.minimum": f.Minimum, "firmware.recommended": f.Recommended} {
			if v != "" {
				if _, err := parseVersion(v, f.BCDDevice); err != nil {
					bad(field, "%v", err)
				}
			}
		}
		if f.Minimum != "" && f.Recommended != "" {
			if c, err := compareVersions(f.Recommended, f.Minimum, f.BCDDevice); err == nil && c < 0 {
				bad("firmware.recommended", "%s is older than the minimum %s", f.Recommended, f.Minimum)
			}
		}
		for i, kb := range f.KnownBad {
			at := fmt.Sprintf("firmware.known_bad[%d]", i)
			if _, err := parseVersion(kb.Version, f.BCDDevice); err != nil {
				bad(at+".version", "%v", err)
			}
			if kb.Reason == "" {
				bad(at+".reason", "missing: say what goes wrong")
			}
			if kb.Source == "" {
				bad(at+".source", "missing: say where it is reported")
			}
		}
	}
	if len(p.Sources) == 0 {
		bad("sources", "none: every profile says where its figures come from")
	}
	for i, s := range p.Sources {
		if !strings.HasPrefix(s, "[source]") && !strings.HasPrefix(s, "[judgement]") {
			bad(fmt.Sprintf("sources[%d]", i), "must start with [source] or [judgement]")
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// FirmwareVersion renders a bcdDevice value (4 hex digits) the way the
// vendor writes its versions: bcd 0x0123 -> "1.23" and 0x0108 -> "1.8" (as
// fwupd writes it), major_minor 0x0123 -> "1.35", raw -> "0123".
func FirmwareVersion(bcdDevice, mapping string) (string, error) {
	if !isHex(bcdDevice, 4) {
		return "", fmt.Errorf("bcdDevice %q is not 4 hex digits", bcdDevice)
	}
	switch mapping {
	case "bcd":
		for _, r := range bcdDevice {
			if r > '9' {
				return "", fmt.Errorf("bcdDevice %s is not binary-coded decimal", bcdDevice)
			}
		}
		major, _ := strconv.Atoi(bcdDevice[:2])
		minor, _ := strconv.Atoi(bcdDevice[2:])
		return fmt.Sprintf("%d.%d", major, minor), nil
	case "major_minor":
		v, _ := strconv.ParseUint(bcdDevice, 16, 16)
		return fmt.Sprintf("%d.%d", v>>8, v&0xff), nil
	}
	return bcdDevice, nil
}

// parseVersion splits a version into numbers: dotted decimal, or for raw
// mappings 4 hex digits.
func parseVersion(v, mapping string) ([]uint64, error) {
	if mapping == "raw" {
		n, err := strconv.ParseUint(v, 16, 16)
		if err != nil || len(v) != 4 {
			return nil, fmt.Errorf("version %q: want 4 hex digits, as bcdDevice reads (bcd_device: raw)", v)
		}
		return []uint64{n}, nil
	}
	parts := strings.Split(v, ".")
	out := make([]uint64, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("version %q: want numbers separated by dots", v)
		}
		out[i] = n
	}
	return out, nil
}

// compareVersions returns -1, 0 or 1 as a is older than, equal to or newer than b.
func compareVersions(a, b, mapping string) (int, error) {
	va, err := parseVersion(a, mapping)
	if err != nil {
		return 0, err
	}
	vb, err := parseVersion(b, mapping)
	if err != nil {
		return 0, err
	}
	for i := range max(len(va), len(vb)) {
		var x, y uint64
		if i < len(va) {
			x = va[i]
		}
		if i < len(vb) {
			y = vb[i]
		}
		if x != y {
			if x < y {
				return -1, nil
			}
			return 1, nil
		}
	}
	return 0, nil
}
