package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleConfig = "../../../packaging/etc/agent.yaml"

// runCmd runs the agent's command line and returns its exit code and output.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const roomEnv = `# siaprapat agent credentials for demo/room-1, enrolled 2026-11-23T09:00:00Z. Keep this file secret (mode 0600).
SIAPRAPAT_SITE=demo
SIAPRAPAT_ROOM=room-1
SIAPRAPAT_BROKER=mqtt://siaprapat.example.go.id:1883
SIAPRAPAT_MQTT_USERNAME=demo/room-1
SIAPRAPAT_MQTT_PASSWORD=first-secret
SIAPRAPAT_CONTROLLER=http://siaprapat.example.go.id:9780
`

func TestEnroll_FromTheEnvFileIntoThePackagedSample(t *testing.T) {
	dir := t.TempDir()
	sample, err := os.ReadFile(sampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "agent.yaml", string(sample))
	env := writeFile(t, dir, "room-1.env", roomEnv)

	code, out, errOut := runCmd(t, "enroll", "--env", env, "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if !strings.Contains(out, "enrolled demo/room-1: wrote "+cfg+" (mode 0600)") {
		t.Errorf("output:\n%s", out)
	}
	fi, err := os.Stat(cfg)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config: %v, mode %v; want 0600", err, fi.Mode())
	}
	data, _ := os.ReadFile(cfg)
	if !bytes.HasPrefix(data, sample) {
		t.Errorf("the sample's lines (comments, data:) were not kept:\n%s", data)
	}
	code, _, errOut = runCmd(t, "run", "--config", cfg, "--check-config")
	want := "configuration ok: room demo/room-1, broker mqtt://siaprapat.example.go.id:1883 as demo/room-1, every 1m0s, checks host,peripherals,camera,audio,network, standard siaprapat-default"
	if code != 0 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "spool in /var/lib/siaprapat/agent") {
		t.Errorf("check-config: exit %d\n%s", code, errOut)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("a temporary file was left: %v", entries)
	}

	// Enrolled again (a new secret): the keys are replaced, not repeated.
	writeFile(t, dir, "room-1.env", strings.Replace(roomEnv, "first-secret", "second-secret", 1))
	if code, out, errOut := runCmd(t, "enroll", "--env", env, "--config", cfg); code != 0 {
		t.Fatalf("second enrolment: exit %d: %s%s", code, out, errOut)
	}
	data, _ = os.ReadFile(cfg)
	if strings.Count(string(data), "\npassword:") != 1 || !strings.Contains(string(data), "\npassword: second-secret\n") {
		t.Errorf("after a second enrolment:\n%s", data)
	}
}

func TestEnroll_NewFileGetsTheSpool(t *testing.T) {
	dir := t.TempDir()
	env := writeFile(t, dir, "room-1.env", roomEnv)
	cfg := filepath.Join(dir, "etc", "agent.yaml")
	if code, out, errOut := runCmd(t, "enroll", "--env", env, "--config", cfg); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	data, _ := os.ReadFile(cfg)
	for _, line := range []string{"data: " + defaultDataDir(), "site: demo", "room: room-1", "username: demo/room-1", "password: first-secret", "probe-url: http://siaprapat.example.go.id:9780"} {
		if !strings.Contains(string(data), "\n"+line+"\n") {
			t.Errorf("no line %q in\n%s", line, data)
		}
	}
}

func TestEnroll_BadInputLeavesTheConfigAlone(t *testing.T) {
	for _, tc := range []struct {
		name, env, config, want string
	}{
		{"unknown key", roomEnv + "SIAPRAPAT_ROOMS=x\n", "", `room-1.env:8: unknown key "SIAPRAPAT_ROOMS": want SIAPRAPAT_SITE, _ROOM, _BROKER, _MQTT_USERNAME, _MQTT_PASSWORD or _CONTROLLER=VALUE`},
		{"no password", strings.Replace(roomEnv, "SIAPRAPAT_MQTT_PASSWORD=first-secret\n", "", 1), "", "no MQTT user name or password"},
		{"bad room", strings.Replace(roomEnv, "SIAPRAPAT_ROOM=room-1", "SIAPRAPAT_ROOM=room 1", 1), "", `room "room 1"`},
		{"bad broker", strings.Replace(roomEnv, "mqtt://siaprapat", "http://siaprapat", 1), "", "http://siaprapat.example.go.id:1883"},
		{"invalid config", roomEnv, "data: /var/lib/siaprapat/agent\nintervl: 5s\n", `agent.yaml:2: unknown field "intervl": siaprapat-agent run has no flag --intervl`},
		{"multi-line value", roomEnv, "site:\n  - a\n", "agent.yaml:1: site spans several lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			env := writeFile(t, dir, "room-1.env", tc.env)
			cfg := filepath.Join(dir, "agent.yaml")
			if tc.config != "" {
				writeFile(t, dir, "agent.yaml", tc.config)
			}
			code, _, errOut := runCmd(t, "enroll", "--env", env, "--config", cfg)
			if code != exitNoCheck || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want 2 and %q in\n%s", code, tc.want, errOut)
			}
			data, err := os.ReadFile(cfg)
			if tc.config == "" && err == nil || tc.config != "" && string(data) != tc.config {
				t.Errorf("the configuration was changed:\n%s", data)
			}
		})
	}
}

func TestEnroll_AsksTheController(t *testing.T) {
	var got struct{ Site, Room string }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/agents" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer admin-token" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"this request needs the admin token (Authorization: Bearer TOKEN)"}`)
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{
			"site": got.Site, "room": got.Room, "username": got.Site + "/" + got.Room,
			"enrolled": "2026-11-23T09:00:00Z", "password": "from-the-controller",
			"broker": "mqtt://ctl.internal:1891", // a broker on another port than 1883, at the host as the controller was asked
		})
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.yaml")

	code, _, errOut := runCmd(t, "enroll", "--controller", srv.URL, "--token", "wrong", "--site", "kalbar", "--room", "r1", "--config", cfg)
	if code != exitNoCheck || !strings.Contains(errOut, "the controller refused: this request needs the admin token") {
		t.Errorf("a wrong token: exit %d\n%s", code, errOut)
	}
	t.Setenv("SIAPRAPAT_API_TOKEN", "admin-token")
	code, out, errOut := runCmd(t, "enroll", "--controller", srv.URL, "--site", "kalbar", "--room", "r1", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if got.Site != "kalbar" || got.Room != "r1" {
		t.Errorf("the controller was asked for %+v", got)
	}
	data, _ := os.ReadFile(cfg)
	for _, line := range []string{"broker: mqtt://127.0.0.1:1891", "username: kalbar/r1", "password: from-the-controller", "probe-url: " + srv.URL} {
		if !strings.Contains(string(data), "\n"+line+"\n") {
			t.Errorf("no line %q in\n%s", line, data)
		}
	}
}

func TestEnroll_WantsOneSource(t *testing.T) {
	for _, args := range [][]string{
		{"enroll"},
		{"enroll", "--env", "x.env", "--controller", "http://c:9780"},
		{"enroll", "--env", "x.env", "--site", "kalbar"},
	} {
		if code, _, errOut := runCmd(t, args...); code != exitNoCheck || !strings.Contains(errOut, "--env FILE") {
			t.Errorf("%v: exit %d\n%s", args, code, errOut)
		}
	}
}
