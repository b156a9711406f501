package config

import (
	"flag"
	"strings"
	"testing"
	"time"
)

// FuzzApplyBytes feeds the configuration loader anything, over a flag set
// of every kind a program here has: it never panics, and an error names
// the file.
func FuzzApplyBytes(f *testing.F) {
	for _, seed := range []string{
		"data: /var/lib/siaprapat\nmax-rooms: 10\nalertmanager: [http://am:9093]\nlead-times: 1h,15m\n",
		"verbose: true\ninterval: 60s\n# a comment\n",
		"alertmanager: http://one\n",
		"max-rooms: [1, 2]\n",
		"? complex\n: key\n",
		"data: &a x\nlead-times: *a\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.String("data", "", "")
		fs.Int("max-rooms", 1, "")
		fs.Bool("verbose", false, "")
		fs.Duration("interval", time.Second, "")
		fs.String("lead-times", "", "")
		fs.Var(&list{}, "alertmanager", "")
		fs.String("password", "", "")
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		_, err := ApplyBytes(fs, "fuzz.yaml", data, Options{Command: "test", Env: map[string][]string{"password": {"FUZZ_PASSWORD_UNSET"}}})
		if err != nil && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Errorf("error does not name the file: %v", err)
		}
	})
}

// list is a repeatable flag, as the programs' cli.List.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }
