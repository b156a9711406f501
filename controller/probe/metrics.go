package probe

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the probe's counters, for a Prometheus registry.
func (s *Server) Collector() prometheus.Collector { return collector{s} }

type collector struct{ p *Server }

var probeDescs = struct {
	sessions, refused, active, unauthorized, bytes, uploadsRefused, timedOut, udp, udpBad, udpLimited, udpForeign, replaced *prometheus.Desc
}{
	sessions:       prometheus.NewDesc("siaprapat_probe_sessions_total", "Network tests the probe granted.", nil, nil),
	refused:        prometheus.NewDesc("siaprapat_probe_sessions_refused_total", "Network tests refused because the most allowed at once were running (the agents retry).", nil, nil),
	active:         prometheus.NewDesc("siaprapat_probe_sessions_active", "Network tests running now.", nil, nil),
	unauthorized:   prometheus.NewDesc("siaprapat_probe_unauthorized_total", "Probe requests with a missing or unknown token.", nil, nil),
	bytes:          prometheus.NewDesc("siaprapat_probe_transferred_bytes_total", "Bytes the probe moved in network tests, by direction as the agent sees it (download, upload).", []string{"direction"}, nil),
	uploadsRefused: prometheus.NewDesc("siaprapat_probe_uploads_refused_total", "Uploads cut past a test's byte budget.", nil, nil),
	timedOut:       prometheus.NewDesc("siaprapat_probe_transfers_timed_out_total", "Transfers cut for making no progress (a slow or stalled client).", nil, nil),
	udp:            prometheus.NewDesc("siaprapat_probe_udp_echoed_total", "UDP packets the probe echoed.", nil, nil),
	udpBad:         prometheus.NewDesc("siaprapat_probe_udp_bad_total", "UDP packets dropped: malformed, or of no live test.", nil, nil),
	udpLimited:     prometheus.NewDesc("siaprapat_probe_udp_rate_limited_total", "UDP packets of a live test dropped by its rate limit.", nil, nil),
	udpForeign:     prometheus.NewDesc("siaprapat_probe_udp_foreign_total", "UDP packets of a live test from another address than the agent's that opened it: dropped, never answered.", nil, nil),
	replaced:       prometheus.NewDesc("siaprapat_probe_sessions_replaced_total", "Network tests ended because their room started another (one test at a time per room).", nil, nil),
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	d := probeDescs
	for _, x := range []*prometheus.Desc{d.sessions, d.refused, d.active, d.unauthorized, d.bytes, d.uploadsRefused, d.timedOut, d.udp, d.udpBad, d.udpLimited, d.udpForeign, d.replaced} {
		ch <- x
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s, d := c.p.Stats(), probeDescs
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	counter(d.sessions, s.SessionsStarted)
	counter(d.refused, s.SessionsRefused)
	ch <- prometheus.MustNewConstMetric(d.active, prometheus.GaugeValue, float64(s.SessionsActive))
	counter(d.unauthorized, s.Unauthorized)
	counter(d.bytes, s.BytesOut, "download")
	counter(d.bytes, s.BytesIn, "upload")
	counter(d.uploadsRefused, s.UploadsRefused)
	counter(d.timedOut, s.TransfersTimedOut)
	counter(d.udp, s.UDPEchoed)
	counter(d.udpBad, s.UDPBad)
	counter(d.udpLimited, s.UDPRateLimited)
	counter(d.udpForeign, s.UDPForeign)
	counter(d.replaced, s.SessionsReplaced)
}
