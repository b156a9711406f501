// Package peripherals inventories the room's USB devices from sysfs, names
// them from the hardware profiles (or usb.ids), and judges their firmware
// against the profiles' minimum, recommended and known-bad versions.
package peripherals

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNoUSB says the sysfs tree has no USB bus at all.
var ErrNoUSB = errors.New("no USB bus")

// USBDevice is one USB device as sysfs describes it.
type USBDevice struct {
	Path         string   // sysfs name: bus-port[.port...], e.g. "1-2.1"
	VendorID     string   // 4 hex digits, lower case
	ProductID    string   // 4 hex digits, lower case
	BCDDevice    string   // 4 hex digits: the device's release number, which vendors use for firmware
	Manufacturer string   // string descriptors, where the device has them
	Product      string   //
	Serial       string   //
	SpeedMbps    float64  // negotiated speed (1.5, 12, 480, 5000...)
	Class        string   // bDeviceClass, 2 hex digits
	Interfaces   []string // interface classes present, by name: video, audio, hid, hub, ...
}

// ID is "vendor:product".
func (d USBDevice) ID() string { return d.VendorID + ":" + d.ProductID }

// interfaceClasses names the USB interface classes that matter in a room.
var interfaceClasses = map[string]string{
	"01": "audio", "02": "communications", "03": "hid", "07": "printer", "08": "storage",
	"09": "hub", "0a": "cdc-data", "0e": "video", "10": "audio-video", "e0": "wireless", "fe": "application", "ff": "vendor",
}

// ReadUSB lists the USB devices under sysRoot (normally "/sys"), sorted by
// sysfs path. Root hubs are left out. A device whose attributes cannot be
// read is an error naming the file.
func ReadUSB(sysRoot string) ([]USBDevice, error) {
	dir := filepath.Join(sysRoot, "bus", "usb", "devices")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s (is %s a sysfs tree?)", ErrNoUSB, dir, sysRoot)
	}
	if err != nil {
		return nil, fmt.Errorf("read USB devices: %w", err)
	}
	var out []USBDevice
	for _, e := range entries {
		name := e.Name()
		// Devices are "1-2", "1-2.3"; interfaces "1-2:1.0"; root hubs "usb1".
		if strings.Contains(name, ":") || strings.HasPrefix(name, "usb") {
			continue
		}
		d, err := readDevice(dir, name)
		if err != nil {
			return nil, err
		}
		if d.VendorID == "" {
			continue // not a device directory
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b USBDevice) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func readDevice(dir, name string) (USBDevice, error) {
	path := filepath.Join(dir, name)
	d := USBDevice{Path: name}
	attrs := []struct {
		file string
		into *string
	}{
		{"idVendor", &d.VendorID}, {"idProduct", &d.ProductID}, {"bcdDevice", &d.BCDDevice},
		{"manufacturer", &d.Manufacturer}, {"product", &d.Product}, {"serial", &d.Serial},
		{"bDeviceClass", &d.Class},
	}
	for _, a := range attrs {
		b, err := os.ReadFile(filepath.Join(path, a.file))
		switch {
		case errors.Is(err, fs.ErrNotExist) && a.file == "idVendor":
			return USBDevice{}, nil // not a device
		case errors.Is(err, fs.ErrNotExist):
			continue // string descriptors are optional
		case err != nil:
			return USBDevice{}, fmt.Errorf("read %s: %w", filepath.Join(path, a.file), err)
		}
		*a.into = strings.TrimSpace(string(b))
	}
	for _, f := range []struct {
		name string
		v    *string
		n    int
	}{{"idVendor", &d.VendorID, 4}, {"idProduct", &d.ProductID, 4}, {"bcdDevice", &d.BCDDevice, 4}} {
		*f.v = strings.ToLower(*f.v)
		if *f.v != "" && !isHex(*f.v, f.n) {
			return USBDevice{}, fmt.Errorf("%s: %s is %q, want %d hex digits", filepath.Join(path, f.name), f.name, *f.v, f.n)
		}
	}
	if b, err := os.ReadFile(filepath.Join(path, "speed")); err == nil {
		d.SpeedMbps, _ = strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	}
	ifaces, err := filepath.Glob(filepath.Join(path, name+":*"))
	if err != nil {
		return USBDevice{}, err
	}
	// Interfaces may also be listed beside the device in the devices directory.
	beside, _ := filepath.Glob(filepath.Join(dir, name+":*"))
	seen := map[string]bool{}
	for _, ip := range append(ifaces, beside...) {
		b, err := os.ReadFile(filepath.Join(ip, "bInterfaceClass"))
		if err != nil {
			continue
		}
		c := strings.ToLower(strings.TrimSpace(string(b)))
		n, ok := interfaceClasses[c]
		if !ok {
			n = "class-" + c
		}
		if !seen[n] {
			seen[n] = true
			d.Interfaces = append(d.Interfaces, n)
		}
	}
	slices.Sort(d.Interfaces)
	return d, nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := strconv.ParseUint(s, 16, 64)
	return err == nil
}
