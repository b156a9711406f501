package sessions

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

var t0 = time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)

func TestSession_ValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		s    Session
		want string
	}{
		{Session{Site: "s", Room: "r", Title: "x", Start: t0, End: t0.Add(-time.Minute)}, "end: must be after start"},
		{Session{Site: "s", Room: "r", Title: "x", End: t0}, "start: missing; want an RFC 3339 time, e.g. 2026-11-24T09:00:00+07:00"},
		{Session{Site: "s", Room: "r", Title: "", Start: t0, End: t0.Add(time.Hour)}, "title: want 1 to 200 characters"},
		{Session{Site: "s", Room: "r", Title: "x", Start: t0, End: t0.Add(48 * time.Hour)}, "end: the session lasts 48h0m0s; at most 24h0m0s"},
		{Session{Site: "s s", Room: "r", Title: "x", Start: t0, End: t0.Add(time.Hour)}, `site "s s" is not a valid name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`},
	} {
		if err := tc.s.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("Validate(%+v) = %v, want %s", tc.s, err, tc.want)
		}
	}
}

func TestStore_PersistsListsAndReplacesFeeds(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.Put(Session{Site: "s", Room: "r", Title: "a", Start: t0, End: t0.Add(time.Hour), Source: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ReplaceSource("feed:x", []Session{
		{ID: "x1", Site: "s", Room: "r", Title: "weekly", Start: t0.Add(24 * time.Hour), End: t0.Add(25 * time.Hour)},
		{ID: "x2", Site: "s", Room: "r", Title: "weekly", Start: t0.Add(48 * time.Hour), End: t0.Add(49 * time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.ReplaceSource("feed:x", []Session{{ID: "x2", Site: "s", Room: "r", Title: "weekly", Start: t0.Add(48 * time.Hour), End: t0.Add(49 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all := st.List(Filter{})
	if len(all) != 2 || all[0].ID != a.ID || all[1].ID != "x2" || all[1].Source != "feed:x" {
		t.Fatalf("after reopen: %+v", all)
	}
	if got := st.List(Filter{From: t0.Add(2 * time.Hour)}); len(got) != 1 || got[0].ID != "x2" {
		t.Errorf("from filter: %+v", got)
	}
	if got := st.List(Filter{To: t0.Add(30 * time.Minute), Room: "r"}); len(got) != 1 || got[0].ID != a.ID {
		t.Errorf("to filter: %+v", got)
	}
	if err := st.Delete("nope"); err != ErrNotFound {
		t.Errorf("delete unknown: %v", err)
	}
}

func TestStore_ConcurrentPutsAreAllKeptAndABadOneFailsAlone(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sess := Session{ID: fmt.Sprintf("id%03d", i), Site: "s", Room: fmt.Sprintf("r%03d", i), Title: "x", Start: t0, End: t0.Add(time.Hour), Source: "api"}
			if i%50 == 7 {
				sess.ID = strings.Repeat("k", bolt.MaxKeySize+1) + sess.ID
			}
			_, errs[i] = st.Put(sess)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if bad := i%50 == 7; bad != (err != nil) || bad && !errors.Is(err, bolterrors.ErrKeyTooLarge) {
			t.Errorf("put %d: %v", i, err)
		}
	}
	if got := len(st.List(Filter{})); got != n-4 {
		t.Errorf("%d sessions listed, want %d", got, n-4)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := len(st.List(Filter{})); got != n-4 {
		t.Errorf("%d sessions after reopening, want %d", got, n-4)
	}
}
