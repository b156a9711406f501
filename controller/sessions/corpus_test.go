package sessions

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/internal/testenv"
)

var updateCorpus = flag.Bool("update", false, "rewrite testdata/corpus/*.want from the oracle (python3-icalendar)")

type corpusFile struct {
	name, writer string
	now          time.Time
	zone         *time.Location
}

func (c corpusFile) window() (from, to time.Time) {
	return c.now.Add(-FeedLookback), c.now.Add(DefaultFeedHorizon)
}

func readCorpus(t testing.TB) []corpusFile {
	t.Helper()
	f, err := os.Open("testdata/corpus/corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusFile
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		now, err := time.Parse(time.RFC3339, fields[2])
		if err != nil {
			t.Fatal(err)
		}
		zone, err := time.LoadLocation(fields[3])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, corpusFile{fields[0], fields[1], now, zone})
	}
	return out
}

// wantLines reads FILE.want: the oracle's sessions, comments left out.
func wantLines(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/corpus", strings.TrimSuffix(name, ".ics")+".want"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestCorpus_SessionsMatchTheOracle reads each corpus file as a poll would
// and compares its sessions with the oracle's.
func TestCorpus_SessionsMatchTheOracle(t *testing.T) {
	for _, c := range readCorpus(t) {
		t.Run(c.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/corpus", c.name))
			if err != nil {
				t.Fatal(err)
			}
			from, to := c.window()
			x, err := Expand(context.Background(), bytes.NewReader(data), "s", "r", "calendar:s/r", c.zone, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if len(x.Skipped) > 0 {
				t.Errorf("skipped %v", x.Skipped)
			}
			var got []string
			for _, s := range x.Sessions {
				got = append(got, s.Start.UTC().Format(time.RFC3339)+" "+s.End.UTC().Format(time.RFC3339)+" "+s.Title)
			}
			want := wantLines(t, c.name)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got:\n%s\nwant (the oracle):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			t.Logf("| %s | %s | %d | %d |", c.name, strings.ReplaceAll(c.writer, "-", " "), len(want), len(got))
		})
	}
}

// oraclePython finds a python3 that has icalendar and recurring_ical_events
// (Debian's python3-icalendar and python3-recurring-ical-events): the
// system's first, as another python3 may come first on PATH.
func oraclePython(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", "import icalendar, recurring_ical_events").Run() == nil {
			return p
		}
	}
	msg := "no python3 with icalendar and recurring_ical_events (Debian packages python3-icalendar and python3-recurring-ical-events; .ci/run installs them)"
	if testenv.InCI() {
		t.Fatal(msg + ": this integration test must run in CI")
	}
	t.Skip(msg + ": skipping outside CI")
	return ""
}

// TestCorpus_OracleStillSaysWhatWantSays runs the oracle, an independent
// reader (python icalendar with recurring_ical_events), over each corpus
// file: it must find what FILE.want holds. With -update it writes FILE.want.
func TestCorpus_OracleStillSaysWhatWantSays(t *testing.T) {
	python := oraclePython(t)
	for _, c := range readCorpus(t) {
		t.Run(c.name, func(t *testing.T) {
			from, to := c.window()
			args := []string{"testdata/corpus/oracle.py", filepath.Join("testdata/corpus", c.name),
				from.Format(time.RFC3339), to.Format(time.RFC3339), c.zone.String()}
			var stderr bytes.Buffer
			cmd := exec.Command(python, args...)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", python, strings.Join(args, " "), err, stderr.String())
			}
			got := strings.Split(strings.TrimSpace(string(out)), "\n")
			if *updateCorpus {
				header := fmt.Sprintf("# The sessions of %s, by the oracle:\n# python3 %s\n", c.name, strings.Join(args, " "))
				path := filepath.Join("testdata/corpus", strings.TrimSuffix(c.name, ".ics")+".want")
				if err := os.WriteFile(path, []byte(header+strings.TrimSpace(string(out))+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := wantLines(t, c.name); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("the oracle now says:\n%s\nFILE.want says:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
