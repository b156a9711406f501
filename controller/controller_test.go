package controller

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/controller/alerts"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/internal/boltfile"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

func testConfig(t *testing.T, dir string) Config {
	t.Helper()
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	return Config{HTTPListen: "127.0.0.1:0", MQTTListen: "127.0.0.1:0", DataDir: dir, Standard: std,
		Webhooks: []string{"http://127.0.0.1:9/hook"}}
}

// pristine makes a data directory whose every store holds something.
func pristine(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	c, err := Start(testConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 40 {
		rep := &wire.Report{Schema: wire.Schema, ID: wire.NewID(), Site: "s", Room: "r" + string(rune('a'+i%26)), MeasuredAt: now, Verdict: wire.Ready}
		c.fleet.ApplyReport(rep, now)
		c.history.Add(rep)
	}
	sess, err := c.sessions.Put(sessions.Session{Site: "s", Room: "ra", Title: "Rapat", Start: now.Add(time.Hour), End: now.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c.sessions.SetZone("s", "ra", "Asia/Makassar")
	if _, _, err := c.agents.Add("s", "ra", now); err != nil {
		t.Fatal(err)
	}
	c.alerts.Sync(t.Context(), []alerts.Alert{alerts.For(sess, nil, nil, now)}, nil, now)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// TestStart_DamagedFilesAreRefusedNamingTheFile damages each store in
// several ways: the controller never panics, refuses a file it cannot
// trust naming it, and starts after the file is moved aside (--repair).
func TestStart_DamagedFilesAreRefusedNamingTheFile(t *testing.T) {
	base := pristine(t)
	damages := []struct {
		name   string
		damage func(data []byte) []byte
		must   bool // the damage must be refused (others may be harmless)
	}{
		{"empty", func([]byte) []byte { return nil }, true},
		{"cut in half", func(d []byte) []byte { return d[:len(d)/2] }, false}, // harmless when only free pages go
		{"cut to one page", func(d []byte) []byte { return d[:4096] }, true},
		{"garbage", func(d []byte) []byte {
			r := rand.New(rand.NewPCG(1, 2))
			for i := range d {
				d[i] = byte(r.UintN(256))
			}
			return d
		}, true},
		{"both meta pages zeroed", func(d []byte) []byte { clear(d[:8192]); return d }, true},
		{"a data page zeroed", func(d []byte) []byte { clear(d[4*4096 : 5*4096]); return d }, false},
		{"bytes flipped after the meta pages", func(d []byte) []byte {
			r := rand.New(rand.NewPCG(3, 4))
			for range 64 {
				i := 8192 + int(r.UintN(uint(len(d)-8192)))
				d[i] ^= 0xff
			}
			return d
		}, false},
	}
	for _, file := range []string{"fleet.db", "history.db", "alerts.db", "sessions.db", "agents.db"} {
		for _, dmg := range damages {
			t.Run(file+"/"+dmg.name, func(t *testing.T) {
				dir := copyDir(t, base)
				path := filepath.Join(dir, file)
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, dmg.damage(data), 0o600); err != nil {
					t.Fatal(err)
				}
				c, err := Start(testConfig(t, dir))
				if err == nil {
					c.Close()
					if dmg.must {
						t.Fatalf("started on a damaged %s", file)
					}
					t.Logf("%s %s: harmless, started", file, dmg.name)
					return
				}
				t.Logf("%s %s: refused: %v", file, dmg.name, err)
				var de *boltfile.DamagedError
				if !errors.As(err, &de) || de.Path != path {
					t.Fatalf("error %v: want a *boltfile.DamagedError naming %s", err, path)
				}
				moved, err := boltfile.MoveAside(de.Path, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				if c, err = Start(testConfig(t, dir)); err != nil {
					t.Fatalf("after moving %s aside to %s: %v", file, filepath.Base(moved), err)
				}
				c.Close()
			})
		}
	}
}
