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
	"github.com/siaprapat/siaprapat/internal/config/configtest"
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

// TestFlags_EveryVariableResolvesInOrder: each variable declared for a
// command's flag or secret loses to the flag and wins over the file.
func TestFlags_EveryVariableResolvesInOrder(t *testing.T) {
	configtest.Precedence(t, commandFlags)
}

func TestRun_Precedence(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		args                         []string
		env                          map[string]string
		file                         string
		password, probeURL, probeTok string
	}{
		{"defaults", nil, nil, "", "", "", ""},
		{"the file", nil, nil, "password: f\nprobe-url: http://file:9780\nprobe-token: ft\n", "f", "http://file:9780", "ft"},
		{"the environment over the file", nil,
			map[string]string{"SIAPRAPAT_MQTT_PASSWORD": "e", "SIAPRAPAT_CONTROLLER": "http://env:9780", "SIAPRAPAT_PROBE_TOKEN": "et"},
			"password: f\nprobe-url: http://file:9780\nprobe-token: ft\n", "e", "http://env:9780", "et"},
		{"SIAPRAPAT_PROBE_URL over SIAPRAPAT_CONTROLLER", nil,
			map[string]string{"SIAPRAPAT_PROBE_URL": "http://probe:9780", "SIAPRAPAT_CONTROLLER": "http://env:9780"},
			"", "", "http://probe:9780", ""},
		{"flags over the environment", []string{"--password", "p", "--probe-url", "http://flag:9780", "--probe-token", "pt"},
			map[string]string{"SIAPRAPAT_MQTT_PASSWORD": "e", "SIAPRAPAT_PROBE_URL": "http://env:9780", "SIAPRAPAT_PROBE_TOKEN": "et"},
			"password: f\n", "p", "http://flag:9780", "pt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []string{"SIAPRAPAT_MQTT_PASSWORD", "SIAPRAPAT_PROBE_URL", "SIAPRAPAT_CONTROLLER", "SIAPRAPAT_PROBE_TOKEN"} {
				t.Setenv(v, tc.env[v])
			}
			rf := newRunFlags(io.Discard)
			args := tc.args
			if tc.file != "" {
				args = append(args, "--config", writeFile(t, t.TempDir(), "agent.yaml", tc.file))
			}
			if err := rf.fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			if _, err := config.Resolve(rf.fs, *rf.configFile, runOptions()); err != nil {
				t.Fatal(err)
			}
			if *rf.password != tc.password || *rf.cf.probeURL != tc.probeURL || *rf.cf.probeToken != tc.probeTok {
				t.Errorf("password %q, probe-url %q, probe-token %q; want %q, %q, %q",
					*rf.password, *rf.cf.probeURL, *rf.cf.probeToken, tc.password, tc.probeURL, tc.probeTok)
			}
		})
	}
}

// TestCheck_PasswordFromTheFileOrTheEnvironment: check has no --password,
// but the network probe takes the agent's secret, from the environment
// first, else from run's file.
func TestCheck_PasswordFromTheFileOrTheEnvironment(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "agent.yaml", enrolled)
	for _, tc := range []struct{ env, want string }{{"", "secret"}, {"from-env", "from-env"}} {
		t.Setenv("SIAPRAPAT_MQTT_PASSWORD", tc.env)
		kf := newCheckFlags(io.Discard)
		if err := kf.fs.Parse([]string{"--config", cfg}); err != nil {
			t.Fatal(err)
		}
		if _, err := config.Resolve(kf.fs, *kf.configFile, kf.options()); err != nil {
			t.Fatal(err)
		}
		if kf.cf.mqttPassword != tc.want {
			t.Errorf("SIAPRAPAT_MQTT_PASSWORD=%q: the probe's default token is %q, want %q", tc.env, kf.cf.mqttPassword, tc.want)
		}
	}
}

// TestEnroll_TokenVariableDoesNotClashWithEnvFile: SIAPRAPAT_API_TOKEN in
// the environment is no --token given with --env.
func TestEnroll_TokenVariableDoesNotClashWithEnvFile(t *testing.T) {
	t.Setenv("SIAPRAPAT_API_TOKEN", "admin")
	dir := t.TempDir()
	env := writeFile(t, dir, "room.env", "SIAPRAPAT_SITE=demo\nSIAPRAPAT_ROOM=room-1\nSIAPRAPAT_BROKER=mqtt://127.0.0.1:1883\nSIAPRAPAT_MQTT_USERNAME=demo/room-1\nSIAPRAPAT_MQTT_PASSWORD=secret\n")
	if code, _, errOut := runCmd(t, "enroll", "--env", env, "--config", filepath.Join(dir, "agent.yaml")); code != 0 {
		t.Errorf("exit %d\n%s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "enroll", "--env", env, "--token", "x", "--config", filepath.Join(dir, "agent.yaml")); code != 2 || !strings.Contains(errOut, "--token go with --controller") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}
