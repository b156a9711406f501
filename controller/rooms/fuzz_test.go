package rooms

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds the rooms file's decoder and validation anything: it
// never panics, and what it accepts has a zone for every room and no room
// listed twice.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("schema: siaprapat.rooms/v1\nrooms:\n  - site: s\n    room: r\n    zone: Asia/Makassar\n    lead_times: [1h]\n    devices: [{kind: webcam, count: 2}]\n"))
	f.Add([]byte("schema: siaprapat.rooms/v1\nrooms: [{site: s, room: r, calendar: 'webcal://x/y.ics', calendar_auth: {bearer_token_file: t}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(filepath.Join(t.TempDir(), "rooms.yaml"), data)
		if err != nil {
			if !strings.Contains(err.Error(), "rooms.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for i := range c.Rooms {
			r := &c.Rooms[i]
			if r.Location() == nil {
				t.Errorf("room %s/%s has no zone", r.Site, r.Room)
			}
			if seen[r.Site+"/"+r.Room] {
				t.Errorf("room %s/%s accepted twice", r.Site, r.Room)
			}
			seen[r.Site+"/"+r.Room] = true
		}
	})
}
