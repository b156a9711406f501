package metrics

import "github.com/prometheus/client_golang/prometheus"

// The second renderer, for the tests only: the fleet's families as a
// prometheus.Collector, through client_golang's const metrics, a registry's
// gather and expfmt. TestWriteText_SameSeriesAsCollect checks that WriteText
// (the scrape path) gives the same exposition; testutil and promtool check
// this one.

func (f *family) valueType() prometheus.ValueType {
	if f.counter {
		return prometheus.CounterValue
	}
	return prometheus.GaugeValue
}

func (f *family) desc() *prometheus.Desc { return prometheus.NewDesc(f.name, f.help, f.labels, nil) }

// Describe sends every descriptor.
func (c *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range c.families {
		ch <- f.desc()
	}
}

// Collect renders the fleet as it is now, room by room (a registry sorts
// the series; one pass over the rooms fetches each report once).
func (c *Exporter) Collect(ch chan<- prometheus.Metric) {
	rooms := c.fleet.Rooms()
	labels := make([][]string, len(c.families))
	emits := make([]func(float64, []string), len(c.families))
	for i, f := range c.families {
		labels[i] = make([]string, len(f.labels))
		desc, t := f.desc(), f.valueType()
		emits[i] = func(v float64, labels []string) {
			// Label values from reports are valid UTF-8 (JSON decoding
			// guarantees it); WriteText drops the others the same way.
			if m, err := prometheus.NewConstMetric(desc, t, v, labels...); err == nil {
				ch <- m
			}
		}
	}
	for r := range rooms {
		for i, f := range c.families {
			f.each(&rooms[r], labels[i], emits[i])
		}
	}
}
