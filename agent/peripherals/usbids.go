package peripherals

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// USBIDPaths are where Debian (hwdata, usbutils) and other distributions
// keep the usb.ids database.
var USBIDPaths = []string{"/usr/share/hwdata/usb.ids", "/usr/share/misc/usb.ids", "/var/lib/usbutils/usb.ids", "/usr/share/usb.ids"}

// USBIDs names vendors and products from the usb.ids database.
type USBIDs struct {
	vendors  map[string]string // "046d" -> "Logitech, Inc."
	products map[string]string // "046d:082d" -> "HD Pro Webcam C920"
}

// Name returns "Vendor Product" for an id, or "" when the database lacks it.
func (u *USBIDs) Name(id string) string {
	if u == nil {
		return ""
	}
	v, _, _ := strings.Cut(id, ":")
	vendor, product := u.vendors[v], u.products[id]
	switch {
	case vendor != "" && product != "":
		return vendor + " " + product
	case product != "":
		return product
	}
	return vendor
}

// Product returns the database's product name for an id, or "".
func (u *USBIDs) Product(id string) string {
	if u == nil {
		return ""
	}
	return u.products[id]
}

// FindUSBIDs loads the first usb.ids of USBIDPaths that exists; nil (and no
// error) when the machine has none, as names are then only less friendly.
func FindUSBIDs() (*USBIDs, error) {
	for _, p := range USBIDPaths {
		u, err := LoadUSBIDs(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return u, err
	}
	return nil, nil
}

// LoadUSBIDs parses a usb.ids file.
func LoadUSBIDs(path string) (*USBIDs, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	u, err := parseUSBIDs(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}

// parseUSBIDs reads vendor lines ("046d  Logitech, Inc.") and their product
// lines ("\t082d  HD Pro Webcam C920"), up to the class lists that follow.
func parseUSBIDs(r io.Reader) (*USBIDs, error) {
	u := &USBIDs{vendors: map[string]string{}, products: map[string]string{}}
	sc := bufio.NewScanner(r)
	vendor := ""
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] != '\t' {
			id, name, ok := strings.Cut(line, "  ")
			if !ok || !isHex(id, 4) {
				if vendor != "" {
					break // the class and other lists begin
				}
				continue
			}
			vendor = strings.ToLower(id)
			u.vendors[vendor] = strings.TrimSpace(name)
			continue
		}
		if vendor == "" || strings.HasPrefix(line, "\t\t") {
			continue // interface lines
		}
		id, name, ok := strings.Cut(line[1:], "  ")
		if ok && isHex(id, 4) {
			u.products[vendor+":"+strings.ToLower(id)] = strings.TrimSpace(name)
		}
	}
	return u, sc.Err()
}
