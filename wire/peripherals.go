package wire

// Firmware statuses of a peripheral, judged against its hardware profile.
const (
	FirmwareOK               = "ok"
	FirmwareBelowRecommended = "below_recommended"
	FirmwareBelowMinimum     = "below_minimum"
	FirmwareKnownBad         = "known_bad"
	FirmwareUnknown          = "unknown" // no profile, or the profile gives no firmware figures
)

// DeviceKinds are the kinds of device a hardware profile may name.
var DeviceKinds = []string{"webcam", "conference_camera", "ptz_camera", "video_bar", "speakerphone", "microphone", "speaker", "headset", "hub", "display_adapter"}

// VideoKinds have a camera; AudioKinds have a microphone or speaker. An
// unprofiled device with a video (audio) interface may stand in for them.
var (
	VideoKinds = []string{"webcam", "conference_camera", "ptz_camera", "video_bar"}
	AudioKinds = []string{"speakerphone", "microphone", "speaker", "headset", "video_bar", "conference_camera"}
)

// MaxPeripherals bounds the devices one report may list.
const MaxPeripherals = 64

// Peripheral is one USB device in the room, as the agent found it.
type Peripheral struct {
	Path           string   `json:"path"`                   // where it is plugged (sysfs name, e.g. "1-2.1")
	ID             string   `json:"id"`                     // vendor:product, lower-case hex
	Name           string   `json:"name,omitempty"`         // the profile's model, else usb.ids, else the device's own product string
	Model          string   `json:"model,omitempty"`        // the hardware profile's model, when one matches
	Kind           string   `json:"kind,omitempty"`         // the profile's kind (webcam, speakerphone, video_bar...)
	Manufacturer   string   `json:"manufacturer,omitempty"` // the device's own strings
	Product        string   `json:"product,omitempty"`
	Serial         string   `json:"serial,omitempty"`
	BCDDevice      string   `json:"bcd_device,omitempty"` // the USB release number, 4 hex digits
	Firmware       string   `json:"firmware,omitempty"`   // bcd_device as the vendor writes the version
	SpeedMbps      float64  `json:"speed_mbps,omitempty"`
	Interfaces     []string `json:"interfaces,omitempty"` // video, audio, hid, ...
	FirmwareStatus string   `json:"firmware_status"`      // ok, below_recommended, below_minimum, known_bad, unknown
	FirmwareReason string   `json:"firmware_reason,omitempty"`
}

// ValidUSBID reports whether s is a vendor:product id in lower-case hex.
func ValidUSBID(s string) bool { return validUSBID(s) }

// validate checks the i-th peripheral of a report. The field's path is only
// built for an error: Decode validates every device of every report.
func (p *Peripheral) validate(i int) error {
	at := func() string { return indexed("peripherals", i) }
	if !validUSBID(p.ID) {
		return invalid(at()+".id", "%q is not a vendor:product id in lower-case hex", truncate(p.ID))
	}
	if p.Path == "" || len(p.Path) > 64 {
		return invalid(at()+".path", "%q: want 1 to 64 bytes", truncate(p.Path))
	}
	for _, f := range [...]struct{ field, v string }{{"name", p.Name}, {"model", p.Model}, {"kind", p.Kind}, {"manufacturer", p.Manufacturer},
		{"product", p.Product}, {"serial", p.Serial}, {"bcd_device", p.BCDDevice}, {"firmware", p.Firmware}, {"firmware_reason", p.FirmwareReason}} {
		if len(f.v) > 256 {
			return invalid(at()+"."+f.field, "longer than 256 bytes")
		}
	}
	switch p.FirmwareStatus {
	case FirmwareOK, FirmwareBelowRecommended, FirmwareBelowMinimum, FirmwareKnownBad, FirmwareUnknown:
	default:
		return invalid(at()+".firmware_status", "%q is not one of ok, below_recommended, below_minimum, known_bad, unknown", truncate(p.FirmwareStatus))
	}
	if len(p.Interfaces) > 32 {
		return invalid(at()+".interfaces", "%d interfaces; at most 32", len(p.Interfaces))
	}
	return nil
}

func validatePeripherals(ps []Peripheral) error {
	if len(ps) > MaxPeripherals {
		return invalid("peripherals", "%d devices; at most %d", len(ps), MaxPeripherals)
	}
	for i := range ps {
		if err := ps[i].validate(i); err != nil {
			return err
		}
	}
	return nil
}
