package ingest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/shard"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

func newIngest(t *testing.T) (*Ingest, *fleet.Fleet, *prometheus.Registry) {
	t.Helper()
	return newIngestWith(t, Options{})
}

// newIngestWith is newIngest with options (a fleet of its own when none).
func newIngestWith(t *testing.T, opts Options) (*Ingest, *fleet.Fleet, *prometheus.Registry) {
	t.Helper()
	if opts.Fleet == nil {
		opts.Fleet = fleet.New(fleet.Options{Freshness: time.Minute})
	}
	reg := prometheus.NewPedanticRegistry()
	in, err := New(opts, reg)
	if err != nil {
		t.Fatal(err)
	}
	return in, opts.Fleet, reg
}

func payload(t *testing.T, site, room, id string) []byte {
	t.Helper()
	r := &wire.Report{Schema: wire.Schema, ID: id, Site: site, Room: room, MeasuredAt: time.Now().UTC(), Verdict: wire.Ready}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIngest_CountsEveryOutcome(t *testing.T) {
	in, f, reg := newIngest(t)
	topic := wire.Topic("kalbar", "r1", wire.KindReport)
	in.Handle(wire.Topic("kalbar", "r1", wire.KindStatus), []byte("online"))
	in.Handle(topic, payload(t, "kalbar", "r1", "a"))
	in.Handle(topic, payload(t, "kalbar", "r1", "a"))                                 // QoS 1 redelivery
	in.Handle(topic, []byte("{not json"))                                             // malformed
	in.Handle(topic, []byte(`{"schema":"siaprapat.report/v2"}`))                      // schema
	in.Handle(topic, []byte(strings.Repeat(" ", wire.MaxBytes+1)))                    // oversized
	in.Handle(topic, payload(t, "kalbar", "r2", "b"))                                 // topic_mismatch
	in.Handle(wire.Topic("kalbar", "r1", wire.KindStatus), []byte("sleeping"))        // bad status
	in.Handle("siaprapat/v1/kalbar/r1/extra/report", payload(t, "kalbar", "r1", "c")) // bad topic
	in.Handle("siaprapat/v1/kal!bar/r1/status", []byte("online"))                     // bad status topic

	want := `
# HELP siaprapat_history_record_errors_total Valid reports that could not be recorded in the report history (the room's state still took them).
# TYPE siaprapat_history_record_errors_total counter
siaprapat_history_record_errors_total 0
# HELP siaprapat_reports_ignored_total Messages that did not change a room's state: a report with a duplicate id or older than the room's newest report, or any message of a site another shard owns (other_shard).
# TYPE siaprapat_reports_ignored_total counter
siaprapat_reports_ignored_total{reason="duplicate"} 1
siaprapat_reports_ignored_total{reason="older"} 0
siaprapat_reports_ignored_total{reason="other_shard"} 0
# HELP siaprapat_reports_received_total Report and command result messages received from the broker, valid or not.
# TYPE siaprapat_reports_received_total counter
siaprapat_reports_received_total 7
# HELP siaprapat_reports_rejected_total Report and command result messages rejected, by reason (oversized, malformed, schema, invalid, topic, topic_mismatch, room_limit).
# TYPE siaprapat_reports_rejected_total counter
siaprapat_reports_rejected_total{reason="invalid"} 0
siaprapat_reports_rejected_total{reason="malformed"} 1
siaprapat_reports_rejected_total{reason="oversized"} 1
siaprapat_reports_rejected_total{reason="room_limit"} 0
siaprapat_reports_rejected_total{reason="schema"} 1
siaprapat_reports_rejected_total{reason="topic"} 1
siaprapat_reports_rejected_total{reason="topic_mismatch"} 1
# HELP siaprapat_status_messages_received_total Agent status messages (online, offline) received from the broker.
# TYPE siaprapat_status_messages_received_total counter
siaprapat_status_messages_received_total 3
# HELP siaprapat_status_messages_rejected_total Agent status messages rejected: a bad topic, a payload other than online or offline, or a new room past the room limit.
# TYPE siaprapat_status_messages_rejected_total counter
siaprapat_status_messages_rejected_total 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if f.Len() != 1 {
		t.Errorf("%d rooms, want 1: bad input must not create rooms", f.Len())
	}
	if v, _ := f.Get("kalbar", "r1"); v.State != fleet.Ready {
		t.Errorf("state %s", v.State)
	}
}

func TestIngest_RoomLimitRefusesNewRooms(t *testing.T) {
	in, f, _ := newIngestWith(t, Options{Fleet: fleet.New(fleet.Options{Freshness: time.Minute, MaxRooms: 2})})
	for i, room := range []string{"r1", "r2", "r3"} {
		in.Handle(wire.Topic("s", room, wire.KindReport), payload(t, "s", room, fmt.Sprint(i)))
	}
	in.Handle(wire.Topic("s", "r4", wire.KindStatus), []byte("online"))
	in.Handle(wire.Topic("s", "r1", wire.KindReport), payload(t, "s", "r1", "again")) // known rooms go on
	if f.Len() != 2 {
		t.Errorf("%d rooms, want 2", f.Len())
	}
	if got := testutil.ToFloat64(in.rejected.WithLabelValues(ReasonRoomLimit)); got != 1 {
		t.Errorf("room_limit rejections = %v, want 1", got)
	}
	if got := testutil.ToFloat64(in.statusRejected); got != 1 {
		t.Errorf("status rejections = %v, want 1", got)
	}
}

type recorded struct {
	ids     []string
	encoded [][]byte
}

func (r *recorded) AddEncoded(rep *wire.Report, encoded []byte) (bool, error) {
	r.ids = append(r.ids, rep.ID)
	r.encoded = append(r.encoded, encoded)
	return true, nil
}

// TestIngest_HistoryGetsReportAsReceived: a report goes to the history as
// it came off the wire, and so does the report in a command's result (its
// part of the result's JSON), not encoded again.
func TestIngest_HistoryGetsReportAsReceived(t *testing.T) {
	rec := &recorded{}
	in, _, _ := newIngestWith(t, Options{History: rec})
	p := payload(t, "kalbar", "r1", "a")
	in.Handle(wire.Topic("kalbar", "r1", wire.KindReport), p)
	res, err := (&wire.Result{Schema: wire.ResultSchema, CommandID: "c1", Report: &wire.Report{
		Schema: wire.Schema, ID: "b", Site: "kalbar", Room: "r1", MeasuredAt: time.Now().UTC(), Verdict: wire.Ready}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	in.Handle(wire.Topic("kalbar", "r1", wire.KindResult), res)
	if len(rec.ids) != 2 || string(rec.encoded[0]) != string(p) {
		t.Fatalf("history got %v with %q", rec.ids, rec.encoded)
	}
	if got := rec.encoded[1]; !strings.HasPrefix(string(got), "{") || !strings.Contains(string(res), `"report":`+string(got)) {
		t.Errorf("history got the result's report as %q; want its part of %q", got, res)
	}
	if rep, err := wire.Decode(rec.encoded[1]); err != nil || rep.ID != "b" {
		t.Errorf("the result's report as stored decodes to %v, %v", rep, err)
	}
}

func TestIngest_ShardTakesItsOwnSitesOnly(t *testing.T) {
	sh, err := shard.Parse("kalbar-*")
	if err != nil {
		t.Fatal(err)
	}
	in, f, _ := newIngestWith(t, Options{Shard: sh})
	for _, site := range []string{"kalbar-pontianak", "kalteng", "kalbar"} {
		in.Handle(wire.Topic(site, "r1", wire.KindStatus), []byte("online"))
		in.Handle(wire.Topic(site, "r1", wire.KindReport), payload(t, site, "r1", site+"-a"))
	}
	if _, ok := f.Get("kalbar-pontianak", "r1"); !ok {
		t.Error("the shard's own room was not taken")
	}
	if f.Len() != 1 {
		t.Errorf("fleet has %d rooms, want only the shard's one", f.Len())
	}
	if got := testutil.ToFloat64(in.ignored.WithLabelValues(ReasonOtherShard)); got != 4 {
		t.Errorf("other_shard ignored = %v, want 4 (two rooms' status and report)", got)
	}
	if got := testutil.ToFloat64(in.received); got != 1 {
		t.Errorf("received = %v, want 1: other shards' reports are not this controller's to count", got)
	}
}

// TestIngest_ChecksTheStandardExpectsButTheReportLacksAreNotChecked: an
// agent run with --only network is never silently ready; the standard's
// not_checked verdict (warn by default) says what the room is.
func TestIngest_ChecksTheStandardExpectsButTheReportLacksAreNotChecked(t *testing.T) {
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	in, f, _ := newIngestWith(t, Options{Standard: std})
	rep := &wire.Report{Schema: wire.Schema, ID: "a", Site: "s", Room: "r", MeasuredAt: time.Now().UTC(), Verdict: wire.Ready,
		Checks: []wire.CheckResult{{Check: "network", Target: "probe", Verdict: wire.Pass}}}
	p, err := rep.Encode()
	if err != nil {
		t.Fatal(err)
	}
	in.Handle(wire.Topic("s", "r", wire.KindReport), p)
	v, _ := f.Get("s", "r")
	if v.State != fleet.Degraded {
		t.Errorf("state %s, want degraded", v.State)
	}
	var got []string
	for _, c := range v.Report.Checks {
		if c.Code() == wire.CodeNotChecked {
			got = append(got, c.Check()+" "+string(c.Verdict()))
		}
	}
	if want := []string{"camera warn", "audio warn", "host warn", "peripherals warn"}; !slices.Equal(got, want) {
		t.Errorf("not checked: %v, want %v", got, want)
	}
}
