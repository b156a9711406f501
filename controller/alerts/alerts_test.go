package alerts

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// receiver records what an Alertmanager would receive.
type receiver struct {
	mu      sync.Mutex
	batches [][]postableAlert
	fail    bool
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var b []postableAlert
	json.NewDecoder(req.Body).Decode(&b)
	r.batches = append(r.batches, b)
}

func (r *receiver) last() []postableAlert {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.batches) == 0 {
		return nil
	}
	return r.batches[len(r.batches)-1]
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.batches)
}

func TestManager_FiresResendsResolvesAndRetries(t *testing.T) {
	rec := &receiver{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	m, err := New(Options{Alertmanagers: []string{srv.URL}}, prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	a := Alert{Key: "s/r/1", Labels: map[string]string{"alertname": "X", "room": "r"}, Annotations: map[string]string{"summary": "not ready"}}

	step := func(desired []Alert, now time.Time) {
		m.Sync(ctx, desired, nil, now)
		m.Deliver(ctx, now)
	}
	step([]Alert{a}, t0)
	if got := rec.last(); len(got) != 1 || !got[0].StartsAt.Equal(t0) || !got[0].EndsAt.Equal(t0.Add(4*ResendInterval)) {
		t.Fatalf("firing: %+v", got)
	}
	step([]Alert{a}, t0.Add(time.Second))
	if rec.count() != 1 {
		t.Errorf("re-sent after 1 s: %d posts", rec.count())
	}
	step([]Alert{a}, t0.Add(ResendInterval))
	if rec.count() != 2 || !rec.last()[0].StartsAt.Equal(t0) {
		t.Errorf("not re-sent after the resend interval, or startsAt moved: %+v", rec.last())
	}

	rec.fail = true
	step(nil, t0.Add(ResendInterval+time.Second)) // resolved, but the receiver is down
	if n := testutil.ToFloat64(m.failed.WithLabelValues("alertmanager-1 " + strings.TrimPrefix(srv.URL, "http://"))); n != 1 {
		t.Errorf("failed deliveries = %v", n)
	}
	rec.fail = false
	resolvedAt := t0.Add(ResendInterval + time.Second)
	for i := range 5 {
		step(nil, resolvedAt.Add(time.Duration(i+1)*time.Second))
	}
	if got := rec.last(); len(got) != 1 || !got[0].EndsAt.Equal(resolvedAt) {
		t.Errorf("resolved: %+v, want endsAt %v", got, resolvedAt)
	}
	if rec.count() != 2+resolvedSends {
		t.Errorf("%d posts, want 2 firing + %d resolved", rec.count(), resolvedSends)
	}
	if len(m.Firing()) != 0 || len(m.alerts) != 0 {
		t.Errorf("resolved alert kept: %v", m.alerts)
	}
}

func TestNew_RejectsBadURLsAndWebhooksWithoutStore(t *testing.T) {
	for _, o := range []Options{
		{Alertmanagers: []string{"localhost:9093"}},
		{Webhooks: []string{"ftp://x"}},
		{Webhooks: []string{"http://x/hook"}},
	} {
		if _, err := New(o, prometheus.NewPedanticRegistry()); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
}

func TestOutbox_KeepsOrderPerReceiverThroughBackoff(t *testing.T) {
	var mu sync.Mutex
	var got []string
	fail := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		var m Message
		json.NewDecoder(r.Body).Decode(&m)
		got = append(got, m.Status)
	}))
	defer srv.Close()
	m, err := New(Options{Webhooks: []string{srv.URL}, DataDir: t.TempDir()}, prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	t0 := time.Now()
	a := Alert{Key: "s/r/1", Labels: map[string]string{"room": "r"}, Annotations: map[string]string{"summary": "x", "summary_id": "y"}}
	m.Sync(ctx, []Alert{a}, nil, t0)
	m.outbox.deliver(ctx, t0) // firing fails, backs off 1 s
	m.Sync(ctx, nil, nil, t0.Add(100*time.Millisecond))
	mu.Lock()
	fail = false
	mu.Unlock()
	m.outbox.deliver(ctx, t0.Add(200*time.Millisecond)) // resolved is due, but waits behind firing
	m.outbox.deliver(ctx, t0.Add(2*time.Second))
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "firing" || got[1] != "resolved" {
		t.Errorf("delivered %v, want [firing resolved]", got)
	}
}
