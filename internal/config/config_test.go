package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/internal/cli"
)

type testFlags struct {
	fs       *flag.FlagSet
	site     *string
	room     *string
	broker   *string
	password *string
	interval *time.Duration
	verbose  *bool
	retries  *int
	devices  cli.List
}

func newTestFlags() *testFlags {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	t := &testFlags{
		fs:       fs,
		site:     fs.String("site", "", ""),
		room:     fs.String("room", "", ""),
		broker:   fs.String("broker", "mqtt://127.0.0.1:1883", ""),
		password: fs.String("password", "", ""),
		interval: fs.Duration("interval", time.Minute, ""),
		verbose:  fs.Bool("verbose", false, ""),
		retries:  fs.Int("retries", 1, ""),
	}
	fs.String("config", "", "")
	fs.Var(&t.devices, "device", "")
	return t
}

var testOptions = Options{
	Command: "siaprapat-test run",
	Skip:    []string{"config"},
	Others:  []string{"username"},
	Env:     map[string][]string{"password": {"SIAPRAPAT_TEST_PASSWORD"}},
}

func apply(t *testing.T, tf *testFlags, args []string, file string) (*File, error) {
	t.Helper()
	if err := tf.fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Resolve(tf.fs, file, testOptions)
}

func TestApply_FileSetsEveryKindOfFlag(t *testing.T) {
	tf := newTestFlags()
	f, err := apply(t, tf, nil, "testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if *tf.site != "kalbar" || *tf.room != "pontianak-r1" || *tf.interval != 90*time.Second || !*tf.verbose || *tf.retries != 4 ||
		!slices.Equal(tf.devices, cli.List{"/dev/video0", "/dev/video2"}) {
		t.Errorf("got site %q room %q interval %v verbose %v retries %d devices %v", *tf.site, *tf.room, *tf.interval, *tf.verbose, *tf.retries, tf.devices)
	}
	if *tf.broker != "mqtt://127.0.0.1:1883" {
		t.Errorf("a commented-out key changed the default: broker %q", *tf.broker)
	}
	if f.Settings() != 6 || f.Line("interval") != 4 || f.Line("broker") != 0 {
		t.Errorf("settings %d, interval on line %d, broker on line %d", f.Settings(), f.Line("interval"), f.Line("broker"))
	}
}

func TestApply_FlagsOverrideTheFile(t *testing.T) {
	tf := newTestFlags()
	f, err := apply(t, tf, []string{"--interval", "5s", "--device", "/dev/video9"}, "testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if *tf.interval != 5*time.Second || !slices.Equal(tf.devices, cli.List{"/dev/video9"}) {
		t.Errorf("interval %v devices %v: want the command line's 5s and [/dev/video9]", *tf.interval, tf.devices)
	}
	if f.Line("interval") != 0 {
		t.Error("the file is said to have set a flag the command line set")
	}
}

func TestApply_EnvironmentOverridesTheFile(t *testing.T) {
	t.Setenv("SIAPRAPAT_TEST_PASSWORD", "from-env")
	tf := newTestFlags()
	if _, err := ApplyBytes(tf.fs, "x.yaml", []byte("password: from-file\n"), testOptions); err != nil {
		t.Fatal(err)
	}
	if *tf.password != "" {
		t.Errorf("password %q: the file must leave it to the environment variable", *tf.password)
	}
	t.Setenv("SIAPRAPAT_TEST_PASSWORD", "")
	tf = newTestFlags()
	if _, err := ApplyBytes(tf.fs, "x.yaml", []byte("password: from-file\n"), testOptions); err != nil {
		t.Fatal(err)
	}
	if *tf.password != "from-file" {
		t.Errorf("password %q, want the file's when the variable is empty", *tf.password)
	}
}

func TestApply_CommentsOnlyIsEmpty(t *testing.T) {
	tf := newTestFlags()
	f, err := apply(t, tf, nil, "testdata/comments-only.yaml")
	if err != nil || f.Settings() != 0 {
		t.Fatalf("err %v, settings %d", err, f.Settings())
	}
}

func TestApply_OtherCommandsKeysAreAccepted(t *testing.T) {
	tf := newTestFlags()
	f, err := ApplyBytes(tf.fs, "x.yaml", []byte("username: kalbar/r1\nsite: kalbar\n"), testOptions)
	if err != nil {
		t.Fatal(err)
	}
	if f.Other("username") != "kalbar/r1" || f.Settings() != 1 {
		t.Errorf("username %q, %d settings", f.Other("username"), f.Settings())
	}
}

func TestApply_InvalidFiles(t *testing.T) {
	want := map[string]string{
		"invalid-unknown-field.yaml":      `testdata/invalid-unknown-field.yaml:2: unknown field "intervl": siaprapat-test run has no flag --intervl`,
		"invalid-duration.yaml":           `testdata/invalid-duration.yaml:2: field interval: "60" is not a duration (write e.g. 90s, 15m or 1h30m)`,
		"invalid-twice.yaml":              `testdata/invalid-twice.yaml:2: field site: given twice (first on line 1)`,
		"invalid-list-for-one-value.yaml": `testdata/invalid-list-for-one-value.yaml:1: field site: takes one value, not a list`,
		"invalid-no-value.yaml":           `testdata/invalid-no-value.yaml:1: field site: no value (remove the line, or comment it out, to keep the default)`,
		"invalid-skipped.yaml":            `testdata/invalid-skipped.yaml:1: field config: set only on the command line`,
		"invalid-bool.yaml":               `testdata/invalid-bool.yaml:1: field verbose: "maybe" is not true or false`,
		"invalid-int.yaml":                `testdata/invalid-int.yaml:1: field retries: "3.5" is not a whole number`,
		"invalid-syntax.yaml":             `testdata/invalid-syntax.yaml:2: mapping values are not allowed in this context`,
		"invalid-not-a-mapping.yaml":      `testdata/invalid-not-a-mapping.yaml:1: want flag names and their values (key: value), not a list`,
		"invalid-mapping-value.yaml":      `testdata/invalid-mapping-value.yaml:1: field device: want a value, not a mapping`,
	}
	files, _ := filepath.Glob("testdata/invalid-*.yaml")
	if len(files) != len(want) {
		t.Errorf("%d invalid files, %d expected messages", len(files), len(want))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, err := apply(t, newTestFlags(), nil, file)
			if err == nil {
				t.Fatal("accepted")
			}
			if got := err.Error(); got != want[filepath.Base(file)] {
				t.Errorf("got  %s\nwant %s", got, want[filepath.Base(file)])
			}
		})
	}
}

func TestApply_EveryErrorIsReported(t *testing.T) {
	_, err := ApplyBytes(newTestFlags().fs, "a.yaml", []byte("sit: x\ninterval: 1\n"), testOptions)
	if err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Fatalf("want two lines, got %v", err)
	}
}

func TestFile_AnnotateNamesWhereTheFileSetAFlag(t *testing.T) {
	tf := newTestFlags()
	f, err := apply(t, tf, nil, "testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := f.Annotate(errors.New("--interval 90s: too long")).Error()
	if got != "--interval 90s: too long (set in testdata/valid.yaml:4)" {
		t.Errorf("got %q", got)
	}
	if got := f.Annotate(errors.New("--broker: bad")).Error(); got != "--broker: bad" {
		t.Errorf("a flag the file did not set: %q", got)
	}
	var none *File
	if got := none.Annotate(errors.New("x")).Error(); got != "x" {
		t.Errorf("no file: %q", got)
	}
}

func TestResolve_Precedence(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		env        string
		file       string
		want       string
		wantLine   int
		wantDevice cli.List
	}{
		{"default", nil, "", "", "", 0, nil},
		{"file over default", nil, "", "password: file\n", "file", 1, nil},
		{"environment over default", nil, "env", "", "env", 0, nil},
		{"environment over file", nil, "env", "password: file\n", "env", 0, nil},
		{"flag over environment and file", []string{"--password", "flag"}, "env", "password: file\n", "flag", 0, nil},
		{"flag over file", []string{"--password", "flag"}, "", "password: file\n", "flag", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SIAPRAPAT_TEST_PASSWORD", tc.env)
			tf := newTestFlags()
			if err := tf.fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			path := ""
			if tc.file != "" {
				path = filepath.Join(t.TempDir(), "test.yaml")
				writeTestFile(t, path, tc.file)
			}
			f, err := Resolve(tf.fs, path, testOptions)
			if err != nil {
				t.Fatal(err)
			}
			if *tf.password != tc.want {
				t.Errorf("password %q, want %q", *tf.password, tc.want)
			}
			if f.Line("password") != tc.wantLine {
				t.Errorf("the file is said to set password on line %d, want %d", f.Line("password"), tc.wantLine)
			}
		})
	}
}

func TestResolve_WithoutAFileIsNil(t *testing.T) {
	t.Setenv("SIAPRAPAT_TEST_PASSWORD", "env")
	tf := newTestFlags()
	f, err := Resolve(tf.fs, "", testOptions)
	if err != nil || f != nil || *tf.password != "env" {
		t.Errorf("file %v, err %v, password %q", f, err, *tf.password)
	}
	if f.Line("password") != 0 || f.Annotate(errors.New("x")).Error() != "x" {
		t.Error("a nil File must answer as an empty one")
	}
}

func TestResolve_FirstVariableWins(t *testing.T) {
	opts := Options{Command: "siaprapat-test run", Env: map[string][]string{"broker": {"SIAPRAPAT_TEST_A", "SIAPRAPAT_TEST_B"}}}
	for _, tc := range []struct{ a, b, want string }{
		{"", "", "mqtt://127.0.0.1:1883"},
		{"", "mqtt://b:1883", "mqtt://b:1883"},
		{"mqtt://a:1883", "mqtt://b:1883", "mqtt://a:1883"},
	} {
		t.Setenv("SIAPRAPAT_TEST_A", tc.a)
		t.Setenv("SIAPRAPAT_TEST_B", tc.b)
		tf := newTestFlags()
		if _, err := Resolve(tf.fs, "", opts); err != nil || *tf.broker != tc.want {
			t.Errorf("A=%q B=%q: broker %q (err %v), want %q", tc.a, tc.b, *tf.broker, err, tc.want)
		}
	}
}

func TestResolve_BadVariableIsNamed(t *testing.T) {
	t.Setenv("SIAPRAPAT_TEST_INTERVAL", "soon")
	tf := newTestFlags()
	_, err := Resolve(tf.fs, "", Options{Command: "siaprapat-test run", Env: map[string][]string{"interval": {"SIAPRAPAT_TEST_INTERVAL"}}})
	want := `SIAPRAPAT_TEST_INTERVAL (for --interval): "soon" is not a duration (write e.g. 90s, 15m or 1h30m)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestResolve_SecretFromEnvironmentOrFile(t *testing.T) {
	for _, tc := range []struct{ env, file, want string }{
		{"", "", ""},
		{"", "token: file\n", "file"},
		{"env", "token: file\n", "env"},
	} {
		t.Setenv("SIAPRAPAT_TEST_TOKEN", tc.env)
		var token string
		opts := Options{Command: "siaprapat-test run", Env: map[string][]string{"token": {"SIAPRAPAT_TEST_TOKEN"}},
			Secrets: []Secret{{Key: "token", Value: &token}}}
		path := filepath.Join(t.TempDir(), "test.yaml")
		writeTestFile(t, path, "site: x\n"+tc.file)
		if _, err := Resolve(newTestFlags().fs, path, opts); err != nil || token != tc.want {
			t.Errorf("env %q file %q: token %q (err %v), want %q", tc.env, tc.file, token, err, tc.want)
		}
	}
}

func TestOptions_CheckNamesUndeclaredKeys(t *testing.T) {
	opts := Options{Command: "siaprapat-test run", Env: map[string][]string{"pasword": {"SIAPRAPAT_TEST_PASSWORD"}},
		Secrets: []Secret{{Key: "site"}}}
	err := opts.Check(newTestFlags().fs)
	want := "siaprapat-test run: variables SIAPRAPAT_TEST_PASSWORD are declared for \"pasword\", which is neither a flag nor a secret\nsiaprapat-test run: secret \"site\" is also a flag"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if _, err := Resolve(newTestFlags().fs, "", opts); err == nil {
		t.Error("Resolve took a declaration Check refuses")
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
