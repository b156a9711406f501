package history

import "github.com/prometheus/client_golang/prometheus"

// Collectors are the history's metrics, for the controller's registry:
// its size on disk against its byte budget, and the reports the budget
// removed.
func (h *History) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "siaprapat_history_bytes",
			Help: "Pages of the report history's file in use, in bytes, as of its last write (what --history-max-bytes bounds).",
		}, func() float64 { return float64(h.Bytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "siaprapat_history_max_bytes",
			Help: "The report history's byte budget (--history-max-bytes): past it, the oldest reports of every room leave first.",
		}, func() float64 { return float64(h.MaxBytes()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "siaprapat_history_budget_removed_reports_total",
			Help: "Reports removed from the report history to keep it within its byte budget (--history-max-bytes), before their age or count bound.",
		}, func() float64 { return float64(h.BudgetRemoved()) }),
	}
}
