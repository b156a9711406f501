package rooms

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
	want := file + `: field rooms[1].calendar: "ftp://x/y.ics": want an http(s) or webcal URL or a file path
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

func TestLoad_CalendarAuthSecretsComeFromFilesAndAreChecked(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("cal.pw", "s3cret\n", 0o600)
	write("token", "tok-123", 0o640)
	write("open.pw", "x", 0o644)
	write("empty.pw", "\n", 0o600)
	write("two.pw", "a\nb\n", 0o600)
	fifo := filepath.Join(dir, "feed.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "rooms.yaml")
	room := func(i int, calendar, auth string) string {
		s := "  - site: s\n    room: r" + string(rune('0'+i)) + "\n    calendar: " + calendar + "\n"
		if auth != "" {
			s += "    calendar_auth: {" + auth + "}\n"
		}
		return s
	}
	os.WriteFile(file, []byte("schema: siaprapat.rooms/v1\nrooms:\n"+
		room(0, "https://mail.example.go.id/home/aula/Calendar.ics", "username: aula, password_file: cal.pw")+
		room(1, "webcal://p01-calendars.example.com/published/2/abc", "bearer_token_file: "+filepath.Join(dir, "token"))+
		room(2, "https://x.example/a.ics", "username: aula, password_file: open.pw")+
		room(3, "https://x.example/a.ics", "username: aula, password_file: empty.pw")+
		room(4, "https://x.example/a.ics", "username: aula, password_file: two.pw")+
		room(5, "https://x.example/a.ics", "username: aula")+
		room(6, "https://x.example/a.ics", "username: aula, password_file: cal.pw, bearer_token_file: token")+
		room(7, "http://x.example/a.ics", "bearer_token_file: token")+
		room(8, filepath.Join(dir, "cal.pw"), "bearer_token_file: token")+
		room(9, "https://aula:hunter2@x.example/a.ics", "")+
		"  - site: s\n    room: fifo\n    calendar: "+fifo+"\n"+
		"  - site: s\n    room: nope\n    calendar_auth: {username: a, password_file: nope.pw}\n    calendar: https://x.example/a.ics\n"), 0o600)
	_, err := Load(file)
	want := []string{
		file + ": field rooms[2].calendar_auth.password_file: " + dir + "/open.pw can be read by every user (mode 0644): chmod o-r it",
		file + ": field rooms[3].calendar_auth.password_file: " + dir + "/empty.pw is empty",
		file + ": field rooms[4].calendar_auth.password_file: " + dir + "/two.pw holds more than one line",
		file + ": field rooms[5].calendar_auth: want username and password_file (HTTP basic authentication), or bearer_token_file",
		file + ": field rooms[6].calendar_auth: has both username/password_file and bearer_token_file; want one",
		file + ": field rooms[7].calendar_auth: would send the secret in clear over http://; use https",
		file + ": field rooms[8].calendar_auth: is only for a calendar URL",
		file + ": field rooms[9].calendar: has a user or password in the URL; put them in calendar_auth (username, password_file)",
		file + ": field rooms[10].calendar: " + fifo + " is not a regular file (p---------)",
		file + ": field rooms[11].calendar_auth.password_file: read " + dir + "/nope.pw: open " + dir + "/nope.pw: no such file or directory",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("\n got: %v\nwant: %s", err, strings.Join(want, "\n"))
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Error("the error shows the password in the URL")
	}

	// The good rooms alone load, and their secrets go into the request.
	os.WriteFile(file, []byte("schema: siaprapat.rooms/v1\nrooms:\n"+
		room(0, "https://mail.example.go.id/home/aula/Calendar.ics", "username: aula, password_file: cal.pw")+
		room(1, "webcal://p01-calendars.example.com/published/2/abc", "bearer_token_file: "+filepath.Join(dir, "token"))), 0o600)
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	for room, want := range map[string]string{"r0": "Basic YXVsYTpzM2NyZXQ=", "r1": "Bearer tok-123"} {
		req, _ := http.NewRequest(http.MethodGet, "https://x.example/", nil)
		if err := c.Get("s", room).CalendarAuth.Apply(req); err != nil || req.Header.Get("Authorization") != want {
			t.Errorf("%s: Authorization %q (%v), want %q", room, req.Header.Get("Authorization"), err, want)
		}
	}
	// A secret removed after the load is an error at the poll, naming the field.
	os.Remove(filepath.Join(dir, "token"))
	req, _ := http.NewRequest(http.MethodGet, "https://x.example/", nil)
	if err := c.Get("s", "r1").CalendarAuth.Apply(req); err == nil || !strings.HasPrefix(err.Error(), "calendar_auth.bearer_token_file: read "+dir+"/token: ") {
		t.Errorf("removed token: %v", err)
	}
}
