// Package metrics renders the fleet's state as Prometheus metrics at scrape
// time: one Collector over the fleet, so a room that is gone leaves no stale
// series behind.
package metrics

import (
	"strings"

	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/agent/report"
	"github.com/siaprapat/siaprapat/controller/fleet"
)

// Collector exports the fleet.
type Collector struct {
	fleet *fleet.Fleet

	state       *prometheus.Desc
	stateSince  *prometheus.Desc
	lastReport  *prometheus.Desc
	agentInfo   *prometheus.Desc
	ruleProblem *prometheus.Desc
	checkTook   *prometheus.Desc
	device      *prometheus.Desc
	firmwareOK  *prometheus.Desc
	measurement map[string]map[string]*prometheus.Desc // check -> measurement -> desc
	counter     map[*prometheus.Desc]bool
	scale       map[*prometheus.Desc]float64 // from the agent's unit to the metric's
}

// New returns a collector over the fleet.
func New(f *fleet.Fleet) *Collector {
	room := []string{"site", "room"}
	c := &Collector{
		fleet: f,
		state: prometheus.NewDesc("siaprapat_room_state",
			"Readiness of the room, as a state set: 1 for its current state (ready, degraded, not_ready, offline, unknown), 0 for the others.",
			append(room, "state"), nil),
		stateSince: prometheus.NewDesc("siaprapat_room_state_since_timestamp_seconds",
			"Unix time since which the room has been in its current state.", room, nil),
		lastReport: prometheus.NewDesc("siaprapat_room_last_report_timestamp_seconds",
			"Unix time the room's newest report was measured.", room, nil),
		agentInfo: prometheus.NewDesc("siaprapat_room_agent_info",
			"The agent of the room's newest report: its version and the standard it judged by.",
			append(room, "agent_version", "standard"), nil),
		ruleProblem: prometheus.NewDesc("siaprapat_room_rule_problem",
			"One series per rule of the standard that did not pass in the room's newest report, with its verdict (warn, fail, error). Absent for offline and unknown rooms.",
			append(room, "check", "target", "rule", "verdict"), nil),
		checkTook: prometheus.NewDesc("siaprapat_room_check_duration_seconds",
			"How long each check of the room's newest report took.",
			append(room, "check", "target"), nil),
		device: prometheus.NewDesc("siaprapat_peripheral_info",
			"A USB device in the room's newest report: where it is plugged, its id, name, profiled model and kind, and firmware. Absent for offline and unknown rooms.",
			append(room, "path", "id", "name", "model", "kind", "firmware"), nil),
		firmwareOK: prometheus.NewDesc("siaprapat_peripheral_firmware_ok",
			"1 when a profiled device's firmware is neither known bad nor below its profile's minimum, 0 when it is; absent when its profile gives no firmware figures.",
			append(room, "path", "id"), nil),
		measurement: map[string]map[string]*prometheus.Desc{},
		counter:     map[*prometheus.Desc]bool{},
		scale:       map[*prometheus.Desc]float64{},
	}
	for _, m := range report.Measurements {
		if c.measurement[m.Check] == nil {
			c.measurement[m.Check] = map[string]*prometheus.Desc{}
		}
		name, help, scale := m.Name, m.Help, 1.0
		if base, ok := strings.CutSuffix(name, "_bits_per_second"); ok {
			// Prometheus's base unit is the byte: agents measure bits per
			// second, as links are sold; the metric says bytes.
			name, help, scale = base+"_bytes_per_second", help+" In bytes per second (the agent measures bits per second; this is that / 8).", 1.0/8
		}
		d := prometheus.NewDesc("siaprapat_"+m.Check+"_"+name,
			help+" From the room's newest report; absent for offline and unknown rooms.",
			append(room, "target"), nil)
		c.measurement[m.Check][m.Name] = d
		c.counter[d] = m.Counter()
		c.scale[d] = scale
	}
	return c
}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.stateSince, c.lastReport, c.agentInfo, c.ruleProblem, c.checkTook, c.device, c.firmwareOK} {
		ch <- d
	}
	for _, byName := range c.measurement {
		for _, d := range byName {
			ch <- d
		}
	}
}

// Collect renders the fleet as it is now.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	type checkKey struct{ check, target string }
	type ruleKey struct {
		checkKey
		rule string
	}
	for _, v := range c.fleet.Rooms() {
		site, room := v.Site, v.Room.Room
		for _, s := range fleet.States {
			val := 0.0
			if s == v.State {
				val = 1
			}
			emit(ch, c.state, prometheus.GaugeValue, val, site, room, string(s))
		}
		emit(ch, c.stateSince, prometheus.GaugeValue, unix(v.Since), site, room)
		rep := v.Report
		if rep == nil {
			continue
		}
		emit(ch, c.lastReport, prometheus.GaugeValue, unix(rep.MeasuredAt), site, room)
		emit(ch, c.agentInfo, prometheus.GaugeValue, 1, site, room, rep.AgentVersion, rep.Standard)
		if v.State == fleet.Offline || v.State == fleet.Unknown {
			continue
		}
		c.collectDevices(ch, site, room, rep.Peripherals)
		seen := map[checkKey]bool{}
		seenRule := map[ruleKey]bool{}
		for _, cr := range rep.Checks {
			k := checkKey{cr.Check, cr.Target}
			if seen[k] {
				continue // the same target twice would be a duplicate series
			}
			seen[k] = true
			emit(ch, c.checkTook, prometheus.GaugeValue, cr.DurationSeconds, site, room, cr.Check, cr.Target)
			for _, rr := range cr.Rules {
				if seenRule[ruleKey{k, rr.Rule}] {
					continue
				}
				seenRule[ruleKey{k, rr.Rule}] = true
				if rr.Verdict == report.Warn || rr.Verdict == report.Fail || rr.Verdict == report.Error {
					emit(ch, c.ruleProblem, prometheus.GaugeValue, 1, site, room, cr.Check, cr.Target, rr.Rule, string(rr.Verdict))
				}
			}
			byName := c.measurement[cr.Check]
			for name, val := range cr.Measurements {
				d, ok := byName[name]
				if !ok {
					continue // not in the catalogue: kept in the report, not exported
				}
				t := prometheus.GaugeValue
				if c.counter[d] {
					t = prometheus.CounterValue
				}
				emit(ch, d, t, val*c.scale[d], site, room, cr.Target)
			}
		}
	}
}

// collectDevices renders a report's device list.
func (c *Collector) collectDevices(ch chan<- prometheus.Metric, site, room string, devices []report.Peripheral) {
	seen := map[string]bool{}
	for _, d := range devices {
		if seen[d.Path] {
			continue // one series per port
		}
		seen[d.Path] = true
		emit(ch, c.device, prometheus.GaugeValue, 1, site, room, d.Path, d.ID, d.Name, d.Model, d.Kind, d.Firmware)
		switch d.FirmwareStatus {
		case report.FirmwareOK, report.FirmwareBelowRecommended:
			emit(ch, c.firmwareOK, prometheus.GaugeValue, 1, site, room, d.Path, d.ID)
		case report.FirmwareBelowMinimum, report.FirmwareKnownBad:
			emit(ch, c.firmwareOK, prometheus.GaugeValue, 0, site, room, d.Path, d.ID)
		}
	}
}

// emit sends a metric. Label values from reports are valid UTF-8 (JSON
// decoding guarantees it), so an error here cannot come from input; it is
// dropped rather than allowed to panic a scrape.
func emit(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	if m, err := prometheus.NewConstMetric(d, t, v, labels...); err == nil {
		ch <- m
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
