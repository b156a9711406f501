package metrics

import "slices"

// Family describes a family the fleet's writer writes: docs/metrics.md
// lists them (see internal/metricsdoc).
type Family struct {
	Name   string
	Type   string // counter or gauge
	Help   string
	Labels []string // in the exposition's order
}

// Families lists every family WriteText writes, by name; a room gives each
// its series, so with no rooms none is written.
func (c *Exporter) Families() []Family {
	out := make([]Family, 0, len(c.families))
	for _, f := range c.families {
		typ := "gauge"
		if f.counter {
			typ = "counter"
		}
		labels := make([]string, len(f.order))
		for i, j := range f.order {
			labels[i] = f.labels[j]
		}
		out = append(out, Family{Name: f.name, Type: typ, Help: f.help, Labels: slices.Clip(labels)})
	}
	return out
}
