// Package ingest takes the agents' MQTT messages, decodes and validates
// them, and hands them to the fleet. Bad input is logged with its reason and
// counted; it never stops ingest.
package ingest

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/inventory"
	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/controller/rooms"
	"github.com/siaprapat/siaprapat/controller/shard"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// Rejection reasons beyond report.Reasons.
const (
	ReasonTopic         = "topic"          // not a siaprapat/v1/SITE/ROOM/KIND topic with valid names
	ReasonTopicMismatch = "topic_mismatch" // the report names another site or room than its topic
	ReasonRoomLimit     = "room_limit"     // a new room past the fleet's limit
)

// ReasonOtherShard counts, among ignored messages, those of a site another
// controller owns (--shard with a pattern subscribes to every site).
const ReasonOtherShard = "other_shard"

// Ingest handles messages from the broker.
type Ingest struct {
	results  func(site, room string, res *wire.Result)
	fleet    *fleet.Fleet
	history  Recorder           // every report, once per id; may be nil
	rooms    *rooms.Config      // what each room should have; may be nil
	standard *standard.Standard // the checks a report should have; may be nil
	shard    *shard.Set         // the sites taken; nil: all
	log      *slog.Logger
	now      func() time.Time

	received       prometheus.Counter
	rejected       *prometheus.CounterVec
	ignored        *prometheus.CounterVec
	statuses       prometheus.Counter
	statusRejected prometheus.Counter
	historyErrors  prometheus.Counter

	// logEvery limits warnings about bad input to one per reason per interval,
	// so a flood of garbage cannot flood the log; the metrics count them all.
	logMu    sync.Mutex
	lastLog  map[string]time.Time
	logEvery time.Duration
}

// Recorder keeps every report taken, once per report id (the report
// history). AddEncoded reports false for an id it already has; encoded is
// the report's JSON as received, or nil when the report is not exactly
// what was received.
type Recorder interface {
	AddEncoded(rep *wire.Report, encoded []byte) (bool, error)
}

// Options configure an Ingest.
type Options struct {
	Fleet *fleet.Fleet // required
	// History, when set, takes every valid report first; a report whose id
	// it already has is a duplicate and changes nothing.
	History Recorder
	// Rooms, when set, says what each room should have: reports of those
	// rooms get the controller's inventory results added before they are
	// stored.
	Rooms *rooms.Config
	// Standard, when set, says which checks a report should have: each it
	// lacks is added as not checked (readiness.NotChecked), with the
	// standard's verdict for that.
	Standard *standard.Standard
	// Shard, when set, is the sites taken; the others' messages (which
	// arrive when the shard has a pattern and so subscribes to every site)
	// are counted as ignored and dropped.
	Shard *shard.Set
	// Results, when set, hears every valid answer to a command (after its
	// report, if any, has been applied to the fleet).
	Results func(site, room string, res *wire.Result)
	Now     func() time.Time // the clock; time.Now when nil
	Log     *slog.Logger
}

// New returns an Ingest feeding the fleet, registering its counters on reg.
func New(opts Options, reg prometheus.Registerer) (*Ingest, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	in := &Ingest{
		results:  opts.Results,
		fleet:    opts.Fleet,
		history:  opts.History,
		rooms:    opts.Rooms,
		standard: opts.Standard,
		shard:    opts.Shard,
		log:      opts.Log,
		now:      opts.Now,
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "siaprapat_reports_received_total",
			Help: "Report and command result messages received from the broker, valid or not.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siaprapat_reports_rejected_total",
			Help: "Report and command result messages rejected, by reason (oversized, malformed, schema, invalid, topic, topic_mismatch, room_limit).",
		}, []string{"reason"}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siaprapat_reports_ignored_total",
			Help: "Messages that did not change a room's state: a report with a duplicate id or older than the room's newest report, or any message of a site another shard owns (other_shard).",
		}, []string{"reason"}),
		statuses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "siaprapat_status_messages_received_total",
			Help: "Agent status messages (online, offline) received from the broker.",
		}),
		statusRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "siaprapat_status_messages_rejected_total",
			Help: "Agent status messages rejected: a bad topic, a payload other than online or offline, or a new room past the room limit.",
		}),
		historyErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "siaprapat_history_record_errors_total",
			Help: "Valid reports that could not be recorded in the report history (the room's state still took them).",
		}),
		lastLog:  map[string]time.Time{},
		logEvery: 10 * time.Second,
	}
	for _, r := range append(append([]string{}, wire.Reasons...), ReasonTopic, ReasonTopicMismatch, ReasonRoomLimit) {
		in.rejected.WithLabelValues(r)
	}
	in.ignored.WithLabelValues("duplicate")
	in.ignored.WithLabelValues("older")
	in.ignored.WithLabelValues(ReasonOtherShard)
	for _, c := range []prometheus.Collector{in.received, in.rejected, in.ignored, in.statuses, in.statusRejected, in.historyErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// Filters are the topic filters Ingest subscribes to for a shard's sites
// (nil: every site).
func Filters(s *shard.Set) []string {
	return s.Filters(wire.KindStatus, wire.KindReport, wire.KindResult)
}

// Handle processes one message. It is safe for concurrent use. A report's
// payload is kept (the history and the fleet store write it as it came):
// the caller must not change it afterwards.
func (in *Ingest) Handle(topic string, payload []byte) {
	site, room, kind, ok := wire.ParseTopic(topic)
	if ok && !in.shard.Owns(site) {
		in.ignored.WithLabelValues(ReasonOtherShard).Inc()
		return
	}
	switch {
	case ok && kind == wire.KindReport:
		in.handleReport(site, room, topic, payload)
	case ok && kind == wire.KindStatus:
		in.handleStatus(site, room, topic, payload)
	case ok && kind == wire.KindResult:
		in.handleResult(site, room, topic, payload)
	case strings.HasSuffix(topic, "/"+wire.KindStatus):
		// A wildcard match on a topic with a bad site or room name.
		in.statuses.Inc()
		in.statusRejected.Inc()
		in.warn("status", "rejected a status message", "topic", topic, "err", "not a siaprapat/v1/SITE/ROOM/status topic with valid names")
	default:
		in.received.Inc()
		in.reject(ReasonTopic, topic, errors.New("not a siaprapat/v1/SITE/ROOM/{report,result} topic with valid names"))
	}
}

func (in *Ingest) handleReport(site, room, topic string, payload []byte) {
	in.received.Inc()
	rep, err := wire.Decode(payload)
	if err != nil {
		in.rejectDecode(topic, err)
		return
	}
	in.applyReport(site, room, topic, rep, payload)
}

// handleResult takes an agent's answer to a command: its report counts like
// any other, and the command hears of it.
func (in *Ingest) handleResult(site, room, topic string, payload []byte) {
	in.received.Inc()
	res, err := wire.DecodeResult(payload)
	if err != nil {
		in.rejectDecode(topic, err)
		return
	}
	if res.Report != nil && !in.applyReport(site, room, topic, res.Report, res.ReportJSON) {
		return
	}
	if in.results != nil {
		in.results(site, room, res)
	}
}

func (in *Ingest) rejectDecode(topic string, err error) {
	reason := wire.ReasonMalformed
	var de *wire.DecodeError
	if errors.As(err, &de) {
		reason = de.Reason
	}
	in.reject(reason, topic, err)
}

// applyReport checks a decoded report against its topic, adds the room's
// inventory results and hands it to the fleet. encoded is the report's
// JSON as received, or nil. It reports false when the report was rejected.
func (in *Ingest) applyReport(site, room, topic string, rep *wire.Report, encoded []byte) bool {
	if rep.Site != site || rep.Room != room {
		in.reject(ReasonTopicMismatch, topic, errors.New("report is for "+rep.Site+"/"+rep.Room))
		return false
	}
	added := inventory.Judge(in.rooms.For(site, room), rep)
	added = append(added, readiness.NotChecked(in.standard, rep)...)
	rep.Checks = append(rep.Checks, added...)
	// The room's verdict follows from its checks' problems, the same
	// readiness gives its causes from, so that its state and its causes
	// never disagree (whatever the agent concluded).
	if v := readiness.Verdict(rep); len(added) > 0 || v != rep.Verdict {
		rep.Verdict = v
		// No longer what was received: encoded once here for the history
		// and the fleet's store both, which would each encode it.
		var err error
		if encoded, err = json.Marshal(rep); err != nil {
			encoded = nil // they encode it, and say what is wrong
		}
	}
	if !in.fleet.Admits(site, room) {
		// Refused before the history: made-up rooms must not fill the disk.
		in.reject(ReasonRoomLimit, topic, errors.New("the fleet is at its room limit (--max-rooms)"))
		return false
	}
	if in.history != nil {
		added, err := in.history.AddEncoded(rep, encoded)
		switch {
		case err != nil:
			// The room's state still follows the report; only its history lacks it.
			in.historyErrors.Inc()
			in.warn("history", "could not record a report in the history", "topic", topic, "id", rep.ID, "err", err)
		case !added:
			in.ignored.WithLabelValues("duplicate").Inc()
			return true
		}
	}
	switch in.fleet.ApplyEncoded(rep, encoded, in.now()) {
	case fleet.Refused:
		in.reject(ReasonRoomLimit, topic, errors.New("the fleet is at its room limit (--max-rooms)"))
		return false
	case fleet.Duplicate:
		in.ignored.WithLabelValues("duplicate").Inc()
	case fleet.Older:
		in.ignored.WithLabelValues("older").Inc()
	}
	return true
}

func (in *Ingest) handleStatus(site, room, topic string, payload []byte) {
	if len(payload) == 0 {
		// A retained status cleared (the room's agent was revoked): nothing to apply.
		return
	}
	in.statuses.Inc()
	status := string(payload)
	if status != wire.StatusOnline && status != wire.StatusOffline {
		in.statusRejected.Inc()
		in.warn("status", "rejected a status message", "topic", topic, "err", "payload is not online or offline", "bytes", len(payload))
		return
	}
	if in.fleet.ApplyStatus(site, room, status, in.now()) == fleet.Refused {
		in.statusRejected.Inc()
		in.warn("room_limit", "rejected a status message", "topic", topic, "err", "the fleet is at its room limit (--max-rooms)")
	}
}

func (in *Ingest) reject(reason, topic string, err error) {
	in.rejected.WithLabelValues(reason).Inc()
	in.warn(reason, "rejected a report", "reason", reason, "topic", topic, "err", err)
}

// warn logs at most one message per key per logEvery.
func (in *Ingest) warn(key, msg string, args ...any) {
	now := in.now()
	in.logMu.Lock()
	last, seen := in.lastLog[key]
	if seen && now.Sub(last) < in.logEvery {
		in.logMu.Unlock()
		return
	}
	in.lastLog[key] = now
	in.logMu.Unlock()
	in.log.Warn(msg+" (more like it within "+in.logEvery.String()+" are counted, not logged)", args...)
}
