package camera

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeSysfs builds the sysfs links of a UVC webcam (capture node video0,
// metadata node video1) and of a camera that is not on USB (video2).
func fakeSysfs(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write := func(path, content string) {
		t.Helper()
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, path string) {
		t.Helper()
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
	usb := "devices/pci0000:00/0000:00:14.0/usb1/1-2"
	write(usb+"/idVendor", "046d\n")
	write(usb+"/idProduct", "082D\n")
	for i, node := range []string{"video0", "video1"} {
		write(usb+"/1-2:1.0/video4linux/"+node+"/index", []string{"0\n", "1\n"}[i])
		link("../../../1-2:1.0", usb+"/1-2:1.0/video4linux/"+node+"/device")
		link("../../"+usb+"/1-2:1.0/video4linux/"+node, "class/video4linux/"+node)
	}
	platform := "devices/platform/vivid.0"
	write(platform+"/video4linux/video2/index", "0\n")
	link("../../../vivid.0", platform+"/video4linux/video2/device")
	link("../../"+platform+"/video4linux/video2", "class/video4linux/video2")
	// A USB gadget's node (this PC acting as a camera for another host):
	// its device is on the gadget bus.
	gadget := "devices/platform/dummy_udc.0/gadget.0"
	write("bus/gadget/uevent", "")
	link("../../../../bus/gadget", gadget+"/subsystem")
	write(gadget+"/video4linux/video3/index", "0\n")
	link("../../../gadget.0", gadget+"/video4linux/video3/device")
	link("../../"+gadget+"/video4linux/video3", "class/video4linux/video3")
	return root
}

func TestSysfs_USBIDAndCaptureNodes(t *testing.T) {
	root := fakeSysfs(t)
	for _, tc := range []struct {
		node      string
		usb       string
		secondary bool
		camera    bool
	}{
		{"video0", "046d:082d", false, true},
		{"video1", "046d:082d", true, false},
		{"video2", "", false, true},  // a platform device has no USB id
		{"video3", "", false, false}, // a USB gadget's output
		{"video9", "", false, true},  // not in sysfs at all
	} {
		if got := usbID(root, tc.node); got != tc.usb {
			t.Errorf("usbID(%s) = %q, want %q", tc.node, got, tc.usb)
		}
		if got := secondaryNode(root, tc.node); got != tc.secondary {
			t.Errorf("secondaryNode(%s) = %v, want %v", tc.node, got, tc.secondary)
		}
		if got := cameraNode(root, tc.node); got != tc.camera {
			t.Errorf("cameraNode(%s) = %v, want %v", tc.node, got, tc.camera)
		}
	}
}
