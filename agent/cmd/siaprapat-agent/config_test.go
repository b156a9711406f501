package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/siaprapat/siaprapat/internal/config"
)

const enrolled = `site: demo
room: room-1
broker: mqtt://127.0.0.1:1883
username: demo/room-1
password: secret
interval: 30s
only: host
`

func TestRun_ConfigFileAndFlags(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "agent.yaml", enrolled)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"the file", nil, 0, "configuration ok: room demo/room-1, broker mqtt://127.0.0.1:1883 as demo/room-1, every 30s, checks host,"},
		{"a flag overrides it", []string{"--interval", "5s", "--only", "host,peripherals"}, 0, "every 5s, checks host,peripherals,"},
		{"an error names the file's line", []string{"--keepalive", "500ms"}, 2, "--keepalive 500ms: want 1s to 18h12m15s\n"},
		{"... when the file set the flag", []string{"--only", "hots"}, 2, "--only: unknown check \"hots\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCmd(t, append([]string{"run", "--config", cfg, "--check-config"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want %d and %q in\n%s", code, tc.code, tc.want, errOut)
			}
		})
	}
	bad := writeFile(t, t.TempDir(), "agent.yaml", enrolled+"interval: 0s\n")
	code, _, errOut := runCmd(t, "run", "--config", bad, "--check-config")
	if code != 2 || !strings.Contains(errOut, "agent.yaml:8: field interval: given twice (first on line 6)") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
	zero := writeFile(t, t.TempDir(), "agent.yaml", strings.Replace(enrolled, "30s", "0s", 1))
	code, _, errOut = runCmd(t, "run", "--config", zero, "--check-config")
	if code != 2 || !strings.HasSuffix(errOut, "--interval 0s: must be positive (set in "+zero+":6)\n") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}

func TestRun_EnvironmentOverridesTheFilesPassword(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "agent.yaml", strings.Replace(enrolled, "password: secret\n", "", 1))
	code, _, errOut := runCmd(t, "run", "--config", cfg, "--check-config")
	if code != 0 || !strings.Contains(errOut, "(no password: set password or SIAPRAPAT_MQTT_PASSWORD)") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
	t.Setenv("SIAPRAPAT_MQTT_PASSWORD", "from-env")
	code, _, errOut = runCmd(t, "run", "--config", cfg, "--check-config")
	if code != 0 || strings.Contains(errOut, "no password") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}

func TestRun_PackagedSampleWantsEnrolment(t *testing.T) {
	code, _, errOut := runCmd(t, "run", "--config", sampleConfig, "--check-config")
	want := "siaprapat-agent: " + sampleConfig + " names no site and room: enrol this room first (siaprapat-agent enroll)\n"
	if code != 2 || errOut != want {
		t.Errorf("exit %d\n%s\nwant %s", code, errOut, want)
	}
}

// TestSampleConfig_EveryKeyIsAFlag keeps the packaged sample honest: each
// key it shows, commented out or not, is a flag of run, with a valid value.
func TestSampleConfig_EveryKeyIsAFlag(t *testing.T) {
	data, err := os.ReadFile(sampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	uncommented := uncommentKeys(string(data))
	if strings.Count(uncommented, "\n") < 15 {
		t.Fatalf("only %d keys in the sample:\n%s", strings.Count(uncommented, "\n"), uncommented)
	}
	rf := newRunFlags(io.Discard)
	if _, err := config.ApplyBytes(rf.fs, "agent.yaml", []byte(uncommented), runOptions()); err != nil {
		t.Errorf("%v\nin\n%s", err, uncommented)
	}
}

var keyLine = regexp.MustCompile(`^(?:# )?([a-z][a-z0-9-]*): (\S.*?)(?:\s+#.*)?$`)

// uncommentKeys returns the "key: value" lines of a sample configuration,
// "# key: value" ones included.
func uncommentKeys(sample string) string {
	var b strings.Builder
	for _, l := range strings.Split(sample, "\n") {
		if m := keyLine.FindStringSubmatch(l); m != nil {
			b.WriteString(m[1] + ": " + m[2] + "\n")
		}
	}
	return b.String()
}

func TestCheck_TakesTheAgentsConfigFile(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "agent.yaml", enrolled+"keepalive: 10s\n")
	code, out, errOut := runCmd(t, "check", "--config", cfg, "--json", "--standard", filepath.Join("..", "..", "..", "e2e", "testdata", "lenient.yaml"))
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var rep struct {
		Site, Room string
		Checks     []struct{ Check string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Site != "demo" || rep.Room != "room-1" || len(rep.Checks) != 1 || rep.Checks[0].Check != "host" {
		t.Errorf("report %+v: want demo/room-1 with the host check only, as the file says", rep)
	}
	json := writeFile(t, t.TempDir(), "agent.yaml", enrolled+"json: true\n")
	if code, _, errOut := runCmd(t, "check", "--config", json); code != 2 || !strings.Contains(errOut, "field json: set only on the command line") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}

func TestService_SaysWhereItBelongs(t *testing.T) {
	if code, _, errOut := runCmd(t, "service", "install"); code != 2 || !strings.Contains(errOut, "Windows only") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}
