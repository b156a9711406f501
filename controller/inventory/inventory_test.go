package inventory

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/siaprapat/siaprapat/agent/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The agent's golden outputs for its fixture rooms: the devices found on each
// fixture sysfs tree, by the real peripherals check.
const agentFixtures = "../../agent/peripherals/testdata"

func TestJudge_FixtureRooms(t *testing.T) {
	cfg, err := Load("testdata/rooms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, room := range []string{"video-bar-room", "webcam-speakerphone-room", "unknown-device-room", "camera-unplugged-room", "known-bad-firmware-room"} {
		t.Run(room, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(agentFixtures, room, "golden.json"))
			if err != nil {
				t.Fatal(err)
			}
			var rep report.Report
			if err := json.Unmarshal(data, &rep); err != nil {
				t.Fatal(err)
			}
			got := Judge(cfg.For("fixtures", room), &rep)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join("testdata", room+".golden.json")
			if *update {
				if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs (go test -update rewrites it); got:\n%s", file, buf.Bytes())
			}
		})
	}
}

func TestJudge_NoDeviceListIsSkipped(t *testing.T) {
	rep := &report.Report{Checks: []report.CheckResult{{Check: "host", Verdict: report.Pass}}}
	got := Judge([]Expect{{Kind: "webcam", Count: 1}}, rep)
	if len(got) != 1 || got[0].Verdict != report.Skipped {
		t.Errorf("got %+v", got)
	}
	if Judge(nil, rep) != nil {
		t.Error("a room that expects nothing got inventory results")
	}
}

func TestLoad_InvalidFiles(t *testing.T) {
	for file, want := range map[string]string{
		"testdata/invalid-rooms.yaml":   `testdata/invalid-rooms.yaml:12: unknown field "modle" in a device`,
		"testdata/duplicate-rooms.yaml": "testdata/duplicate-rooms.yaml: field rooms[1]: room kalbar/r1 is listed twice",
		"testdata/nope.yaml":            "read rooms file: open testdata/nope.yaml: no such file or directory",
	} {
		if _, err := Load(file); err == nil || err.Error() != want {
			t.Errorf("%s:\n got: %v\nwant: %s", file, err, want)
		}
	}
}

func TestLoad_BadValues(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rooms.yaml")
	os.WriteFile(file, []byte("schema: siaprapat.rooms/v1\nrooms:\n  - site: kalbar\n    room: r 1\n    devices:\n      - kind: camera\n        count: 40\n"), 0o600)
	want := file + `: field rooms[0].room: room "r 1" is not a valid name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit
` + file + `: field rooms[0].devices[0].kind: "camera" is not a kind; want one of webcam, conference_camera, ptz_camera, video_bar, speakerphone, microphone, speaker, headset, hub, display_adapter
` + file + `: field rooms[0].devices[0].count: 40 is out of range; want 1 to 16`
	if _, err := Load(file); err == nil || err.Error() != want {
		t.Errorf("\n got: %v\nwant: %s", err, want)
	}
}
