package audio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// DefaultInUse enumerates WASAPI's audio sessions on every active render
// and capture endpoint: an active session of another process (not the
// system sounds) means a meeting app plays or records.
func DefaultInUse(log *slog.Logger) InUseFunc {
	return func(context.Context) (bool, string) {
		ss, err := wasapiSessions()
		if err != nil {
			log.Debug("cannot tell whether a meeting holds the audio devices", "err", err)
		}
		uses := ActiveSessions(ss, os.Getpid())
		if len(uses) == 0 {
			return false, ""
		}
		return true, strings.Join(uses, ", ")
	}
}

// COM, by hand: the few methods needed, called through the interfaces'
// vtables (the slots are the order of the methods in mmdeviceapi.h,
// audiopolicy.h and propsys.h, IUnknown's three first).
type comObject struct{ vtbl *[32]uintptr }

func (o *comObject) call(slot int, args ...uintptr) uintptr {
	r, _, _ := syscall.SyscallN(o.vtbl[slot], append([]uintptr{uintptr(unsafe.Pointer(o))}, args...)...)
	return r
}

func (o *comObject) release() { o.call(2) }

var (
	clsidMMDeviceEnumerator   = windows.GUID{Data1: 0xBCDE0395, Data2: 0xE52F, Data3: 0x467C, Data4: [8]byte{0x8E, 0x3D, 0xC4, 0x57, 0x92, 0x91, 0x69, 0x2E}}
	iidIMMDeviceEnumerator    = windows.GUID{Data1: 0xA95664D2, Data2: 0x9614, Data3: 0x4F35, Data4: [8]byte{0xA7, 0x46, 0xDE, 0x8D, 0xB6, 0x36, 0x17, 0xE6}}
	iidIAudioSessionManager2  = windows.GUID{Data1: 0x77AA99A0, Data2: 0x1BD6, Data3: 0x484F, Data4: [8]byte{0x8B, 0xC7, 0x2C, 0x65, 0x4C, 0x9A, 0x9B, 0x6F}}
	iidIAudioSessionControl2  = windows.GUID{Data1: 0xBFB7FF88, Data2: 0x7239, Data3: 0x4FC9, Data4: [8]byte{0x8F, 0xA2, 0x07, 0xC9, 0x50, 0xBE, 0x9C, 0x6D}}
	pkeyDeviceFriendlyNameFmt = windows.GUID{Data1: 0xA45C254E, Data2: 0xDF1C, Data3: 0x4EFD, Data4: [8]byte{0x80, 0x20, 0x67, 0xD1, 0x46, 0xA8, 0x50, 0xE0}}

	ole32               = windows.NewLazySystemDLL("ole32.dll")
	procCoCreateInstnce = ole32.NewProc("CoCreateInstance")
	procPropVariantClr  = ole32.NewProc("PropVariantClear")
)

const (
	clsctxAll           = 0x17
	deviceStateActive   = 1
	audioSessionActive  = 1
	processQueryLimited = 0x1000
)

type propertyKey struct {
	fmtid windows.GUID
	pid   uint32
}

// propVariant is PROPVARIANT on 64-bit Windows: the type, padding, then
// the value (a pointer to UTF-16 for VT_LPWSTR).
type propVariant struct {
	vt  uint16
	_   [3]uint16
	val *uint16
	_   uintptr
}

func failed(hr uintptr) bool { return int32(hr) < 0 }

// wasapiSessions lists the audio sessions of every active endpoint.
func wasapiSessions() ([]AudioSession, error) {
	// COM wants the calls of one apartment on one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := windows.CoInitializeEx(0, windows.COINIT_MULTITHREADED); err != nil && err != windows.Errno(1) /* S_FALSE */ {
		if e, ok := err.(syscall.Errno); !ok || uint32(e) != 0x80010106 { // RPC_E_CHANGED_MODE: initialised otherwise, usable
			return nil, fmt.Errorf("CoInitializeEx: %w", err)
		}
	} else {
		defer windows.CoUninitialize()
	}
	var enum *comObject
	if hr, _, _ := procCoCreateInstnce.Call(uintptr(unsafe.Pointer(&clsidMMDeviceEnumerator)), 0, clsctxAll,
		uintptr(unsafe.Pointer(&iidIMMDeviceEnumerator)), uintptr(unsafe.Pointer(&enum))); failed(hr) || enum == nil {
		return nil, fmt.Errorf("create the MMDeviceEnumerator: HRESULT %#x", uint32(hr))
	}
	defer enum.release()
	var out []AudioSession
	var errs []error
	for flow, capture := range []bool{false, true} { // eRender, eCapture
		var coll *comObject
		if hr := enum.call(3, uintptr(flow), deviceStateActive, uintptr(unsafe.Pointer(&coll))); failed(hr) || coll == nil {
			return out, fmt.Errorf("EnumAudioEndpoints: HRESULT %#x", uint32(hr))
		}
		var n uint32
		coll.call(3, uintptr(unsafe.Pointer(&n)))
		for i := range n {
			var dev *comObject
			if hr := coll.call(4, uintptr(i), uintptr(unsafe.Pointer(&dev))); failed(hr) || dev == nil {
				errs = append(errs, fmt.Errorf("endpoint %d: HRESULT %#x", i, uint32(hr)))
				continue
			}
			ss, err := deviceSessions(dev, capture)
			out = append(out, ss...)
			if err != nil {
				errs = append(errs, err)
			}
			dev.release()
		}
		coll.release()
	}
	return out, errors.Join(errs...)
}

// deviceSessions lists one endpoint's sessions.
func deviceSessions(dev *comObject, capture bool) ([]AudioSession, error) {
	name := friendlyName(dev)
	var mgr *comObject
	if hr := dev.call(3, uintptr(unsafe.Pointer(&iidIAudioSessionManager2)), clsctxAll, 0, uintptr(unsafe.Pointer(&mgr))); failed(hr) || mgr == nil {
		return nil, fmt.Errorf("%s: activate IAudioSessionManager2: HRESULT %#x", name, uint32(hr))
	}
	defer mgr.release()
	var senum *comObject
	if hr := mgr.call(5, uintptr(unsafe.Pointer(&senum))); failed(hr) || senum == nil { // GetSessionEnumerator
		return nil, fmt.Errorf("%s: GetSessionEnumerator: HRESULT %#x", name, uint32(hr))
	}
	defer senum.release()
	var n int32
	senum.call(3, uintptr(unsafe.Pointer(&n)))
	var out []AudioSession
	for i := range n {
		var ctl *comObject
		if hr := senum.call(4, uintptr(i), uintptr(unsafe.Pointer(&ctl))); failed(hr) || ctl == nil {
			continue
		}
		s := AudioSession{Device: name, Capture: capture}
		var state int32
		if hr := ctl.call(3, uintptr(unsafe.Pointer(&state))); !failed(hr) { // GetState
			s.Active = state == audioSessionActive
		}
		var ctl2 *comObject
		if hr := ctl.call(0, uintptr(unsafe.Pointer(&iidIAudioSessionControl2)), uintptr(unsafe.Pointer(&ctl2))); !failed(hr) && ctl2 != nil {
			var pid uint32
			ctl2.call(14, uintptr(unsafe.Pointer(&pid))) // GetProcessId
			s.PID = int(pid)
			s.System = ctl2.call(15) == 0 // IsSystemSoundsSession: S_OK
			ctl2.release()
		}
		ctl.release()
		s.Process = processName(s.PID)
		out = append(out, s)
	}
	return out, nil
}

// friendlyName reads an endpoint's PKEY_Device_FriendlyName.
func friendlyName(dev *comObject) string {
	var store *comObject
	if hr := dev.call(4, 0 /* STGM_READ */, uintptr(unsafe.Pointer(&store))); failed(hr) || store == nil {
		return ""
	}
	defer store.release()
	key := propertyKey{fmtid: pkeyDeviceFriendlyNameFmt, pid: 14}
	var v propVariant
	if hr := store.call(5, uintptr(unsafe.Pointer(&key)), uintptr(unsafe.Pointer(&v))); failed(hr) { // GetValue
		return ""
	}
	defer procPropVariantClr.Call(uintptr(unsafe.Pointer(&v)))
	if v.vt != 31 /* VT_LPWSTR */ || v.val == nil {
		return ""
	}
	return windows.UTF16PtrToString(v.val)
}

// processName is a process's executable file name, "" when it cannot be read.
func processName(pid int) string {
	if pid <= 0 {
		return ""
	}
	h, err := windows.OpenProcess(processQueryLimited, false, uint32(pid))
	if err != nil {
		return ""
	}
	defer windows.CloseHandle(h)
	buf := make([]uint16, windows.MAX_PATH)
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err != nil {
		return ""
	}
	return filepath.Base(strings.ReplaceAll(windows.UTF16ToString(buf[:n]), `\`, "/"))
}
