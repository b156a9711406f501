package peripherals

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// DefaultSysfs is where the real sysfs is mounted.
const DefaultSysfs = "/sys"

// Check is the peripherals check: the room's USB devices, each profiled
// one judged on its firmware, each unprofiled camera or audio device named.
type Check struct {
	Sysfs    string    // sysfs root; DefaultSysfs on a room PC, a captured tree in tests
	Profiles *Profiles // hardware profiles; the embedded ones when nil
	// USBIDs names unprofiled devices; when nil, the machine's usb.ids is
	// read at each check for the devices present (and names come from the
	// devices' own strings without it).
	USBIDs *USBIDs

	once    sync.Once
	loadErr error
}

// load fills in the embedded profiles and the machine's usb.ids when unset.
func (c *Check) load() error {
	c.once.Do(func() {
		if c.Profiles == nil {
			if c.Profiles, c.loadErr = DefaultProfiles(); c.loadErr != nil {
				return
			}
		}
	})
	return c.loadErr
}

// Name is the check's name in reports and in the standard.
func (c *Check) Name() string { return wire.CheckPeripherals }

// Run returns the check results without the device list.
func (c *Check) Run(ctx context.Context, std *standard.Standard) ([]wire.CheckResult, error) {
	res, _, err := c.RunInventory(ctx, std)
	return res, err
}

// RunInventory reads the USB devices once and returns a check result for
// every device that matters in a meeting (profiled, or with a camera or audio
// interface) and the full device list for the report.
func (c *Check) RunInventory(ctx context.Context, _ *standard.Standard) ([]wire.CheckResult, []wire.Peripheral, error) {
	if err := c.load(); err != nil {
		return nil, nil, err
	}
	root := c.Sysfs
	if root == "" {
		root = DefaultSysfs
	}
	usb, err := ReadUSB(root)
	if errors.Is(err, ErrNoUSB) && root == DefaultSysfs {
		// A machine without a USB bus (a VM, a test rig) has no peripherals
		// to judge: not applicable, which is not a failure.
		return []wire.CheckResult{{
			Check: wire.CheckPeripherals, Target: "usb", Verdict: wire.Skipped,
			Reason: "this machine has no USB bus",
		}}, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	note := ""
	if len(usb) > wire.MaxPeripherals {
		// A report lists at most MaxPeripherals devices; the rest are named
		// by count, so that one crowded hub cannot stop the room reporting.
		note = fmt.Sprintf("%d USB devices; the report lists the first %d", len(usb), wire.MaxPeripherals)
		usb = usb[:wire.MaxPeripherals]
	}
	names := c.USBIDs
	if names == nil {
		var ids []string
		for _, d := range usb {
			if _, ok := c.Profiles.Lookup(d.ID()); !ok {
				ids = append(ids, d.ID())
			}
		}
		if names, err = FindUSBIDsFor(ids); err != nil {
			return nil, nil, err
		}
	}
	devices := make([]wire.Peripheral, 0, len(usb))
	var results []wire.CheckResult
	for _, d := range usb {
		p, prof := c.describe(d, names)
		devices = append(devices, p)
		if prof == nil && !slices.Contains(d.Interfaces, "video") && !slices.Contains(d.Interfaces, "audio") {
			continue // keyboards, mice, hubs, storage: listed, not judged
		}
		res := wire.CheckResult{
			Check:        wire.CheckPeripherals,
			Target:       clip(fmt.Sprintf("%s (%s) at %s", clip(p.Name, 80), p.ID, p.Path), 128),
			Measurements: map[string]float64{},
		}
		if prof == nil {
			res.Reason = "no hardware profile for " + p.ID + ": firmware not judged"
		} else {
			res.Reason = p.FirmwareReason
		}
		if prof != nil && prof.Firmware != nil && p.Firmware != "" {
			f := prof.Firmware
			if len(f.KnownBad) > 0 {
				res.Measurements["firmware_known_bad"] = boolf(p.FirmwareStatus == wire.FirmwareKnownBad)
			}
			if f.Minimum != "" {
				res.Measurements["firmware_below_minimum"] = boolf(older(p.Firmware, f.Minimum, f.BCDDevice))
			}
			if f.Recommended != "" {
				res.Measurements["firmware_below_recommended"] = boolf(older(p.Firmware, f.Recommended, f.BCDDevice))
			}
		}
		results = append(results, res)
	}
	if note != "" && len(results) > 0 {
		results[0].Reason = joinNonEmpty(results[0].Reason, "("+note+")")
	}
	return results, devices, nil
}

// describe turns a USB device into a report entry, naming it from its
// profile (or usb.ids) and judging its firmware.
func (c *Check) describe(d USBDevice, names *USBIDs) (wire.Peripheral, *Profile) {
	// Device strings come from the device; they are clipped to what a
	// report may carry.
	d.Manufacturer, d.Product, d.Serial = clip(d.Manufacturer, 256), clip(d.Product, 256), clip(d.Serial, 256)
	p := wire.Peripheral{
		Path: d.Path, ID: d.ID(), Manufacturer: d.Manufacturer, Product: d.Product, Serial: d.Serial,
		BCDDevice: d.BCDDevice, SpeedMbps: d.SpeedMbps, Interfaces: d.Interfaces,
		FirmwareStatus: wire.FirmwareUnknown,
	}
	prof, ok := c.Profiles.Lookup(p.ID)
	if !ok {
		p.Name = names.Name(p.ID)
		if p.Name == "" {
			p.Name = joinNonEmpty(d.Manufacturer, d.Product)
		}
		if p.Name == "" {
			p.Name = "unknown device"
		}
		p.FirmwareReason = "no hardware profile"
		return p, nil
	}
	p.Name, p.Model, p.Kind = prof.Model, prof.Model, prof.Kind
	f := prof.Firmware
	if f == nil {
		p.FirmwareReason = "the profile gives no firmware figures"
		return p, prof
	}
	v, err := FirmwareVersion(d.BCDDevice, f.BCDDevice)
	if err != nil {
		p.FirmwareReason = err.Error()
		return p, prof
	}
	p.Firmware = v
	p.FirmwareStatus, p.FirmwareReason = judgeFirmware(v, f)
	p.FirmwareReason = clip(p.FirmwareReason, 256)
	return p, prof
}

// clip cuts s to at most n bytes without splitting a UTF-8 character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// judgeFirmware says whether a version is known bad, below the minimum or
// the recommended version, or fine, and why.
func judgeFirmware(v string, f *Firmware) (status, reason string) {
	for _, kb := range f.KnownBad {
		if c, err := compareVersions(v, kb.Version, f.BCDDevice); err == nil && c == 0 {
			return wire.FirmwareKnownBad, fmt.Sprintf("firmware %s is known bad: %s (%s)", v, kb.Reason, kb.Source)
		}
	}
	if f.Minimum != "" && older(v, f.Minimum, f.BCDDevice) {
		return wire.FirmwareBelowMinimum, fmt.Sprintf("firmware %s is older than the minimum %s", v, f.Minimum)
	}
	if f.Recommended != "" && older(v, f.Recommended, f.BCDDevice) {
		return wire.FirmwareBelowRecommended, fmt.Sprintf("firmware %s is older than the recommended %s", v, f.Recommended)
	}
	if f.Minimum == "" && f.Recommended == "" && len(f.KnownBad) == 0 {
		return wire.FirmwareUnknown, "the profile gives no minimum, recommended or known-bad firmware"
	}
	return wire.FirmwareOK, ""
}

func older(v, than, mapping string) bool {
	c, err := compareVersions(v, than, mapping)
	return err == nil && c < 0
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}
