package config

import (
	"strings"
	"testing"
)

func TestMarkdown_ShowsEverySourceOfASetting(t *testing.T) {
	tf := newTestFlags()
	var secret string
	opts := testOptions
	opts.Secrets = []Secret{{Key: "token", Usage: "a | secret", Value: &secret}}
	opts.Env = map[string][]string{"password": {"SIAPRAPAT_TEST_PASSWORD"}, "token": {"SIAPRAPAT_TEST_TOKEN", "SIAPRAPAT_TEST_OLD_TOKEN"}}
	var b strings.Builder
	if err := Markdown(&b, []Command{{Flags: tf.fs, File: true, Options: opts}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"### `test`\n\n| flag | default | environment | file | usage |\n",
		"| `--broker` | `mqtt://127.0.0.1:1883` |  | yes |  |\n",
		"| `--config` |  |  | no |  |\n",
		"| `--device` |  |  | yes |  (repeatable) |\n",
		"| `--password` |  | `SIAPRAPAT_TEST_PASSWORD` | yes |  |\n",
		"| `token` (no flag) |  | `SIAPRAPAT_TEST_TOKEN`, `SIAPRAPAT_TEST_OLD_TOKEN` | yes | a \\| secret |\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := Markdown(&b, []Command{{Flags: newTestFlags().fs, Title: "`test` and `other`", Options: Options{Command: "test"}}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "### `test` and `other`\n\nThis command reads no configuration file.\n\n| flag | default | environment | usage |\n") {
		t.Errorf("a command without a file:\n%s", b.String())
	}
	opts.Env = map[string][]string{"passwd": {"SIAPRAPAT_TEST_PASSWORD"}}
	if err := Markdown(&b, []Command{{Flags: tf.fs, Options: opts}}); err == nil {
		t.Error("a variable for no flag was documented")
	}
}

func TestSetUsage_NamesTheVariables(t *testing.T) {
	tf := newTestFlags()
	var b strings.Builder
	tf.fs.SetOutput(&b)
	var token string
	SetUsage(tf.fs, Options{Env: map[string][]string{"password": {"SIAPRAPAT_TEST_PASSWORD"}, "token": {"SIAPRAPAT_TEST_TOKEN"}},
		Secrets: []Secret{{Key: "token", Value: &token}}})
	tf.fs.Usage()
	for _, want := range []string{"Usage of test:\n", "  -broker string\n", "  SIAPRAPAT_TEST_PASSWORD\n    \tsets --password\n", "  SIAPRAPAT_TEST_TOKEN\n    \tsets token (no flag)\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
}
