package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent"
	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/spool"
	"github.com/siaprapat/siaprapat/internal/testenv"
)

// smallDisk mounts a tmpfs of size bytes at a new directory for the test.
// It needs root: without it the test skips outside CI and fails in CI.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(size), "tmpfs", dir).Run(); err != nil {
		msg := fmt.Sprintf("mount a small tmpfs for a full disk: %v (needs root)", err)
		if testenv.InCI() {
			t.Fatal(msg + ": this integration test must run in CI")
		}
		t.Skip(msg + ": skipping outside CI")
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file in dir until the file system is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return path
		}
	}
}

// rssKiB reads a process's resident set from /proc.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

// TestFault_DiskFullBoundsMemoryAndLosesNothing: the controller's data
// directory fills up while 100 agents report every second. Its memory stays
// bounded, its writes back off with a few log lines, the rooms are served
// all the while; once space is freed every report the agents made is in
// the history exactly once (their spools kept what was not acknowledged).
func TestFault_DiskFullBoundsMemoryAndLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute-long fault test; not in -short")
	}
	dataDir := smallDisk(t, 48<<20)
	_, ctlBin := binaries(t)
	httpAddr, mqttAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	ctl := start(t, ctlBin, "serve", "--http", httpAddr, "--mqtt-listen", mqttAddr, "--data", dataDir,
		"--standard", "testdata/lenient.yaml", "--log-level", "warn")
	waitHTTP(t, httpAddr)

	const rooms = 100
	made := &madeReports{ids: map[string][]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	var agents sync.WaitGroup
	t.Cleanup(func() { cancel(); agents.Wait() })
	for i := range rooms {
		room := fmt.Sprintf("r%03d", i)
		cfg := agent.Config{
			Link:     link.Options{Broker: "mqtt://" + mqttAddr, Site: "fault", Room: room, KeepAlive: 5 * time.Second},
			Interval: time.Second,
			Runner:   hostRunner(t, "fault", room),
			DataDir:  t.TempDir(),
			Spool:    spool.Limits{MaxReports: 10000, MaxBytes: 64 << 20, ResendAfter: 5 * time.Second},
			Log:      slog.New(roomLog{made, room}),
		}
		agents.Add(1)
		go func() {
			defer agents.Done()
			if err := agent.Run(ctx, cfg); err != nil {
				t.Errorf("agent %s: %v", room, err)
			}
		}()
	}
	time.Sleep(5 * time.Second)
	before := rssKiB(t, ctl.cmd.Process.Pid)
	logBefore := strings.Count(ctl.out.String(), "\n")
	filler := fill(t, dataDir)
	t.Logf("disk full; controller RSS %d KiB", before)

	most, served, historyServed, waitingSaid := before, 0, 0, false
	const full = 45 * time.Second
	for deadline := time.Now().Add(full); time.Now().Before(deadline); time.Sleep(time.Second) {
		most = max(most, rssKiB(t, ctl.cmd.Process.Pid))
		if resp, err := http.Get("http://" + httpAddr + "/api/v1/rooms"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				served++
			}
		}
		// The history serves what is written, and says how much waits.
		if resp, err := http.Get("http://" + httpAddr + "/api/v1/rooms/fault/r000/reports"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				historyServed++
			}
			waitingSaid = waitingSaid || strings.Contains(string(body), `"waiting":`)
		}
	}
	lines := strings.Split(ctl.out.String(), "\n")[logBefore:]
	errLines := 0
	for _, l := range lines {
		if strings.Contains(l, "level=ERROR") {
			errLines++
		}
	}
	_, n := made.snapshot()
	mfs, text := scrapeText2(t, httpAddr)
	t.Logf("%v of a full disk: %d reports made so far, controller RSS %d KiB at most (%+d KiB), %d error log lines, rooms served %d of %d times, %s",
		full, n, most, most-before, errLines, served, int(full/time.Second), mfs)
	if most-before > 96<<10 {
		t.Errorf("controller RSS grew by %d KiB on a full disk, want a bounded backlog", most-before)
	}
	if errLines > 12 {
		t.Errorf("%d error lines in %v of a full disk, want a few:\n%s", errLines, full, strings.Join(lines, "\n"))
	}
	if served < int(full/time.Second)-2 {
		t.Errorf("rooms served %d of %d times on a full disk", served, int(full/time.Second))
	}
	if historyServed < int(full/time.Second)-2 || !waitingSaid {
		t.Errorf("a room's history served %d of %d times on a full disk (it answered 500 before), saying what waits: %v", historyServed, int(full/time.Second), waitingSaid)
	}
	if !strings.Contains(text, "siaprapat_store_write_errors_total") {
		t.Error("no write errors counted")
	}

	os.Remove(filler)
	t.Log("space freed")
	time.Sleep(3 * time.Second)
	want, n := made.snapshot()
	deadline := time.Now().Add(90 * time.Second)
	for room, ids := range want {
		for {
			got := map[string]int{}
			for _, id := range historyIDs(t, httpAddr, room) {
				got[id]++
			}
			var missing, twice int
			for _, id := range ids {
				if got[id] == 0 {
					missing++
				}
			}
			for _, c := range got {
				if c > 1 {
					twice++
				}
			}
			if twice > 0 {
				t.Fatalf("room %s: %d reports stored twice", room, twice)
			}
			if missing == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("room %s: %d of %d reports made before the disk was freed are not in the history", room, missing, len(ids))
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	t.Logf("all %d reports made until the disk was freed are in the history, once each", n)
}

// scrapeText2 returns the store-error and history-error counters, and the
// whole exposition.
func scrapeText2(t *testing.T, httpAddr string) (string, string) {
	t.Helper()
	text := scrapeText(httpAddr)
	var picked []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "siaprapat_store_write_errors_total") || strings.HasPrefix(l, "siaprapat_history_record_errors_total") ||
			strings.HasPrefix(l, "siaprapat_history_pending_bytes") {
			picked = append(picked, l)
		}
	}
	return strings.Join(picked, ", "), text
}
