package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/spool"
	"github.com/siaprapat/siaprapat/wire"
)

// TestRun_DamagedSpoolIsRefusedThenRepaired: a spool.db that is empty (a
// crash or a full disk at the wrong moment) is not taken for a new spool:
// run refuses to start, naming the file and --repair, and changes nothing;
// with --repair it moves the file aside, starts with an empty spool, and
// its reports count the repair (host spool_repairs).
func TestRun_DamagedSpoolIsRefusedThenRepaired(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "spool.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// No broker listens there: reports stay in the spool, where the test reads them.
	args := []string{"--site", "kalbar", "--room", "aula", "--broker", "tcp://127.0.0.1:1", "--data", dir,
		"--only", "host", "--interval", "100ms", "--log-level", "warn"}

	var stderr bytes.Buffer
	code := runDaemon(context.Background(), args, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), path+" is damaged: it is empty") || !strings.Contains(stderr.String(), "--repair") {
		t.Fatalf("damaged spool: exit %d, stderr %q; want a refusal naming %s and --repair", code, stderr.String(), path)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("the refusal changed the file: %v, %v", fi, err)
	}

	stderr.Reset()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if code := runDaemon(ctx, append(args, "--repair"), &stderr); code != 0 {
		t.Fatalf("--repair: exit %d, stderr %q", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "moved a damaged spool aside") {
		t.Errorf("--repair logged %q; want the move said", stderr.String())
	}
	aside, _ := filepath.Glob(path + ".damaged-*")
	if len(aside) != 1 {
		t.Fatalf("moved aside: %v; want one spool.db.damaged-TIME", aside)
	}

	sp, err := spool.Open(dir, spool.DefaultLimits)
	if err != nil {
		t.Fatalf("the new spool: %v", err)
	}
	defer sp.Close()
	var repairs []float64
	_, _ = sp.Drain(context.Background(), func(payload []byte) error {
		rep, err := wire.Decode(payload)
		if err != nil {
			return err
		}
		for _, c := range rep.Checks {
			if v, ok := c.Measurements["spool_repairs"]; ok && c.Check == wire.CheckHost {
				repairs = append(repairs, v)
			}
		}
		return nil
	})
	if len(repairs) == 0 || repairs[0] != 1 {
		t.Errorf("reports after the repair say spool_repairs %v; want 1 in each", repairs)
	}
}
