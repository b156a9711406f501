package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const sampleConfig = "../../../packaging/etc/controller.yaml"

func serveCheck(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"serve", "--check-config"}, args...), &stdout, &stderr)
	return code, stderr.String()
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "controller.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServe_ConfigFile(t *testing.T) {
	cfg := writeConfig(t, "data: /var/lib/siaprapat/controller\nmax-rooms: 10\nalertmanager: [http://am1:9093, http://am2:9093]\nlead-times: 1h,15m\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"the file", nil, 0, "configuration file " + cfg + ": 4 settings\n"},
		{"a flag overrides it", []string{"--max-rooms", "0"}, 1, "siaprapat-controller: --max-rooms 0: want at least 1\n"},
		{"a file's value is checked like a flag's", []string{"--lead-times", "1h,0s"}, 1, `--lead-times "1h,0s"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, errOut := serveCheck(t, append([]string{"--config", cfg}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want %d and %q in\n%s", code, tc.code, tc.want, errOut)
			}
		})
	}
	for _, tc := range []struct{ content, want string }{
		{"max-rooms: 0\n", "siaprapat-controller: --max-rooms 0: want at least 1 (set in %s:1)\n"},
		{"max-room: 10\n", "siaprapat-controller: %s:1: unknown field \"max-room\": siaprapat-controller serve has no flag --max-room\n"},
		{"broker: mqtt://mosquitto:1883\nmqtt-listen: \":1883\"\n", "siaprapat-controller: --broker and --mqtt-listen both given: use the external broker (--broker) or the embedded one (--mqtt-listen), not both (set in %[1]s:1, %[1]s:2)\n"},
		{"check-config: true\n", "siaprapat-controller: %s:1: field check-config: set only on the command line\n"},
		{"alertmanager: [file:///etc/passwd]\n", "siaprapat-controller: --alertmanager #1 (file://): want an http or https URL with a host (set in %s:1)\n"},
		{"webhook: [http://hooks.example/ok, gopher://x/secret]\n", "siaprapat-controller: --webhook #2 (gopher://x): want an http or https URL with a host (set in %s:1)\n"},
		{"calendar-interval: 1ns\n", "siaprapat-controller: --calendar-interval 1ns: want at least 30s (a calendar server is asked once per room each interval) (set in %s:1)\n"},
		{"history-max-age: 1s\n", "siaprapat-controller: --history-max-age 1s, --history-max-per-room 1440: want at least 1h and at least 1 report (set in %s:1)\n"},
		{"history-max-bytes: 1000\n", "siaprapat-controller: --history-max-bytes 1000: want at least 16777216 (16 MiB) (set in %s:1)\n"},
	} {
		cfg := writeConfig(t, tc.content)
		code, errOut := serveCheck(t, "--config", cfg)
		if want := strings.ReplaceAll(tc.want, "%s", cfg); code != 1 || errOut != strings.ReplaceAll(want, "%[1]s", cfg) {
			t.Errorf("%q: exit %d\n%s", tc.content, code, errOut)
		}
	}
}

func TestServe_EnvironmentOverridesTheFilesToken(t *testing.T) {
	cfg := writeConfig(t, "metrics-auth: true\n")
	if code, errOut := serveCheck(t, "--config", cfg); code != 1 || !strings.Contains(errOut, "--metrics-auth needs a token") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
	t.Setenv("SIAPRAPAT_API_READ_TOKEN", "from-env")
	if code, errOut := serveCheck(t, "--config", cfg); code != 0 {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}

func TestServe_PackagedSampleIsValid(t *testing.T) {
	code, errOut := serveCheck(t, "--config", sampleConfig)
	if code != 0 || !strings.Contains(errOut, "configuration file "+sampleConfig+": 1 settings") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}

var keyLine = regexp.MustCompile(`^(?:# )?([a-z][a-z0-9-]*): (\S.*?)(?:\s+#.*)?$`)

// TestSampleConfig_EveryKeyIsAFlag keeps the packaged sample honest: each
// key it shows, commented out or not, is a flag of serve (its values name
// files that exist only on a configured server).
func TestSampleConfig_EveryKeyIsAFlag(t *testing.T) {
	data, err := os.ReadFile(sampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	run([]string{"serve", "-h"}, io.Discard, &stderr)
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		m := keyLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n++
		if !strings.Contains(stderr.String(), "  -"+m[1]+" ") && !strings.Contains(stderr.String(), "  -"+m[1]+"\n") {
			t.Errorf("the sample's key %q is not a flag of serve", m[1])
		}
	}
	if n < 10 {
		t.Errorf("only %d keys in the sample", n)
	}
}
