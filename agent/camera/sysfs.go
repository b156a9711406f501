package camera

import (
	"os"
	"path/filepath"
	"strings"
)

// The sysfs layout read here (Linux): /sys/class/video4linux/videoN is a
// link into the device tree; its "device" link is the USB interface the node
// belongs to, whose parent directory is the USB device with idVendor and
// idProduct. Its "index" file numbers the nodes of one device: a UVC camera
// has its capture node at index 0 and a metadata node at index 1.

// videoNodeDir is the sysfs directory of a video node ("video0").
func videoNodeDir(sysfs, node string) string {
	return filepath.Join(sysfs, "class", "video4linux", node)
}

// usbID returns the vendor:product id ("046d:082d") of the USB device a
// video node belongs to, or "" when it is not a USB device or sysfs does not
// say.
func usbID(sysfs, node string) string {
	iface, err := filepath.EvalSymlinks(filepath.Join(videoNodeDir(sysfs, node), "device"))
	if err != nil {
		return ""
	}
	// The interface's parent is the USB device. (Joining "device/.." would
	// be cleaned lexically, not followed through the link.)
	dev := filepath.Dir(iface)
	vendor := readSysfsString(filepath.Join(dev, "idVendor"))
	product := readSysfsString(filepath.Join(dev, "idProduct"))
	if vendor == "" || product == "" {
		return ""
	}
	return strings.ToLower(vendor + ":" + product)
}

// secondaryNode reports whether sysfs numbers a video node as another node
// of a device whose capture node is elsewhere (a UVC metadata node).
// Without the index file it says no.
func secondaryNode(sysfs, node string) bool {
	idx := readSysfsString(filepath.Join(videoNodeDir(sysfs, node), "index"))
	return idx != "" && idx != "0"
}

// gadgetNode reports whether a video node belongs to a USB gadget (the UVC
// function: this machine is the camera of another host), whose device sits
// on the gadget bus. Such a node is an output, not a camera of this PC.
func gadgetNode(sysfs, node string) bool {
	sub, err := filepath.EvalSymlinks(filepath.Join(videoNodeDir(sysfs, node), "device", "subsystem"))
	return err == nil && filepath.Base(sub) == "gadget"
}

// cameraNode reports whether a video node is a camera's capture node: not
// a secondary node (UVC metadata) and not a USB gadget's. Without sysfs it
// says yes.
func cameraNode(sysfs, node string) bool {
	return !secondaryNode(sysfs, node) && !gadgetNode(sysfs, node)
}

func readSysfsString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
