package report

import "strings"

// Check names. One list: the agent registers checks under these names, the
// standard's rules name them, and the controller exports their measurements.
const (
	CheckHost        = "host"
	CheckCamera      = "camera"
	CheckAudio       = "audio"
	CheckNetwork     = "network"
	CheckPeripherals = "peripherals"
)

// Checks lists every check name the contract knows.
var Checks = []string{CheckHost, CheckCamera, CheckAudio, CheckNetwork, CheckPeripherals}

// Measurement describes one named measurement a check may report. Names end
// in their base unit (_seconds, _bytes, _ratio, _bits_per_second, _pixels,
// _dbfs, _hertz, _celsius); plain counts carry no unit; names ending in
// _total are counters on the measured device (they only grow until it restarts).
type Measurement struct {
	Check string
	Name  string
	Help  string
}

// Counter reports whether the measurement is a cumulative counter.
func (m Measurement) Counter() bool { return strings.HasSuffix(m.Name, "_total") }

// Measurements is the catalogue of measurements the controller exports as
// metrics and the standard's rules may name. An agent may report others
// (they are kept in the report), but only these become metrics.
var Measurements = []Measurement{
	{CheckHost, "cpu_used_ratio", "Share of CPU time in use on the room PC, averaged over up to 5 minutes."},
	{CheckHost, "load1_per_cpu_ratio", "One-minute load average of the room PC divided by its logical CPUs."},
	{CheckHost, "logical_cpus", "Logical CPUs of the room PC."},
	{CheckHost, "memory_total_bytes", "Memory of the room PC that the OS can use."},
	{CheckHost, "memory_available_bytes", "Memory of the room PC available to start applications without swapping."},
	{CheckHost, "disk_total_bytes", "Size of the room PC's system volume."},
	{CheckHost, "disk_free_bytes", "Free space on the room PC's system volume, for an unprivileged user."},
	{CheckHost, "disk_free_ratio", "Free share of the room PC's system volume."},
	{CheckHost, "uptime_seconds", "Time since the room PC booted."},
	{CheckHost, "temperature_max_celsius", "Hottest temperature sensor of the room PC, where the OS exposes sensors."},
	{CheckHost, "nic_links_up", "Network interfaces (not loopback) with a link."},
	{CheckHost, "nic_links_down", "Network interfaces (not loopback) enabled but without a link."},
	{CheckHost, "nic_errors_total", "Receive and transmit errors on the room PC's network interfaces since boot."},
	{CheckHost, "nic_drops_total", "Received and transmitted packets dropped by the room PC's network interfaces since boot."},

	{CheckCamera, "first_frame_seconds", "Time from opening the camera to its first frame."},
	{CheckCamera, "fps", "Frames per second the camera delivered during the capture window."},
	{CheckCamera, "width_pixels", "Width of the frames the camera delivered."},
	{CheckCamera, "height_pixels", "Height of the frames the camera delivered."},
	{CheckCamera, "black_ratio", "Share of captured frames that are black (lens cap, privacy shutter, dead sensor)."},
	{CheckCamera, "frozen_ratio", "Share of captured frames identical to the one before (hung pipeline)."},

	{CheckAudio, "sample_rate_hertz", "Sample rate of the microphone capture."},
	{CheckAudio, "sample_bits", "Bits per sample of the microphone capture."},
	{CheckAudio, "rms_dbfs", "RMS level of the microphone capture, in dB relative to full scale."},
	{CheckAudio, "noise_floor_dbfs", "Level of the quietest frames of the microphone capture."},
	{CheckAudio, "clip_ratio", "Share of microphone samples at or near full scale."},
	{CheckAudio, "loopback_level_dbfs", "Level at which the microphone hears the speaker's test signal."},

	{CheckNetwork, "download_bits_per_second", "Download goodput to the probe endpoint."},
	{CheckNetwork, "upload_bits_per_second", "Upload goodput to the probe endpoint."},
	{CheckNetwork, "rtt_seconds", "Median round-trip time of a media-like UDP stream to the probe endpoint."},
	{CheckNetwork, "jitter_seconds", "Interarrival jitter (RFC 3550) of a media-like UDP stream."},
	{CheckNetwork, "loss_ratio", "Share of a media-like UDP stream's packets lost."},
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

// KnownCheck reports whether name is one of Checks.
func KnownCheck(name string) bool {
	for _, c := range Checks {
		if c == name {
			return true
		}
	}
	return false
}
