package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/siaprapat/siaprapat/internal/config"
	"github.com/siaprapat/siaprapat/internal/config/configtest"
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

// TestFlags_EveryVariableResolvesInOrder: each variable declared for a
// command's flag loses to the flag and wins over the file.
func TestFlags_EveryVariableResolvesInOrder(t *testing.T) {
	configtest.Precedence(t, commandFlags)
}

func TestServe_Precedence(t *testing.T) {
	for _, tc := range []struct {
		name               string
		args               []string
		env                map[string]string
		file               string
		password, apiToken string
		readToken          string
		probeTokens        string
	}{
		{"defaults", nil, nil, "", "", "", "", ""},
		{"the file", nil, nil, "password: f\napi-token: fa\napi-read-token: fr\nprobe-token: [f1, f2]\n", "f", "fa", "fr", "f1,f2"},
		{"the environment over the file", nil,
			map[string]string{"SIAPRAPAT_MQTT_PASSWORD": "e", "SIAPRAPAT_API_TOKEN": "ea", "SIAPRAPAT_API_READ_TOKEN": "er", "SIAPRAPAT_PROBE_TOKEN": "e1"},
			"password: f\napi-token: fa\napi-read-token: fr\nprobe-token: [f1, f2]\n", "e", "ea", "er", "e1"},
		{"flags over the environment", []string{"--password", "p", "--api-token", "pa", "--api-read-token", "pr", "--probe-token", "p1", "--probe-token", "p2"},
			map[string]string{"SIAPRAPAT_MQTT_PASSWORD": "e", "SIAPRAPAT_API_TOKEN": "ea", "SIAPRAPAT_API_READ_TOKEN": "er", "SIAPRAPAT_PROBE_TOKEN": "e1"},
			"password: f\n", "p", "pa", "pr", "p1,p2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []string{"SIAPRAPAT_MQTT_PASSWORD", "SIAPRAPAT_API_TOKEN", "SIAPRAPAT_API_READ_TOKEN", "SIAPRAPAT_PROBE_TOKEN"} {
				t.Setenv(v, tc.env[v])
			}
			sf := newServeFlags(io.Discard)
			args := tc.args
			if tc.file != "" {
				args = append(args, "--config", writeConfig(t, tc.file))
			}
			if err := sf.fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			if _, err := config.Resolve(sf.fs, *sf.configFile, serveOptions); err != nil {
				t.Fatal(err)
			}
			got := []string{*sf.password, *sf.apiToken, *sf.apiReadToken, sf.probeTokens.String()}
			want := []string{tc.password, tc.apiToken, tc.readToken, tc.probeTokens}
			if !slices.Equal(got, want) {
				t.Errorf("password, api-token, api-read-token, probe-token: %q, want %q", got, want)
			}
		})
	}
}

// TestCLI_TokenPrecedence: check and agent send --token, else
// SIAPRAPAT_API_TOKEN (the packaged file's comes last, only where it is
// readable).
func TestCLI_TokenPrecedence(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"agents":[]}`)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"the environment", nil, "from-env", "Bearer from-env"},
		{"the flag over the environment", []string{"--token", "from-flag"}, "from-env", "Bearer from-flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SIAPRAPAT_API_TOKEN", tc.env)
			var stdout, stderr bytes.Buffer
			if code := run(append([]string{"agent", "list", "--server", srv.URL}, tc.args...), &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr.String())
			}
			if got.Load() != tc.want {
				t.Errorf("Authorization %q, want %q", got.Load(), tc.want)
			}
		})
	}
}
