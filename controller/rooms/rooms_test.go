package rooms

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

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

func TestLoad_RoomsWithCalendarsZonesAndLeadTimes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rooms.yaml")
	os.WriteFile(file, []byte(`schema: siaprapat.rooms/v1
rooms:
  - site: sulsel
    room: aula
    calendar: https://calendar.example/aula.ics
    zone: Asia/Makassar
    lead_times: [1h, 15m]
  - site: papua
    room: r1
    zone: Mars/Olympus
    calendar: ftp://x/y.ics
    lead_times: [0s]
`), 0o600)
	_, err := Load(file)
	want := file + `: field rooms[1].calendar: "ftp://x/y.ics": want an http(s) URL or a file path
` + file + `: field rooms[1].zone: "Mars/Olympus" is not a time zone (e.g. Asia/Jakarta, Asia/Makassar, Asia/Jayapura)
` + file + `: field rooms[1].lead_times[0]: 0s: want 1s to 24h`
	if err == nil || err.Error() != want {
		t.Fatalf("\n got: %v\nwant: %s", err, want)
	}
	os.WriteFile(file, []byte("schema: siaprapat.rooms/v1\nrooms:\n  - site: sulsel\n    room: aula\n    zone: Asia/Makassar\n    lead_times: [1h, 15m]\n"), 0o600)
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.LeadTimes("sulsel", "aula", nil); len(got) != 2 || got[0] != time.Hour {
		t.Errorf("lead times %v", got)
	}
	if got := c.LeadTimes("other", "room", []time.Duration{time.Minute}); got[0] != time.Minute {
		t.Errorf("default lead times %v", got)
	}
	if c.Get("sulsel", "aula").Location().String() != "Asia/Makassar" {
		t.Errorf("zone %v", c.Get("sulsel", "aula").Location())
	}
}
