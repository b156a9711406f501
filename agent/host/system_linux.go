package host

import "os"

func systemVolume() string { return "/" }

// physicalNIC reports whether the interface is backed by a device (a NIC),
// not a bridge, veth pair, tunnel or container interface.
func physicalNIC(name string) bool {
	_, err := os.Stat("/sys/class/net/" + name + "/device")
	return err == nil
}
