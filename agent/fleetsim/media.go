package fleetsim

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// Media simulates the camera, audio and network checks of a room: the
// measurements those checks report, drawn for the room's profile (a busy
// room's camera drops frames and its upload is slow; a room that is not
// ready has an upload under the standard and loses packets). It also lists
// the room's USB devices, as the peripherals check would.
type Media struct {
	source *Source
	rng    *rand.Rand
	mu     sync.Mutex
}

// NewMedia returns the media of the room whose PC src simulates.
func NewMedia(src *Source, seed uint64) *Media {
	return &Media{source: src, rng: rand.New(rand.NewPCG(seed, seed^0x51a7))}
}

// Name is the check's name in the simulator's list.
func (m *Media) Name() string { return "media" }

// Run returns the results without the device list.
func (m *Media) Run(ctx context.Context, std *standard.Standard) ([]wire.CheckResult, error) {
	res, _, err := m.RunInventory(ctx, std)
	return res, err
}

// RunInventory draws one reading of the room's camera, microphone and link,
// and its devices.
func (m *Media) RunInventory(_ context.Context, std *standard.Standard) ([]wire.CheckResult, []wire.Peripheral, error) {
	m.source.mu.Lock()
	p := m.source.Profile
	m.source.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	u := func(lo, hi float64) float64 { return lo + m.rng.Float64()*(hi-lo) }
	fps, up, loss := u(29, 30), u(8e6, 20e6), u(0, 0.002)
	switch p {
	case ProfileDegraded:
		fps, up = u(21, 24), u(3.6e6, 4.8e6)
	case ProfileNotReady:
		up, loss = u(1.5e6, 2.8e6), u(0.035, 0.06)
	}
	firmware := wire.FirmwareOK
	if p == ProfileNotReady {
		firmware = wire.FirmwareKnownBad
	}
	camera := wire.CheckResult{Check: wire.CheckCamera, Target: "Simulated Webcam (/dev/video0)", Measurements: map[string]float64{
		"first_frame_seconds": u(0.3, 1.0), "fps": fps, "width_pixels": 1280, "height_pixels": 720,
		"black_ratio": 0, "frozen_ratio": u(0, 0.01), "low_detail_ratio": 0,
	}}
	audio := wire.CheckResult{Check: wire.CheckAudio, Target: "Simulated Speakerphone", Measurements: map[string]float64{
		"sample_rate_hertz": 48000, "sample_bits": 16, "rms_dbfs": u(-42, -35), "peak_dbfs": u(-12, -6),
		"noise_floor_dbfs": u(-66, -55), "clip_ratio": 0, "dc_offset_ratio": u(0, 0.001), "digital_silence": 0,
		"loopback_detected": 1, "loopback_level_dbfs": u(-21, -17), "loopback_delay_seconds": u(0.02, 0.06),
	}}
	network := wire.CheckResult{Check: wire.CheckNetwork, Target: "probe", Measurements: map[string]float64{
		"download_bits_per_second": u(20e6, 60e6), "upload_bits_per_second": up,
		"rtt_seconds": u(0.02, 0.06), "rtt_p95_seconds": u(0.06, 0.09), "jitter_seconds": u(0.003, 0.01),
		"loss_ratio": loss, "udp_blocked": 0,
	}}
	devices := []wire.Peripheral{
		{Path: "1-1", ID: "f05e:0001", Name: "Simulated Webcam", Model: "Simulated Webcam", Kind: "webcam",
			BCDDevice: "0100", Firmware: "0100", Interfaces: []string{"audio", "video"}, FirmwareStatus: firmware},
		{Path: "1-2", ID: "f05e:0002", Name: "Simulated Speakerphone", Model: "Simulated Speakerphone", Kind: "speakerphone",
			BCDDevice: "0200", Firmware: "2.0", Interfaces: []string{"audio", "hid"}, FirmwareStatus: wire.FirmwareOK},
	}
	results := []wire.CheckResult{camera, audio, network}
	results = append(results, drawOthers(wire.Checks, wire.Measurements, std, u)...)
	return results, devices, nil
}

// modelled are the checks the simulator draws with a model of its own
// (host.Check with the Source, and Media above).
var modelled = map[string]bool{
	wire.CheckHost: true, wire.CheckCamera: true, wire.CheckAudio: true, wire.CheckNetwork: true, wire.CheckPeripherals: true,
}

// drawOthers gives each check of checks the simulator has no model of a
// result with every catalogue measurement of that check, drawn where the
// standard takes it as ready: a check added to the catalogue has simulated
// data (its dashboard panels show series) without a line here.
func drawOthers(checks []string, catalogue []wire.Measurement, std *standard.Standard, u func(lo, hi float64) float64) []wire.CheckResult {
	var out []wire.CheckResult
	for _, c := range checks {
		if modelled[c] {
			continue
		}
		res := wire.CheckResult{Check: c, Target: "simulated", Measurements: map[string]float64{}}
		for _, m := range catalogue {
			if m.Check == c {
				res.Measurements[m.Name] = passing(std, m, u)
			}
		}
		out = append(out, res)
	}
	return out
}

// passing draws a value of a measurement inside the standard's warn and
// fail limits (its nominal value when the standard gives one); a flag is 0
// or 1, whichever passes.
func passing(std *standard.Standard, m wire.Measurement, u func(lo, hi float64) float64) float64 {
	lo, hi := math.Inf(-1), math.Inf(1)
	if std != nil {
		for _, r := range std.RulesFor(m.Check) {
			if r.Measurement != m.Name {
				continue
			}
			if r.Nominal != nil {
				return *r.Nominal
			}
			for _, l := range []*float64{r.WarnBelow, r.FailBelow} {
				if l != nil {
					lo = max(lo, *l)
				}
			}
			for _, l := range []*float64{r.WarnAbove, r.FailAbove} {
				if l != nil {
					hi = min(hi, *l)
				}
			}
		}
	}
	if m.Flag {
		if lo > 0 {
			return 1
		}
		return 0
	}
	switch {
	case !math.IsInf(lo, 0) && !math.IsInf(hi, 0):
		return u(lo+(hi-lo)/4, hi-(hi-lo)/4)
	case !math.IsInf(lo, 0):
		return u(lo+margin(lo), lo+2*margin(lo))
	case hi == 0:
		return 0
	case !math.IsInf(hi, 0):
		return u(hi-2*margin(hi), hi-margin(hi))
	}
	return u(0, 1)
}

// margin is a quarter of a limit's size, or 1 for a limit of 0.
func margin(l float64) float64 {
	if l == 0 {
		return 1
	}
	return math.Abs(l) / 4
}
