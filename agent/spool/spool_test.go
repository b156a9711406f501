package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/internal/boltfile"
)

// rep is a payload with a report id, as the agent spools them.
func rep(id string) []byte { return []byte(`{"id":"` + id + `"}`) }

func idOf(p []byte) string { return strings.TrimSuffix(strings.TrimPrefix(string(p), `{"id":"`), `"}`) }

func open(t *testing.T, dir string, l Limits) *Spool {
	t.Helper()
	s, err := Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSpool_DrainsInOrderAndStopsAtFirstFailure(t *testing.T) {
	s := open(t, t.TempDir(), DefaultLimits)
	defer s.Close()
	for i := range 100 {
		if _, err := s.Put(rep(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	down := errors.New("broker gone")
	sent, err := s.Drain(context.Background(), func(p []byte) error {
		if len(got) == 70 {
			return down
		}
		got = append(got, idOf(p))
		return nil
	})
	if sent != 70 || !errors.Is(err, down) {
		t.Fatalf("sent %d, err %v", sent, err)
	}
	// Sent is not stored: every report stays until acknowledged.
	if n, _ := s.Len(); n != 100 {
		t.Fatalf("%d in the spool, want 100", n)
	}
	sent, err = s.Drain(context.Background(), func(p []byte) error { got = append(got, idOf(p)); return nil })
	if sent != 30 || err != nil {
		t.Fatalf("second drain: sent %d, err %v; want the 30 not yet sent", sent, err)
	}
	for i, p := range got {
		if p != fmt.Sprint(i) {
			t.Fatalf("payload %d is %s: out of order", i, p)
		}
	}
	var ids []string
	for i := range 95 {
		ids = append(ids, fmt.Sprint(i))
	}
	if n, err := s.Ack(append(ids, "unknown")); n != 95 || err != nil {
		t.Fatalf("ack removed %d (err %v), want 95", n, err)
	}
	if n, _ := s.Len(); n != 5 {
		t.Fatalf("%d left after the ack, want 5", n)
	}
}

func TestSpool_ResendsWhatWasNotAcknowledged(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Limits{MaxReports: 10, MaxBytes: 1 << 20, ResendAfter: 50 * time.Millisecond})
	for _, id := range []string{"a", "b", "c"} {
		s.Put(rep(id))
	}
	drain := func() string {
		var got []string
		s.Drain(context.Background(), func(p []byte) error { got = append(got, idOf(p)); return nil })
		return fmt.Sprint(got)
	}
	if got := drain(); got != "[a b c]" {
		t.Fatalf("first drain %s", got)
	}
	if got := drain(); got != "[]" {
		t.Fatalf("a drain before ResendAfter sent %s again", got)
	}
	s.Ack([]string{"b"})
	time.Sleep(60 * time.Millisecond)
	if got := drain(); got != "[a c]" {
		t.Fatalf("after ResendAfter: %s, want the unacknowledged [a c]", got)
	}
	// A restart sends the unacknowledged at once.
	s.Close()
	s = open(t, dir, Limits{MaxReports: 10, MaxBytes: 1 << 20, ResendAfter: time.Hour})
	defer s.Close()
	if got := drain(); got != "[a c]" {
		t.Fatalf("after a restart: %s, want [a c]", got)
	}
}

func TestSpool_DropsOldestPastLimits(t *testing.T) {
	s := open(t, t.TempDir(), Limits{MaxReports: 3, MaxBytes: 1 << 20})
	defer s.Close()
	dropped := 0
	for i := range 5 {
		n, err := s.Put([]byte(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		dropped += n
	}
	if dropped != 2 || s.Dropped() != 2 {
		t.Errorf("dropped %d (%d), want 2", dropped, s.Dropped())
	}
	var got []string
	s.Drain(context.Background(), func(p []byte) error { got = append(got, string(p)); return nil })
	if fmt.Sprint(got) != "[2 3 4]" {
		t.Errorf("kept %v, want the newest [2 3 4]", got)
	}

	b := open(t, t.TempDir(), Limits{MaxReports: 100, MaxBytes: 10})
	defer b.Close()
	for range 4 {
		b.Put([]byte("abcd"))
	}
	if n, size := b.Len(); n != 2 || size != 8 {
		t.Errorf("byte limit: %d payloads, %d bytes; want 2, 8", n, size)
	}
}

func TestSpool_SurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, DefaultLimits)
	s.Put([]byte("a"))
	s.Put([]byte("bb"))
	s.Close() // as after a crash: nothing but the file remains

	s = open(t, dir, DefaultLimits)
	defer s.Close()
	if n, size := s.Len(); n != 2 || size != 3 {
		t.Fatalf("after reopen: %d payloads, %d bytes", n, size)
	}
	s.Put([]byte("c"))
	var got []string
	s.Drain(context.Background(), func(p []byte) error { got = append(got, string(p)); return nil })
	if fmt.Sprint(got) != "[a bb c]" {
		t.Errorf("got %v", got)
	}
}

func TestOpen_LockedSpoolSaysSo(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, DefaultLimits)
	defer s.Close()
	_, err := Open(dir, DefaultLimits)
	want := "open spool " + dir + "/spool.db: it is locked by another process (is another agent using this --data directory?)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v", err)
	}
}

func TestSpool_DrainStopsWhenContextEnds(t *testing.T) {
	s := open(t, t.TempDir(), DefaultLimits)
	defer s.Close()
	for range 10 {
		s.Put([]byte("x"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	sent, err := s.Drain(ctx, func([]byte) error {
		cancel() // e.g. SIGTERM while a long backlog drains
		return nil
	})
	if sent != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("sent %d, err %v; want 1 and context.Canceled", sent, err)
	}
	var rest int
	s.Drain(context.Background(), func([]byte) error { rest++; return nil })
	if rest != 9 {
		t.Errorf("%d sent by the next drain, want the other 9", rest)
	}
}

// TestOpen_DamagedSpoolIsNamedOnce: a spool with a damaged page in the
// middle (found when the spool is loaded, not when bbolt opens it) is refused with a
// message naming the file once; it read "open spool : spool PATH is
// damaged", the path lost to the closed database.
func TestOpen_DamagedSpoolIsNamedOnce(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, DefaultLimits)
	for i := range 500 {
		if _, err := s.Put([]byte(fmt.Sprintf(`{"id":"%d","pad":"%0512d"}`, i, i))); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	path := filepath.Join(dir, "spool.db")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(data) / 2; i < len(data)/2+4096; i++ {
		data[i] = byte(i*7 + 3) // garbage over a page in the middle
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, DefaultLimits)
	var de *boltfile.DamagedError
	if !errors.As(err, &de) || !strings.HasPrefix(err.Error(), "spool "+path+" is damaged: ") {
		t.Fatalf("err = %v; want a *boltfile.DamagedError beginning \"spool %s is damaged: \"", err, path)
	}
}
