package sessions

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/rooms"
)

// Feed windows: a poll keeps the sessions from an hour ago to FeedHorizon ahead.
const (
	DefaultFeedInterval = 5 * time.Minute
	FeedHorizon         = 30 * 24 * time.Hour
)

// FeedOptions configure Feeds.
type FeedOptions struct {
	Interval time.Duration    // how often each feed is read; DefaultFeedInterval when zero
	Now      func() time.Time // the clock; time.Now when nil
	Log      *slog.Logger
}

// Feeds polls the rooms' iCalendar feeds into the store.
type Feeds struct {
	store    *Store
	rooms    []*rooms.Room
	interval time.Duration
	now      func() time.Time
	client   *http.Client
	log      *slog.Logger

	mu          sync.Mutex
	lastSuccess map[string]time.Time // site/room -> last good poll
	fetches     *prometheus.CounterVec
	skipped     prometheus.Counter
}

// NewFeeds returns a poller for every room of rc with a calendar, registering
// its metrics on reg.
func NewFeeds(store *Store, rc *rooms.Config, opts FeedOptions, reg prometheus.Registerer) (*Feeds, error) {
	if opts.Interval <= 0 {
		opts.Interval = DefaultFeedInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	f := &Feeds{store: store, interval: opts.Interval, now: opts.Now, client: &http.Client{Timeout: 30 * time.Second}, log: opts.Log,
		lastSuccess: map[string]time.Time{},
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siaprapat_calendar_fetches_total",
			Help: "Polls of the rooms' iCalendar feeds, by result (ok, error).",
		}, []string{"result"}),
	}
	f.skipped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "siaprapat_calendar_events_skipped_total",
		Help: "Calendar events that could not be read (no UID, unknown zone, bad recurrence) and were left out.",
	})
	f.fetches.WithLabelValues("ok")
	f.fetches.WithLabelValues("error")
	if rc != nil {
		for i := range rc.Rooms {
			if rc.Rooms[i].Calendar != "" {
				f.rooms = append(f.rooms, &rc.Rooms[i])
			}
		}
	}
	for _, c := range []prometheus.Collector{f.fetches, f.skipped, feedCollector{f}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Run polls every feed now and then every interval, until ctx ends.
func (f *Feeds) Run(ctx context.Context) {
	if len(f.rooms) == 0 {
		return
	}
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		for _, r := range f.rooms {
			if err := f.Poll(ctx, r, f.now()); err != nil {
				f.fetches.WithLabelValues("error").Inc()
				f.log.Warn("calendar feed not read; keeping the sessions from the last good read", "site", r.Site, "room", r.Room, "calendar", r.Calendar, "err", err)
			} else {
				f.fetches.WithLabelValues("ok").Inc()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll reads one room's feed and replaces that room's calendar sessions.
func (f *Feeds) Poll(ctx context.Context, r *rooms.Room, now time.Time) error {
	body, err := f.open(ctx, r.Calendar)
	if err != nil {
		return err
	}
	defer body.Close()
	source := "calendar:" + r.Site + "/" + r.Room
	x, err := Expand(ctx, body, r.Site, r.Room, source, r.Location(), now.Add(-time.Hour), now.Add(FeedHorizon))
	if err != nil {
		return err
	}
	list := x.Sessions
	for _, e := range x.Skipped {
		f.skipped.Inc()
		f.log.Warn("calendar event skipped", "site", r.Site, "room", r.Room, "err", e)
	}
	if err := f.store.ReplaceSource(source, list); err != nil {
		return err
	}
	f.mu.Lock()
	f.lastSuccess[r.Site+"/"+r.Room] = now
	f.mu.Unlock()
	f.log.Debug("calendar feed read", "site", r.Site, "room", r.Room, "sessions", len(list))
	return nil
}

func (f *Feeds) open(ctx context.Context, where string) (io.ReadCloser, error) {
	if !strings.HasPrefix(where, "http://") && !strings.HasPrefix(where, "https://") {
		return os.Open(where)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", where, resp.Status)
	}
	return resp.Body, nil
}

var lastSuccessDesc = prometheus.NewDesc("siaprapat_calendar_last_success_timestamp_seconds",
	"Unix time a room's iCalendar feed was last read without error.", []string{"site", "room"}, nil)

type feedCollector struct{ f *Feeds }

func (c feedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lastSuccessDesc }

func (c feedCollector) Collect(ch chan<- prometheus.Metric) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	for key, t := range c.f.lastSuccess {
		site, room, _ := strings.Cut(key, "/")
		ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(t.UnixNano())/1e9, site, room)
	}
}
