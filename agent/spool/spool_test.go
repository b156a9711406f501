package spool

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

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
		if _, err := s.Put([]byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	down := errors.New("broker gone")
	sent, err := s.Drain(context.Background(), func(p []byte) error {
		if len(got) == 70 {
			return down
		}
		got = append(got, string(p))
		return nil
	})
	if sent != 70 || !errors.Is(err, down) {
		t.Fatalf("sent %d, err %v", sent, err)
	}
	if n, _ := s.Len(); n != 30 {
		t.Fatalf("%d left, want 30", n)
	}
	sent, err = s.Drain(context.Background(), func(p []byte) error { got = append(got, string(p)); return nil })
	if sent != 30 || err != nil {
		t.Fatalf("second drain: sent %d, err %v", sent, err)
	}
	for i, p := range got {
		if p != fmt.Sprint(i) {
			t.Fatalf("payload %d is %s: out of order", i, p)
		}
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
	if n, _ := s.Len(); n != 9 {
		t.Errorf("%d left, want 9", n)
	}
}
