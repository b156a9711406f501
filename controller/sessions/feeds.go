package sessions

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/rooms"
)

// Feed defaults: a poll keeps the sessions from FeedLookback ago to the
// horizon ahead, and must finish within its timeout.
const (
	DefaultFeedInterval = 5 * time.Minute
	MinFeedInterval     = 30 * time.Second
	DefaultFeedHorizon  = 14 * 24 * time.Hour
	DefaultFeedTimeout  = 30 * time.Second
	DefaultFeedParallel = 4
	FeedLookback        = 24 * time.Hour
	// feedSlack is how far past the horizon a read is expanded, so that
	// feeds that do not change (304 Not Modified, the same file) are not
	// expanded again for that long.
	feedSlack    = 24 * time.Hour
	maxRedirects = 5
	// maxShownSkipped bounds the skipped events a feed's state lists (all
	// are counted).
	maxShownSkipped = 20
)

// FeedOptions configure Feeds.
type FeedOptions struct {
	Interval time.Duration    // how often each feed is read; DefaultFeedInterval when zero
	Horizon  time.Duration    // how far ahead sessions are kept; DefaultFeedHorizon when zero
	Timeout  time.Duration    // a poll's budget, fetch and read; DefaultFeedTimeout when zero
	Parallel int              // feeds read at once; DefaultFeedParallel when zero
	Now      func() time.Time // the clock; time.Now when nil
	// Transport makes the HTTP requests; a clone of http.DefaultTransport
	// when nil.
	Transport http.RoundTripper
	Log       *slog.Logger
}

// FeedState is what the last poll of a room's feed found.
type FeedState struct {
	Site   string `json:"site"`
	Room   string `json:"room"`
	Source string `json:"source"` // the URL's scheme and host (its path may be a secret), or the file
	// Status is "pending" before the first poll, then "ok" or "error".
	Status      string    `json:"status"`
	Error       string    `json:"error,omitempty"`
	LastPoll    time.Time `json:"last_poll,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	// NotModified says the last good poll found the feed unchanged (304,
	// or the same file).
	NotModified bool    `json:"not_modified,omitempty"`
	PollSeconds float64 `json:"poll_seconds"`
	// Sessions are the feed's sessions in the store, from its last good read.
	Sessions        int            `json:"sessions"`
	SkippedEvents   int            `json:"skipped_events"`
	SkippedByReason map[string]int `json:"skipped_by_reason,omitempty"`
	Skipped         []Skipped      `json:"skipped,omitempty"` // the first 20
	Repaired        []string       `json:"repaired,omitempty"`
}

// Feeds polls the rooms' iCalendar feeds into the store: each feed on its
// own, at most Parallel at once, each poll within its timeout, so a slow or
// hostile feed delays no other and no shutdown.
type Feeds struct {
	store    *Store
	feeds    []*feed
	byRoom   map[string]*feed
	interval time.Duration
	horizon  time.Duration
	timeout  time.Duration
	slots    chan struct{}
	now      func() time.Time
	client   *http.Client
	log      *slog.Logger

	fetches *prometheus.CounterVec
	skipped *prometheus.CounterVec
}

// feed is one room's calendar and what its polls remember.
type feed struct {
	room   *rooms.Room
	source string // the store's source of its sessions
	url    string // "" for a file; webcal read as https
	shown  string

	mu    sync.Mutex // guards state; the rest belongs to the feed's poller
	state FeedState

	etag, lastModified string
	fileStamp          string
	body               []byte    // the last good read, while the server or file can say it is unchanged
	expandedTo         time.Time // the end of the window it was expanded to
	written            [32]byte  // what was last written to the store
	lastSkipped        string    // what the log last said was skipped
}

// NewFeeds returns a poller for every room of rc with a calendar, registering
// its metrics on reg.
func NewFeeds(store *Store, rc *rooms.Config, opts FeedOptions, reg prometheus.Registerer) (*Feeds, error) {
	if opts.Interval <= 0 {
		opts.Interval = DefaultFeedInterval
	}
	if opts.Horizon <= 0 {
		opts.Horizon = DefaultFeedHorizon
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultFeedTimeout
	}
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultFeedParallel
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	f := &Feeds{store: store, byRoom: map[string]*feed{}, interval: opts.Interval, horizon: opts.Horizon, timeout: opts.Timeout,
		slots: make(chan struct{}, opts.Parallel), now: opts.Now, log: opts.Log,
		client: &http.Client{Transport: opts.Transport, CheckRedirect: checkRedirect},
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siaprapat_calendar_fetches_total",
			Help: "Polls of the rooms' iCalendar feeds, by result (ok, not_modified, error).",
		}, []string{"result"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siaprapat_calendar_events_skipped_total",
			Help: "Calendar events left out of a poll, by reason (no_uid, bad_time, unknown_zone, bad_rule, too_frequent, too_many_instances, feed_limit).",
		}, []string{"reason"}),
	}
	for _, r := range []string{"ok", "not_modified", "error"} {
		f.fetches.WithLabelValues(r)
	}
	for _, r := range SkipReasons() {
		f.skipped.WithLabelValues(r)
	}
	if rc != nil {
		for i := range rc.Rooms {
			r := &rc.Rooms[i]
			if r.Calendar == "" {
				continue
			}
			fd := &feed{room: r, source: "calendar:" + r.Site + "/" + r.Room, shown: r.Calendar}
			if u, err := url.Parse(r.Calendar); err == nil && u.Scheme != "" {
				switch strings.ToLower(u.Scheme) {
				case "webcal", "webcals":
					u.Scheme = "https"
				}
				fd.url = u.String()
				fd.shown = u.Scheme + "://" + u.Host + "/…"
			}
			fd.state = FeedState{Site: r.Site, Room: r.Room, Source: fd.shown, Status: "pending"}
			f.feeds = append(f.feeds, fd)
			f.byRoom[r.Site+"/"+r.Room] = fd
		}
	}
	for _, c := range []prometheus.Collector{f.fetches, f.skipped, feedCollector{f}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// checkRedirect follows at most maxRedirects redirects, never from https to
// http. (net/http drops the Authorization header on a redirect to another
// host.)
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("more than %d redirects", maxRedirects)
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refused a redirect from https to %s", req.URL.Scheme)
	}
	return nil
}

// Run polls every feed now and then every interval, until ctx ends; it
// returns once every poll has stopped.
func (f *Feeds) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, fd := range f.feeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.loop(ctx, fd)
		}()
	}
	wg.Wait()
}

func (f *Feeds) loop(ctx context.Context, fd *feed) {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case f.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		f.poll(ctx, fd, f.now())
		<-f.slots
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll reads one room's feed and replaces that room's calendar sessions;
// on an error the sessions of the last good read stay.
func (f *Feeds) Poll(ctx context.Context, r *rooms.Room, now time.Time) error {
	fd := f.byRoom[r.Site+"/"+r.Room]
	if fd == nil {
		return fmt.Errorf("room %s/%s has no calendar", r.Site, r.Room)
	}
	return f.poll(ctx, fd, now)
}

func (f *Feeds) poll(parent context.Context, fd *feed, now time.Time) error {
	started := time.Now() // how long the poll took, not when: the clock is f.now
	ctx, cancel := context.WithTimeout(parent, f.timeout)
	defer cancel()
	x, unchanged, err := f.read(ctx, fd, now)
	took := time.Since(started).Seconds()
	if err != nil && parent.Err() != nil {
		return err // stopped: the controller is shutting down, not the feed failing
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	fd.state.LastPoll, fd.state.PollSeconds = now, took
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (a poll has %v)", err, f.timeout)
		}
		fd.state.Status, fd.state.Error = "error", err.Error()
		f.fetches.WithLabelValues("error").Inc()
		f.log.Warn("calendar feed not read; keeping the sessions from the last good read",
			"site", fd.room.Site, "room", fd.room.Room, "calendar", fd.shown, "err", err)
		return err
	}
	fd.state.Status, fd.state.Error, fd.state.LastSuccess, fd.state.NotModified = "ok", "", now, unchanged
	if x == nil { // unchanged, and already expanded far enough
		f.fetches.WithLabelValues("not_modified").Inc()
		// The feed still leaves these events out: count them at every
		// poll, as if it had been read again.
		for reason, n := range fd.state.SkippedByReason {
			f.skipped.WithLabelValues(reason).Add(float64(n))
		}
		return nil
	}
	if unchanged {
		f.fetches.WithLabelValues("not_modified").Inc()
	} else {
		f.fetches.WithLabelValues("ok").Inc()
	}
	byReason := map[string]int{}
	var details []string
	for _, s := range x.Skipped {
		byReason[s.Reason]++
		f.skipped.WithLabelValues(s.Reason).Inc()
		details = append(details, s.Error())
	}
	fd.state.Sessions, fd.state.SkippedEvents, fd.state.Repaired = len(x.Sessions), len(x.Skipped), x.Repaired
	fd.state.SkippedByReason, fd.state.Skipped = byReason, x.Skipped[:min(len(x.Skipped), maxShownSkipped)]
	if len(byReason) == 0 {
		fd.state.SkippedByReason = nil
	}
	// Say what is skipped when it changes, not at every poll.
	if joined := strings.Join(details, "\n"); joined != fd.lastSkipped {
		fd.lastSkipped = joined
		for i, s := range x.Skipped {
			if i == 5 {
				f.log.Warn("calendar events skipped", "site", fd.room.Site, "room", fd.room.Room, "calendar", fd.shown,
					"skipped", len(x.Skipped), "by_reason", byReason, "see", "GET /api/v1/calendars")
				break
			}
			f.log.Warn("calendar event skipped", "site", fd.room.Site, "room", fd.room.Room, "calendar", fd.shown,
				"reason", s.Reason, "uid", s.UID, "line", s.Line, "err", s.Detail)
		}
	}
	for _, r := range x.Repaired[:min(len(x.Repaired), 3)] {
		f.log.Debug("calendar feed repaired", "site", fd.room.Site, "room", fd.room.Room, "calendar", fd.shown, "what", r)
	}
	f.log.Debug("calendar feed read", "site", fd.room.Site, "room", fd.room.Room, "sessions", len(x.Sessions), "not_modified", unchanged)
	return nil
}

// read fetches and expands a feed. It returns a nil Expansion when the feed
// is unchanged and its last expansion still covers the window.
func (f *Feeds) read(ctx context.Context, fd *feed, now time.Time) (x *Expansion, unchanged bool, err error) {
	body, unchanged, err := f.fetch(ctx, fd)
	if err != nil {
		return nil, false, err
	}
	to := now.Add(f.horizon)
	if unchanged {
		if !to.After(fd.expandedTo) {
			return nil, true, nil
		}
		body = fd.body
	}
	to = to.Add(feedSlack)
	got, err := Expand(ctx, bytes.NewReader(body), fd.room.Site, fd.room.Room, fd.source, fd.room.Location(), now.Add(-FeedLookback), to)
	if err != nil {
		return nil, false, err
	}
	if sum := digest(got.Sessions); sum != fd.written {
		if err := f.store.ReplaceSource(fd.source, got.Sessions); err != nil {
			return nil, false, err
		}
		fd.written = sum
	}
	fd.expandedTo = to
	if fd.etag != "" || fd.lastModified != "" || fd.fileStamp != "" {
		fd.body = body
	} else {
		fd.body = nil
	}
	return &got, unchanged, nil
}

// digest sums what the store keeps of a feed's sessions.
func digest(list []Session) [32]byte {
	h := sha256.New()
	for _, s := range list {
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s\x00%s\x00", s.ID, s.Start.UnixNano(), s.End.UnixNano(), s.Title, s.Organizer)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// fetch returns the feed's bytes, or unchanged when the server answered 304
// (or the file's size and time are the last read's) and the last read is
// kept.
func (f *Feeds) fetch(ctx context.Context, fd *feed) (body []byte, unchanged bool, err error) {
	if fd.url == "" {
		return fetchFile(fd)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fd.url, nil)
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: %w", fd.shown, err)
	}
	req.Header.Set("Accept", "text/calendar, */*;q=0.5")
	req.Header.Set("User-Agent", "siaprapat-controller")
	if fd.body != nil {
		if fd.etag != "" {
			req.Header.Set("If-None-Match", fd.etag)
		}
		if fd.lastModified != "" {
			req.Header.Set("If-Modified-Since", fd.lastModified)
		}
	}
	if err := fd.room.CalendarAuth.Apply(req); err != nil {
		return nil, false, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		// url.Error quotes the whole URL, whose path may be a secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, false, fmt.Errorf("GET %s: %w", fd.shown, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && fd.body != nil:
		return nil, true, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		if fd.room.CalendarAuth != nil {
			return nil, false, fmt.Errorf("GET %s: %s: the server refused calendar_auth's credentials", fd.shown, resp.Status)
		}
		return nil, false, fmt.Errorf("GET %s: %s: the server asks for credentials; set calendar_auth", fd.shown, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, false, fmt.Errorf("GET %s: %s", fd.shown, resp.Status)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, MaxCalendarBytes+1))
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: reading the body: %w", fd.shown, err)
	}
	if len(body) > MaxCalendarBytes {
		return nil, false, fmt.Errorf("GET %s: larger than %d bytes", fd.shown, MaxCalendarBytes)
	}
	fd.etag, fd.lastModified = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	return body, false, nil
}

// fetchFile reads a calendar file, which must be a regular file: a named
// pipe would block the poll until something writes to it. It is opened
// without blocking and checked before it is read.
func fetchFile(fd *feed) (body []byte, unchanged bool, err error) {
	file, err := openNonblocking(fd.room.Calendar)
	if err != nil {
		return nil, false, fmt.Errorf("read calendar file: %w", err)
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("read calendar file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, false, fmt.Errorf("read calendar file: %s is not a regular file (%s)", fd.room.Calendar, fi.Mode().Type())
	}
	stamp := fmt.Sprintf("%d %d", fi.Size(), fi.ModTime().UnixNano())
	if stamp == fd.fileStamp && fd.body != nil {
		return nil, true, nil
	}
	body, err = io.ReadAll(io.LimitReader(file, MaxCalendarBytes+1))
	if err != nil {
		return nil, false, fmt.Errorf("read calendar file %s: %w", fd.room.Calendar, err)
	}
	if len(body) > MaxCalendarBytes {
		return nil, false, fmt.Errorf("read calendar file %s: larger than %d bytes", fd.room.Calendar, MaxCalendarBytes)
	}
	fd.fileStamp = stamp
	return body, false, nil
}

// States returns every feed's state, by site and room.
func (f *Feeds) States() []FeedState {
	out := make([]FeedState, 0, len(f.feeds))
	for _, fd := range f.feeds {
		fd.mu.Lock()
		out = append(out, fd.state)
		fd.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b FeedState) int {
		if c := strings.Compare(a.Site, b.Site); c != 0 {
			return c
		}
		return strings.Compare(a.Room, b.Room)
	})
	return out
}

var lastSuccessDesc = prometheus.NewDesc("siaprapat_calendar_last_success_timestamp_seconds",
	"Unix time a room's iCalendar feed was last read without error.", []string{"site", "room"}, nil)

type feedCollector struct{ f *Feeds }

func (c feedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lastSuccessDesc }

func (c feedCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.f.States() {
		if !s.LastSuccess.IsZero() {
			ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(s.LastSuccess.UnixNano())/1e9, s.Site, s.Room)
		}
	}
}

// openNonblocking opens a file for reading without waiting for a writer
// when it is a named pipe.
func openNonblocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|nonblock, 0)
}
