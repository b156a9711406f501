package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/internal/testenv"
)

// TestBinaries_CalendarFeedsNeitherWaitForEachOtherNorHoldSIGTERM runs the
// controller with three rooms: one whose feed is 4 MiB of hourly events from
// 2000 served slowly, one whose server never answers, and an Exchange feed
// with a Windows zone name. The Exchange room's sessions load while the
// other two are still being read, and SIGTERM stops the controller at once.
func TestBinaries_CalendarFeedsNeitherWaitForEachOtherNorHoldSIGTERM(t *testing.T) {
	_, ctlBin := binaries(t)
	now := time.Now().UTC() // the controller reads the real clock; the feed's dates follow it
	var big strings.Builder
	big.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
	for i := 0; big.Len() < 4<<20-200; i++ {
		fmt.Fprintf(&big, "BEGIN:VEVENT\r\nUID:piket-%d\r\nSUMMARY:Piket\r\nDTSTART:20000101T%02d0000Z\r\nDURATION:PT30M\r\nRRULE:FREQ=HOURLY\r\nEND:VEVENT\r\n", i, i%24)
	}
	big.WriteString("END:VCALENDAR\r\n")
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow.ics": // 64 KiB every 200 ms: about 13 s for the feed
			body := big.String()
			for len(body) > 0 {
				n := min(64<<10, len(body))
				if _, err := w.Write([]byte(body[:n])); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				body = body[n:]
				select {
				case <-time.After(200 * time.Millisecond):
				case <-r.Context().Done():
					return
				case <-stop:
					return
				}
			}
		case "/hang.ics":
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		}
	}))
	defer srv.Close()
	defer close(stop)

	dir := t.TempDir()
	day := now.AddDate(0, 0, -3).Format("20060102")
	exchange := "BEGIN:VCALENDAR\r\nPRODID:Microsoft Exchange Server 2010\r\nVERSION:2.0\r\n" +
		"BEGIN:VTIMEZONE\r\nTZID:SE Asia Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:+0700\r\nTZOFFSETTO:+0700\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n" +
		"BEGIN:VEVENT\r\nUID:040000008200E00074C5B7101A82E008\r\nSUMMARY:Rapat harian\r\n" +
		"DTSTART;TZID=SE Asia Standard Time:" + day + "T090000\r\nDTEND;TZID=SE Asia Standard Time:" + day + "T100000\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	feed := filepath.Join(dir, "aula.ics")
	os.WriteFile(feed, []byte(exchange), 0o600)
	roomsFile := filepath.Join(dir, "rooms.yaml")
	os.WriteFile(roomsFile, []byte("schema: siaprapat.rooms/v1\nrooms:\n"+
		"  - {site: kalbar, room: piket, calendar: '"+srv.URL+"/slow.ics'}\n"+
		"  - {site: kalbar, room: macet, calendar: '"+srv.URL+"/hang.ics'}\n"+
		"  - {site: kalbar, room: aula, calendar: "+feed+"}\n"), 0o600)

	httpAddr, mqttAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	ctl := start(t, ctlBin, "serve", "--http", httpAddr, "--mqtt-listen", mqttAddr, "--data", filepath.Join(dir, "data"),
		"--standard", "testdata/lenient.yaml", "--rooms", roomsFile)
	waitHTTP(t, httpAddr)

	type state struct {
		Room     string `json:"room"`
		Status   string `json:"status"`
		Sessions int    `json:"sessions"`
	}
	states := func() map[string]state {
		resp, err := http.Get("http://" + httpAddr + "/api/v1/calendars")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Calendars []state }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		out := map[string]state{}
		for _, s := range body.Calendars {
			out[s.Room] = s
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for states()["aula"].Status != "ok" {
		if time.Now().After(deadline) {
			t.Fatalf("the Exchange feed was not read in 10 s: %+v", states())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := states()
	// Daily for an hour, over the 16 days a read covers (a day back, 14
	// days ahead and a day of slack): 16, or 17 when the window's edges
	// both cut a meeting.
	if n := s["aula"].Sessions; n != 16 && n != 17 {
		t.Errorf("aula: %+v, want 16 or 17 sessions", s["aula"])
	}
	if s["piket"].Status != "pending" || s["macet"].Status != "pending" {
		t.Errorf("the slow and the silent feeds should still be in their first poll: %+v", s)
	}

	sent := time.Now()
	ctl.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- ctl.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("controller exit: %v", err)
		}
		if took := time.Since(sent); took > 3*time.Second {
			t.Errorf("the controller took %v to stop", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the controller did not stop within 10 s of SIGTERM")
	}
}
