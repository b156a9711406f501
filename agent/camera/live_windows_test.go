//go:build windows && cgo

package camera

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/pion/mediadevices/pkg/driver/availability"
)

// The machines this is developed and tested on run it under Wine, which
// has no camera: the live source is exercised through its listing and its
// error paths.

func TestLive_ListingTwiceListsEachCameraOnce(t *testing.T) {
	src := newLiveSource("", slog.New(slog.DiscardHandler))
	first, err := src.Cameras(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	second, err := src.Cameras(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(second) != len(first) {
		t.Errorf("second listing has %d cameras, the first %d", len(second), len(first))
	}
}

func TestLive_OpeningUnlistedCameraErrs(t *testing.T) {
	src := newLiveSource("", slog.New(slog.DiscardHandler))
	_, err := src.Open(context.Background(), Device{ID: `@device:pnp:\\?\usb#vid_0000&pid_0000`, Name: "camera (gone)"}, fallbackMode)
	if err == nil || err.Error() != "open camera (gone): the camera is gone" {
		t.Errorf("Open: %v, want the camera is gone", err)
	}
}

func TestLive_DirectShowDeviceNames(t *testing.T) {
	for _, tc := range []struct {
		label, friendly string
		want            Device
	}{
		{`@device:pnp:\\?\usb#vid_046d&pid_082d&mi_00#6&1b2c3d4&0&0000#{65e8773d-8f56-11d0-a3b9-00a0c9223196}\global`, "HD Pro Webcam C920",
			Device{Name: `HD Pro Webcam C920 (usb#vid_046d&pid_082d&mi_00#6&1b2c3d4&0&0000)`, USBID: "046d:082d"}},
		{`@device:pnp:\\?\usb#vid_046D&pid_082d&mi_00#6&1b2c3d4&0&0000#{65e8773d-8f56-11d0-a3b9-00a0c9223196}\global`, "",
			Device{Name: `camera (usb#vid_046D&pid_082d&mi_00#6&1b2c3d4&0&0000)`, USBID: "046d:082d"}},
		{`@device:pnp:\\?\root#image#0000#{65e8773d-8f56-11d0-a3b9-00a0c9223196}\global`, "", // a built-in, not on USB
			Device{Name: `camera (root#image#0000)`}},
		{`@device:sw:{860BB310-5D01-11D0-BD3B-00A0C911CE86}\{A3FCE0F5-3493-419F-958A-ABA1250EC20B}`, "", // a virtual camera
			Device{Name: `camera (sw:{860BB310-5D01-11D0-BD3B-00A0C911CE86}\{A3FCE0F5-3493-419F-958A-ABA1250EC20B})`}},
	} {
		tc.want.ID = tc.label
		if got := directShowDevice(tc.label, tc.friendly); got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.label, got, tc.want)
		}
	}
}

func TestLive_BusyErrorsAreInUse(t *testing.T) {
	for _, tc := range []struct {
		err   error
		inUse bool
	}{
		{availability.ErrBusy, true},
		{errors.New("failed to open device: failed to connect filters"), false}, // no HRESULT to tell why
	} {
		err := liveErr("start camera (usb#vid_046d&pid_082d)", tc.err)
		if inUse(err) != tc.inUse {
			t.Errorf("%v: in use %v, want %v", err, inUse(err), tc.inUse)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%v does not wrap %v", err, tc.err)
		}
	}
}
