//go:build linux && cgo

package camera

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/pion/mediadevices/pkg/driver/availability"
)

// The machines this is developed and tested on have no camera: the live
// source is exercised through its listing and its error paths.

func TestLive_OpeningUnlistedCameraErrs(t *testing.T) {
	src := newLiveSource(DefaultSysfs, slog.New(slog.DiscardHandler))
	_, err := src.Open(context.Background(), Device{ID: "/dev/video99"}, fallbackMode)
	if err == nil || err.Error() != "open /dev/video99: the camera is gone" {
		t.Errorf("Open: %v, want the camera is gone", err)
	}
}

func TestLive_BusyErrorsAreInUse(t *testing.T) {
	for _, tc := range []struct {
		err   error
		inUse bool
	}{
		{syscall.EBUSY, true}, // open, VIDIOC_S_FMT
		{errors.New("Failed to map request buffers: device or resource busy"), true}, // VIDIOC_REQBUFS as text
		{availability.ErrBusy, true},
		{syscall.EACCES, false},
		{syscall.ENODEV, false},
	} {
		err := liveErr("start /dev/video0", tc.err)
		if inUse(err) != tc.inUse {
			t.Errorf("%v: in use %v, want %v", err, inUse(err), tc.inUse)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%v does not wrap %v", err, tc.err)
		}
	}
}

func TestLive_VanishedDeviceIsDisconnected(t *testing.T) {
	for _, tc := range []struct {
		err          error
		disconnected bool
	}{
		{syscall.ENODEV, true},               // VIDIOC_DQBUF after the node is unregistered
		{errors.New("no such device"), true}, // as text
		{errors.New("read timeout"), false},  // a camera that stopped delivering
		{syscall.EIO, false},
	} {
		err := liveErr("read frame", tc.err)
		if got := strings.HasPrefix(err.Error(), "the camera was disconnected: read frame: "); got != tc.disconnected {
			t.Errorf("%v: disconnected %v, want %v", err, got, tc.disconnected)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%v does not wrap %v", err, tc.err)
		}
	}
}
