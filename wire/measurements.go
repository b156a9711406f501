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

// CheckWords name each check for people, in English and in Bahasa
// Indonesia.
var CheckWords = map[string]Words{
	CheckCamera:      {"Camera", "Kamera"},
	CheckAudio:       {"Microphone and speaker", "Mikrofon dan speaker"},
	CheckNetwork:     {"Internet", "Internet"},
	CheckHost:        {"Room PC", "PC ruang"},
	CheckPeripherals: {"USB devices", "Perangkat USB"},
	CheckInventory:   {"Devices", "Perangkat"},
}

// Measurement describes one named measurement a check may report. Names end
// in their base unit (_seconds, _bytes, _ratio, _bits_per_second, _pixels,
// _dbfs, _hertz, _celsius); plain counts carry no unit; names ending in
// _total are counters on the measured device (they only grow until it restarts).
type Measurement struct {
	Check string
	Name  string
	Help  string
	Flag  bool // 1 for yes, 0 for no
	// Words name the measurement for people, in the causes of alerts, the
	// API, the board and the CLI (for a flag: what it means when it is the
	// wrong way); empty, it is shown by its name.
	Words Words
}

// Words are one phrase in English and in Bahasa Indonesia.
type Words struct{ EN, ID string }

// Counter reports whether the measurement is a cumulative counter.
func (m Measurement) Counter() bool { return strings.HasSuffix(m.Name, "_total") }

// Measurements is the catalogue of measurements the controller exports as
// metrics and the standard's rules may name. An agent may report others
// (they are kept in the report), but only these become metrics.
var Measurements = []Measurement{
	{CheckHost, "cpu_used_ratio", "Share of CPU time in use on the room PC, averaged over up to 5 minutes.", false, Words{"Room PC CPU use", "Pemakaian CPU PC ruang"}},
	{CheckHost, "load1_per_cpu_ratio", "One-minute load average of the room PC divided by its logical CPUs.", false, Words{"Room PC load", "Beban PC ruang"}},
	{CheckHost, "logical_cpus", "Logical CPUs of the room PC.", false, Words{"Room PC processors", "Prosesor PC ruang"}},
	{CheckHost, "memory_total_bytes", "Memory of the room PC that the OS can use.", false, Words{"Room PC memory", "Memori PC ruang"}},
	{CheckHost, "memory_available_bytes", "Memory of the room PC available to start applications without swapping.", false, Words{"Room PC free memory", "Memori bebas PC ruang"}},
	{CheckHost, "disk_total_bytes", "Size of the room PC's system volume.", false, Words{"Room PC disk", "Disk PC ruang"}},
	{CheckHost, "disk_free_bytes", "Free space on the room PC's system volume, for an unprivileged user.", false, Words{"Room PC free disk", "Disk kosong PC ruang"}},
	{CheckHost, "disk_free_ratio", "Free share of the room PC's system volume.", false, Words{"Room PC free disk share", "Porsi disk kosong PC ruang"}},
	{CheckHost, "uptime_seconds", "Time since the room PC booted.", false, Words{"Room PC uptime", "Lama PC ruang menyala"}},
	{CheckHost, "temperature_max_celsius", "Hottest temperature sensor of the room PC, where the OS exposes sensors.", false, Words{"Room PC temperature", "Suhu PC ruang"}},
	{CheckHost, "nic_links_up", "Network interfaces (not loopback) with a link.", false, Words{"Network links up", "Tautan jaringan aktif"}},
	{CheckHost, "nic_links_down", "Network interfaces (not loopback) enabled but without a link.", false, Words{"Network links down", "Tautan jaringan putus"}},
	{CheckHost, "nic_errors_total", "Receive and transmit errors on the room PC's network interfaces since boot.", false, Words{"Network errors", "Galat jaringan"}},
	{CheckHost, "nic_drops_total", "Received and transmitted packets dropped by the room PC's network interfaces since boot.", false, Words{"Network drops", "Paket jaringan dibuang"}},
	{CheckHost, "clock_offset_seconds", "How far the room PC's clock is from the controller's (either way), from the time on the controller's acknowledgements.", false, Words{"Room PC clock off by", "Jam PC ruang meleset"}},
	{CheckHost, "spool_repairs", "Damaged report spools the agent moved aside when it started (run --repair), since it started; absent when none. The reports in them were not sent.", false, Words{"Damaged spools moved aside", "Spool rusak yang dipindahkan"}},

	{CheckCamera, "first_frame_seconds", "Time from opening the camera to its first frame.", false, Words{"Camera start-up", "Waktu nyala kamera"}},
	{CheckCamera, "fps", "Frames per second the camera delivered during the capture window.", false, Words{"Camera frame rate", "Laju bingkai kamera"}},
	{CheckCamera, "width_pixels", "Width of the frames the camera delivered.", false, Words{"Camera picture width", "Lebar gambar kamera"}},
	{CheckCamera, "height_pixels", "Height of the frames the camera delivered.", false, Words{"Camera picture height", "Tinggi gambar kamera"}},
	{CheckCamera, "black_ratio", "Share of captured frames that are black (lens cap, privacy shutter, dead sensor).", false, Words{"Black camera frames", "Bingkai kamera hitam"}},
	{CheckCamera, "frozen_ratio", "Share of captured frames identical to the one before (hung pipeline).", false, Words{"Frozen camera frames", "Bingkai kamera beku"}},
	{CheckCamera, "low_detail_ratio", "Share of captured frames with almost no detail (covered lens, badly out of focus).", false, Words{"Camera frames without detail", "Bingkai kamera tanpa detail"}},

	{CheckAudio, "sample_rate_hertz", "Sample rate of the microphone capture.", false, Words{"Microphone sample rate", "Laju sampel mikrofon"}},
	{CheckAudio, "sample_bits", "Bits per sample of the microphone capture.", false, Words{"Microphone bit depth", "Kedalaman bit mikrofon"}},
	{CheckAudio, "rms_dbfs", "RMS level of the microphone capture, in dB relative to full scale.", false, Words{"Microphone level", "Level mikrofon"}},
	{CheckAudio, "peak_dbfs", "Highest sample of the microphone capture, in dB relative to full scale.", false, Words{"Microphone peak", "Puncak mikrofon"}},
	{CheckAudio, "noise_floor_dbfs", "Level of the quietest frames of the microphone capture.", false, Words{"Microphone noise floor", "Derau dasar mikrofon"}},
	{CheckAudio, "clip_ratio", "Share of microphone samples at or near full scale.", false, Words{"Microphone clipping", "Mikrofon terpotong (clipping)"}},
	{CheckAudio, "dc_offset_ratio", "Absolute mean of the microphone samples as a share of full scale (a DC offset).", false, Words{"Microphone DC offset", "Offset DC mikrofon"}},
	{CheckAudio, "digital_silence", "1 when every sample of the microphone capture is zero (a dead or muted input).", true, Words{"Microphone: every sample is silent (dead or muted input)", "Mikrofon: semua sampel senyap (input mati atau dibisukan)"}},
	{CheckAudio, "loopback_detected", "1 when the microphone heard the test signal the agent played on the speaker.", true, Words{"Speaker to microphone: the test tone was not heard", "Speaker ke mikrofon: nada uji tidak terdengar"}},
	{CheckAudio, "loopback_level_dbfs", "Level at which the microphone hears the speaker's test signal.", false, Words{"Speaker-to-microphone level", "Level speaker ke mikrofon"}},
	{CheckAudio, "loopback_delay_seconds", "Delay from playing the test signal on the speaker to hearing it on the microphone.", false, Words{"Speaker-to-microphone delay", "Tunda speaker ke mikrofon"}},

	{CheckNetwork, "download_bits_per_second", "Download goodput to the probe endpoint.", false, Words{"Download", "Unduh"}},
	{CheckNetwork, "upload_bits_per_second", "Upload goodput to the probe endpoint.", false, Words{"Upload", "Unggah"}},
	{CheckNetwork, "rtt_seconds", "Median round-trip time of a media-like UDP stream to the probe endpoint.", false, Words{"Round-trip time", "Waktu pulang-pergi (RTT)"}},
	{CheckNetwork, "rtt_p95_seconds", "95th percentile round-trip time of a media-like UDP stream to the probe endpoint.", false, Words{"Round-trip time (95th percentile)", "Waktu pulang-pergi (persentil ke-95)"}},
	{CheckNetwork, "udp_blocked", "1 when the media-like UDP stream got no answer and RTT was measured over TCP instead.", true, Words{"Internet: UDP is blocked, meetings fall back to TCP", "Internet: UDP diblokir, rapat beralih ke TCP"}},
	{CheckNetwork, "jitter_seconds", "Interarrival jitter (RFC 3550) of a media-like UDP stream.", false, Words{"Jitter", "Jitter"}},
	{CheckNetwork, "loss_ratio", "Share of a media-like UDP stream's packets lost.", false, Words{"Packet loss", "Paket hilang"}},

	{CheckInventory, "devices_expected", "Devices of a kind (and model) the room's configuration says it has.", false, Words{}},
	{CheckInventory, "devices_present", "Devices of that kind (and model) in the room's newest report.", false, Words{}},

	{CheckPeripherals, "firmware_known_bad", "1 when the device runs a firmware version its profile lists as known bad.", true, Words{"USB device firmware is known bad", "Firmware perangkat USB diketahui bermasalah"}},
	{CheckPeripherals, "firmware_below_minimum", "1 when the device's firmware is older than its profile's minimum.", true, Words{"USB device firmware is below the minimum", "Firmware perangkat USB di bawah versi minimum"}},
	{CheckPeripherals, "firmware_below_recommended", "1 when the device's firmware is older than its profile's recommended version.", true, Words{"USB device firmware is below the recommended version", "Firmware perangkat USB di bawah versi yang disarankan"}},
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
