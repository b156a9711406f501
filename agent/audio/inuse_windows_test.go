//go:build windows && cgo

package audio

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// The WASAPI enumeration, on whatever Windows runs the test: while this
// process records a microphone, its own capture session is listed as
// active. Under Wine 8 (with its PulseAudio driver) the endpoints, their
// names and the session manager are found, but the session enumerator
// answers E_NOTIMPL: the test says so and skips.
func TestWASAPI_ListsThisProcesssActiveCaptureSession(t *testing.T) {
	s, err := (&Miniaudio{}).Open(context.Background())
	if err != nil {
		t.Skipf("no sound system: %v", err)
	}
	defer s.Close()
	mics, _, err := s.Devices(context.Background())
	if err != nil || len(mics) == 0 {
		t.Skipf("no microphone: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Record(context.Background(), mics[0], 3*time.Second)
		done <- err
	}()
	time.Sleep(1500 * time.Millisecond)
	ss, err := wasapiSessions()
	if err != nil && strings.Contains(err.Error(), "GetSessionEnumerator: HRESULT 0x80004001") && len(ss) == 0 {
		// Wine 8: the endpoints, their names and IAudioSessionManager2
		// are there, the session enumerator is not (E_NOTIMPL).
		t.Skipf("this Windows does not implement GetSessionEnumerator: %v", err)
	}
	if err != nil {
		t.Errorf("wasapiSessions: %v", err)
	}
	for _, x := range ss {
		t.Logf("session: %+v", x)
	}
	found := false
	for _, x := range ss {
		if x.PID == os.Getpid() && x.Capture && x.Active {
			found = true
		}
	}
	if !found {
		t.Errorf("this process's capture session is not among the %d listed", len(ss))
	}
	if got := ActiveSessions(ss, 0); len(got) == 0 {
		t.Errorf("ActiveSessions found nothing active")
	} else {
		t.Logf("in use, as another process would see it: %q", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
