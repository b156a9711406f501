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

// FindUSBIDs loads every name of the first usb.ids of USBIDPaths that
// exists; nil (and no error) when the machine has none, as names are then
// only less friendly.
func FindUSBIDs() (*USBIDs, error) { return findUSBIDs(keepAll()) }

// FindUSBIDsFor is FindUSBIDs keeping only the names of the given
// vendor:product ids; no ids (nil or empty alike) reads nothing and gives
// nil. The agent reads the database this way at each check, for the
// devices it has, rather than holding all of it (2 MiB of heap) between
// checks. Every name is FindUSBIDs, never an empty list.
func FindUSBIDsFor(ids []string) (*USBIDs, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return findUSBIDs(keepOnly(ids))
}

func findUSBIDs(k keep) (*USBIDs, error) {
	for _, p := range USBIDPaths {
		u, err := loadUSBIDs(p, k)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return u, err
	}
	return nil, nil
}

// LoadUSBIDs parses a usb.ids file, every name in it.
func LoadUSBIDs(path string) (*USBIDs, error) { return loadUSBIDs(path, keepAll()) }

// keep says which names of usb.ids to keep: all of them, or those of the
// vendors and products asked for. It is said, not implied by a nil list.
type keep struct {
	all               bool
	vendors, products map[string]bool
}

func keepAll() keep { return keep{all: true} }

// keepOnly keeps the names of the given vendor:product ids, and of their
// vendors; none when ids is empty.
func keepOnly(ids []string) keep {
	k := keep{vendors: map[string]bool{}, products: map[string]bool{}}
	for _, id := range ids {
		id = strings.ToLower(id)
		v, _, _ := strings.Cut(id, ":")
		k.vendors[v], k.products[id] = true, true
	}
	return k
}

func (k keep) vendor(v string) bool   { return k.all || k.vendors[v] }
func (k keep) product(id string) bool { return k.all || k.products[id] }

func loadUSBIDs(path string, k keep) (*USBIDs, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	u, err := parseUSBIDs(f, k)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}

// parseUSBIDs reads vendor lines ("046d  Logitech, Inc.") and their product
// lines ("\t082d  HD Pro Webcam C920"), up to the class lists that follow;
// those k keeps.
func parseUSBIDs(r io.Reader, k keep) (*USBIDs, error) {
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
			if k.vendor(vendor) {
				u.vendors[vendor] = strings.TrimSpace(name)
			}
			continue
		}
		if vendor == "" || strings.HasPrefix(line, "\t\t") || !k.vendor(vendor) {
			continue // interface lines, or a vendor not asked for
		}
		id, name, ok := strings.Cut(line[1:], "  ")
		if key := vendor + ":" + strings.ToLower(id); ok && isHex(id, 4) && k.product(key) {
			u.products[key] = strings.TrimSpace(name)
		}
	}
	return u, sc.Err()
}
