package wire

import "strings"

// Check names. One list: the agent registers checks under these names, the
// standard's rules name them, and the controller exports their measurements.
const (
	CheckHost        = "host"
	CheckCamera      = "camera"
	CheckAudio       = "audio"
	CheckNetwork     = "network"
	CheckPeripherals = "peripherals"
	CheckInventory   = "inventory" // judged by the controller: the room's devices against what it should have
)

// Checks lists every check the agent runs and the standard may judge.
// (CheckInventory is the controller's, judged by its room configuration.)
var Checks = []string{CheckHost, CheckCamera, CheckAudio, CheckNetwork, CheckPeripherals}

// Measurement describes one named measurement a check may report. Names end
// in their base unit (_seconds, _bytes, _ratio, _bits_per_second, _pixels,
// _dbfs, _hertz, _celsius); plain counts carry no unit; names ending in
// _total are counters on the measured device (they only grow until it restarts).
type Measurement struct {
	Check string
	Name  string
	Help  string
	Flag  bool // 1 for yes, 0 for no
}

// Counter reports whether the measurement is a cumulative counter.
func (m Measurement) Counter() bool { return strings.HasSuffix(m.Name, "_total") }

// Measurements is the catalogue of measurements the controller exports as
// metrics and the standard's rules may name. An agent may report others
// (they are kept in the report), but only these become metrics.
var Measurements = []Measurement{
	{CheckHost, "cpu_used_ratio", "Share of CPU time in use on the room PC, averaged over up to 5 minutes.", false},
	{CheckHost, "load1_per_cpu_ratio", "One-minute load average of the room PC divided by its logical CPUs.", false},
	{CheckHost, "logical_cpus", "Logical CPUs of the room PC.", false},
	{CheckHost, "memory_total_bytes", "Memory of the room PC that the OS can use.", false},
	{CheckHost, "memory_available_bytes", "Memory of the room PC available to start applications without swapping.", false},
	{CheckHost, "disk_total_bytes", "Size of the room PC's system volume.", false},
	{CheckHost, "disk_free_bytes", "Free space on the room PC's system volume, for an unprivileged user.", false},
	{CheckHost, "disk_free_ratio", "Free share of the room PC's system volume.", false},
	{CheckHost, "uptime_seconds", "Time since the room PC booted.", false},
	{CheckHost, "temperature_max_celsius", "Hottest temperature sensor of the room PC, where the OS exposes sensors.", false},
	{CheckHost, "nic_links_up", "Network interfaces (not loopback) with a link.", false},
	{CheckHost, "nic_links_down", "Network interfaces (not loopback) enabled but without a link.", false},
	{CheckHost, "nic_errors_total", "Receive and transmit errors on the room PC's network interfaces since boot.", false},
	{CheckHost, "nic_drops_total", "Received and transmitted packets dropped by the room PC's network interfaces since boot.", false},
	{CheckHost, "clock_offset_seconds", "How far the room PC's clock is from the controller's (either way), from the time on the controller's acknowledgements.", false},

	{CheckCamera, "first_frame_seconds", "Time from opening the camera to its first frame.", false},
	{CheckCamera, "fps", "Frames per second the camera delivered during the capture window.", false},
	{CheckCamera, "width_pixels", "Width of the frames the camera delivered.", false},
	{CheckCamera, "height_pixels", "Height of the frames the camera delivered.", false},
	{CheckCamera, "black_ratio", "Share of captured frames that are black (lens cap, privacy shutter, dead sensor).", false},
	{CheckCamera, "frozen_ratio", "Share of captured frames identical to the one before (hung pipeline).", false},
	{CheckCamera, "low_detail_ratio", "Share of captured frames with almost no detail (covered lens, badly out of focus).", false},

	{CheckAudio, "sample_rate_hertz", "Sample rate of the microphone capture.", false},
	{CheckAudio, "sample_bits", "Bits per sample of the microphone capture.", false},
	{CheckAudio, "rms_dbfs", "RMS level of the microphone capture, in dB relative to full scale.", false},
	{CheckAudio, "peak_dbfs", "Highest sample of the microphone capture, in dB relative to full scale.", false},
	{CheckAudio, "noise_floor_dbfs", "Level of the quietest frames of the microphone capture.", false},
	{CheckAudio, "clip_ratio", "Share of microphone samples at or near full scale.", false},
	{CheckAudio, "dc_offset_ratio", "Absolute mean of the microphone samples as a share of full scale (a DC offset).", false},
	{CheckAudio, "digital_silence", "1 when every sample of the microphone capture is zero (a dead or muted input).", true},
	{CheckAudio, "loopback_detected", "1 when the microphone heard the test signal the agent played on the speaker.", true},
	{CheckAudio, "loopback_level_dbfs", "Level at which the microphone hears the speaker's test signal.", false},
	{CheckAudio, "loopback_delay_seconds", "Delay from playing the test signal on the speaker to hearing it on the microphone.", false},

	{CheckNetwork, "download_bits_per_second", "Download goodput to the probe endpoint.", false},
	{CheckNetwork, "upload_bits_per_second", "Upload goodput to the probe endpoint.", false},
	{CheckNetwork, "rtt_seconds", "Median round-trip time of a media-like UDP stream to the probe endpoint.", false},
	{CheckNetwork, "rtt_p95_seconds", "95th percentile round-trip time of a media-like UDP stream to the probe endpoint.", false},
	{CheckNetwork, "udp_blocked", "1 when the media-like UDP stream got no answer and RTT was measured over TCP instead.", true},
	{CheckNetwork, "jitter_seconds", "Interarrival jitter (RFC 3550) of a media-like UDP stream.", false},
	{CheckNetwork, "loss_ratio", "Share of a media-like UDP stream's packets lost.", false},

	{CheckInventory, "devices_expected", "Devices of a kind (and model) the room's configuration says it has.", false},
	{CheckInventory, "devices_present", "Devices of that kind (and model) in the room's newest report.", false},

	{CheckPeripherals, "firmware_known_bad", "1 when the device runs a firmware version its profile lists as known bad.", true},
	{CheckPeripherals, "firmware_below_minimum", "1 when the device's firmware is older than its profile's minimum.", true},
	{CheckPeripherals, "firmware_below_recommended", "1 when the device's firmware is older than its profile's recommended version.", true},
}

// LookupMeasurement finds a catalogued measurement of a check.
func LookupMeasurement(check, name string) (Measurement, bool) {
	for _, m := range Measurements {
		if m.Check == check && m.Name == name {
			return m, true
		}
	}
	return Measurement{}, false
}

// IsFlag reports whether a measurement name is a yes/no flag.
func IsFlag(name string) bool {
	for _, m := range Measurements {
		if m.Name == name {
			return m.Flag
		}
	}
	return false
}

// KnownCheck reports whether name is one of Checks.
func KnownCheck(name string) bool {
	for _, c := range Checks {
		if c == name {
			return true
		}
	}
	return false
}
