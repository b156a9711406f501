// Package alerts delivers readiness alerts: it keeps the set of firing
// alerts, sends them to Alertmanager's v2 API (re-sent while firing, as
// Prometheus does, with endsAt on resolve) and to webhooks through a durable
// outbox, and counts what failed.
package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/internal/boltfile"
)

// Alert is one alert as the controller wants it: a room not ready for one
// session. Key identifies it (one per room and session); Labels and
// Annotations are what Alertmanager sees; the rest is what the alert is
// about, for webhooks and texts. Build one with For.
type Alert struct {
	Key         string            `json:"key"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Site        string            `json:"site,omitempty"`
	Room        string            `json:"room,omitempty"`
	Session     Session           `json:"session"`
	Causes      []readiness.Cause `json:"causes,omitempty"`
	// Fingerprint identifies the causes (readiness.Fingerprint): a firing
	// alert changes only when it does, not when a figure moves.
	Fingerprint string `json:"fingerprint,omitempty"`
	// FailedAt is when the newest evidence of the failure was taken: a
	// recovery must be measured after it.
	FailedAt time.Time `json:"failed_at,omitzero"`
}

// End says why an alert stopped firing. To Alertmanager every end is a
// resolve (endsAt); webhooks and the annotation end_reason tell them apart.
type End string

const (
	Resolved    End = "resolved"    // a report measured after the failure passes
	Ended       End = "ended"       // the session is over and the room was still not ready
	Cancelled   End = "cancelled"   // the session was deleted, or cancelled in its calendar
	Rescheduled End = "rescheduled" // the session moved out of the alert's window
)

// Events of an alert, as webhooks receive them: firing, changed, then one
// of the ends.
const (
	EventFiring  = "firing"
	EventChanged = "changed"
)

// Defaults of a Manager.
const (
	ResendInterval = 30 * time.Second // a firing alert is sent again this often
	resolvedSends  = 3                // a resolved alert is sent this many times
	sendTimeout    = 5 * time.Second
)

type state struct {
	alert    Alert
	startsAt time.Time
	endsAt   time.Time // zero while firing
	lastSent time.Time
	changed  bool
	sends    int // sends since resolving
}

// Manager keeps alerts and delivers them.
type Manager struct {
	urls     []string
	webhooks []string
	client   *http.Client
	log      *slog.Logger
	now      func() time.Time
	db       *bolt.DB // firing alerts and the webhook outbox; nil without a data directory
	outbox   *outbox

	mu     sync.Mutex
	alerts map[string]*state
	kick   chan struct{}     // something changed: deliver now
	names  map[string]string // receiver URL -> name for metrics and logs

	firing prometheus.GaugeFunc
	failed *prometheus.CounterVec
	sent   *prometheus.CounterVec
}

// Options configure a Manager.
type Options struct {
	Alertmanagers []string // base URLs, e.g. http://alertmanager:9093
	Webhooks      []string // URLs that receive a JSON Message per alert firing or resolved
	// DataDir holds alerts.db: the firing alerts (so a restart neither
	// repeats nor forgets them) and the webhook outbox. Required for webhooks.
	DataDir string
	Now     func() time.Time // the clock; time.Now when nil
	Log     *slog.Logger
}

// CheckURLs checks the receivers' URLs: http or https, with a host. The
// messages name a URL by its position, scheme and host only: its path or
// user may hold a secret (a chat hook's token).
func CheckURLs(alertmanagers, webhooks []string) error {
	for _, list := range []struct {
		flag string
		urls []string
	}{{"--alertmanager", alertmanagers}, {"--webhook", webhooks}} {
		for i, u := range list.urls {
			p, err := url.Parse(u)
			if err != nil {
				return fmt.Errorf("%s #%d: not a URL; want http(s)://HOST[:PORT]/PATH", list.flag, i+1)
			}
			if (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				return fmt.Errorf("%s #%d (%s://%s): want an http or https URL with a host", list.flag, i+1, p.Scheme, p.Host)
			}
		}
	}
	return nil
}

// New returns a manager; with no Alertmanager and no webhook it only keeps state.
func New(opts Options, reg prometheus.Registerer) (*Manager, error) {
	if err := CheckURLs(opts.Alertmanagers, opts.Webhooks); err != nil {
		return nil, err
	}
	if len(opts.Webhooks) > 0 && opts.DataDir == "" {
		return nil, fmt.Errorf("webhooks need a data directory for their outbox")
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Manager{
		urls: opts.Alertmanagers, webhooks: opts.Webhooks, client: &http.Client{Timeout: sendTimeout}, log: log, now: opts.Now,
		alerts: map[string]*state{}, kick: make(chan struct{}, 1),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siaprapat_alert_deliveries_failed_total",
			Help: "Alert deliveries that failed, by receiver.",
		}, []string{"receiver"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siaprapat_alert_deliveries_total",
			Help: "Alert deliveries attempted, by receiver.",
		}, []string{"receiver"}),
	}
	m.firing = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "siaprapat_alerts_firing",
		Help: "Readiness alerts firing now.",
	}, func() float64 { return float64(len(m.Firing())) })
	// Receivers are named in metrics and logs by kind, position and host:
	// their URLs may carry secrets (a chat hook's token, user:password).
	m.names = map[string]string{}
	for kind, list := range map[string][]string{"alertmanager": opts.Alertmanagers, "webhook": opts.Webhooks} {
		for i, u := range list {
			name := kind + "-" + strconv.Itoa(i+1)
			if p, err := url.Parse(u); err == nil {
				name += " " + p.Host
			}
			m.names[u] = name
			m.failed.WithLabelValues(name)
			m.sent.WithLabelValues(name)
		}
	}
	collectors := []prometheus.Collector{m.firing, m.failed, m.sent}
	if opts.DataDir != "" {
		if err := m.open(opts.DataDir); err != nil {
			return nil, err
		}
		collectors = append(collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "siaprapat_webhook_outbox_messages",
			Help: "Webhook messages waiting in the outbox for their receiver.",
		}, func() float64 { return float64(m.outbox.pending()) }))
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

type storedAlert struct {
	Alert    Alert     `json:"alert"`
	StartsAt time.Time `json:"starts_at"`
}

// open opens alerts.db and takes back the alerts that were firing.
func (m *Manager) open(dir string) error {
	db, err := boltfile.Open(dir, "alerts.db", "alert store", "controller")
	if err != nil {
		return err
	}
	err = boltfile.Load(db, "alert store", func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketOutbox); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketFiring)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var sa storedAlert
			if err := json.Unmarshal(v, &sa); err != nil {
				return fmt.Errorf("alert %q: %w", k, err)
			}
			m.alerts[string(k)] = &state{alert: sa.Alert, startsAt: sa.StartsAt, changed: true}
			return nil
		})
	})
	if err != nil {
		db.Close()
		return err // a *boltfile.DamagedError naming the file
	}
	m.db = db
	m.outbox = &outbox{db: db, client: m.client, log: m.log, now: m.now, failed: m.failed, sent: m.sent, names: m.names, wake: make(chan struct{}, 1)}
	return nil
}

// Run delivers to Alertmanager (at once after a change, and every second)
// and webhook messages from the outbox, until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if m.outbox != nil && len(m.webhooks) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.outbox.run(ctx)
		}()
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		m.Deliver(ctx, m.now())
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
		case <-m.kick:
		}
	}
}

// Close closes the alert store.
func (m *Manager) Close() error {
	if m.db == nil {
		return nil
	}
	return m.db.Close()
}

// record persists a transition (an event: firing, changed, or an End) and
// queues its webhook messages. Callers hold m.mu.
func (m *Manager) record(key string, s *state, event string) {
	if m.db == nil {
		return
	}
	err := m.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFiring)
		if !s.endsAt.IsZero() {
			return b.Delete([]byte(key))
		}
		v, err := json.Marshal(storedAlert{Alert: s.alert, StartsAt: s.startsAt})
		if err != nil {
			return err
		}
		return b.Put([]byte(key), v)
	})
	if err != nil {
		m.log.Error("could not record an alert", "alert", key, "err", err)
	}
	if len(m.webhooks) == 0 {
		return
	}
	if err := m.outbox.enqueue(m.webhooks, message(event, s)); err != nil {
		m.log.Error("could not queue a webhook message", "alert", key, "err", err)
	}
}

// Firing returns the alerts firing now.
func (m *Manager) Firing() []Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Alert
	for _, s := range m.alerts {
		if s.endsAt.IsZero() {
			out = append(out, s.alert)
		}
	}
	return out
}

// Get returns the alert firing under key, if one is.
func (m *Manager) Get(key string) (Alert, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.alerts[key]
	if !ok || !s.endsAt.IsZero() {
		return Alert{}, false
	}
	return s.alert, true
}

// Sync makes the firing set the desired one: new alerts fire; a firing
// alert whose causes changed (its Fingerprint) is updated, one whose causes
// did not is left exactly as it is; the others end, each with its reason
// in ends (Resolved when it has none). Delivery happens in Run (or
// Deliver), so a slow Alertmanager never holds up the caller.
func (m *Manager) Sync(ctx context.Context, desired []Alert, ends map[string]End, now time.Time) {
	m.mu.Lock()
	want := map[string]Alert{}
	for _, a := range desired {
		want[a.Key] = a
	}
	for key, a := range want {
		s, ok := m.alerts[key]
		switch {
		case !ok || !s.endsAt.IsZero():
			ns := &state{alert: a, startsAt: now, changed: true}
			m.alerts[key] = ns
			m.log.Info("alert firing", "alert", key, "summary", a.Annotations["summary"])
			m.record(key, ns, EventFiring)
		case s.alert.Fingerprint != a.Fingerprint:
			if s.alert.FailedAt.After(a.FailedAt) {
				a.FailedAt = s.alert.FailedAt
			}
			s.alert, s.changed = a, true
			m.log.Info("alert changed", "alert", key, "causes", len(a.Causes))
			m.record(key, s, EventChanged)
		}
	}
	for key, s := range m.alerts {
		if _, ok := want[key]; !ok && s.endsAt.IsZero() {
			end := ends[key]
			if end == "" {
				end = Resolved
			}
			s.alert.Annotations = maps.Clone(s.alert.Annotations)
			s.alert.Annotations["end_reason"] = string(end)
			s.endsAt, s.changed = now, true
			m.log.Info("alert ended", "alert", key, "end", end)
			m.record(key, s, string(end))
		}
	}
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Deliver sends to Alertmanager what is due as of now: changed alerts,
// firing ones not sent for ResendInterval, and resolved ones (a few times).
// Alertmanagers are posted to together; a round counts as delivered when one
// of them took it (a firing alert is re-sent every ResendInterval anyway, so
// one that was down catches up).
func (m *Manager) Deliver(ctx context.Context, now time.Time) {
	m.mu.Lock()
	var due []*state
	for key, s := range m.alerts {
		switch {
		case !s.endsAt.IsZero() && s.sends >= resolvedSends:
			delete(m.alerts, key) // delivered as resolved; forget it
		case s.changed || now.Sub(s.lastSent) >= ResendInterval || !s.endsAt.IsZero():
			due = append(due, s)
		}
	}
	batch := make([]postableAlert, 0, len(due))
	for _, s := range due {
		batch = append(batch, s.postable(now))
	}
	m.mu.Unlock()
	if len(batch) == 0 || len(m.urls) == 0 {
		m.markSent(due, now, true)
		return
	}
	var wg sync.WaitGroup
	var okCount atomic.Int32
	for _, u := range m.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.post(ctx, u, batch); err != nil {
				m.failed.WithLabelValues(m.names[u]).Inc()
				m.log.Warn("could not deliver alerts to Alertmanager; will retry", "alertmanager", m.names[u], "err", redactErr(err, u))
				return
			}
			okCount.Add(1)
		}()
	}
	wg.Wait()
	m.markSent(due, now, okCount.Load() > 0)
}

func (m *Manager) markSent(due []*state, now time.Time, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range due {
		if !ok {
			continue // stays changed, so the next Sync tries again
		}
		s.lastSent, s.changed = now, false
		if !s.endsAt.IsZero() {
			s.sends++
		}
	}
}

// postableAlert is Alertmanager's v2 alert.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

func (s *state) postable(now time.Time) postableAlert {
	p := postableAlert{Labels: s.alert.Labels, Annotations: s.alert.Annotations, StartsAt: s.startsAt, EndsAt: s.endsAt}
	if p.EndsAt.IsZero() {
		// As Prometheus does: a firing alert ends by itself if we stop
		// sending, a few resend intervals from now.
		p.EndsAt = now.Add(4 * ResendInterval)
	}
	return p
}

func (m *Manager) post(ctx context.Context, base string, batch []postableAlert) error {
	m.sent.WithLabelValues(m.names[base]).Inc()
	body, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	return postJSON(ctx, m.client, strings.TrimSuffix(base, "/")+"/api/v2/alerts", body)
}

// redactErr keeps a receiver's URL out of an error message (net/http errors
// quote the URL, path and credentials included).
func redactErr(err error, rawURL string) string {
	msg := err.Error()
	if rawURL != "" {
		msg = strings.ReplaceAll(msg, rawURL, "(receiver URL)")
	}
	return msg
}

// postJSON posts a JSON body and wants a 2xx answer; anything else is an
// error with the start of the receiver's answer.
func postJSON(ctx context.Context, client *http.Client, url string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}
