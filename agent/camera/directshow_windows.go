package camera

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// videoInput is a DirectShow video input device: the moniker's display
// name (what pion's driver lists and opens it by) and its friendly name
// ("HD Pro Webcam C920"), which pion's driver does not read.
type videoInput struct {
	displayName, friendlyName string
}

// COM by hand, as agent/audio does for WASAPI: the methods needed, through
// the vtables (slots in the order of strmif.h, objidl.h and oaidl.h).
type comObject struct{ vtbl *[32]uintptr }

func (o *comObject) call(slot int, args ...uintptr) uintptr {
	r, _, _ := syscall.SyscallN(o.vtbl[slot], append([]uintptr{uintptr(unsafe.Pointer(o))}, args...)...)
	return r
}

func (o *comObject) release() { o.call(2) }

var (
	clsidSystemDeviceEnum         = windows.GUID{Data1: 0x62BE5D10, Data2: 0x60EB, Data3: 0x11D0, Data4: [8]byte{0xBD, 0x3B, 0x00, 0xA0, 0xC9, 0x11, 0xCE, 0x86}}
	iidICreateDevEnum             = windows.GUID{Data1: 0x29840822, Data2: 0x5B84, Data3: 0x11D0, Data4: [8]byte{0xBD, 0x3B, 0x00, 0xA0, 0xC9, 0x11, 0xCE, 0x86}}
	clsidVideoInputDeviceCategory = windows.GUID{Data1: 0x860BB310, Data2: 0x5D01, Data3: 0x11D0, Data4: [8]byte{0xBD, 0x3B, 0x00, 0xA0, 0xC9, 0x11, 0xCE, 0x86}}
	iidIPropertyBag               = windows.GUID{Data1: 0x55272A00, Data2: 0x42CB, Data3: 0x11CE, Data4: [8]byte{0x81, 0x35, 0x00, 0xAA, 0x00, 0x4B, 0xB8, 0x51}}

	ole32              = windows.NewLazySystemDLL("ole32.dll")
	oleaut32           = windows.NewLazySystemDLL("oleaut32.dll")
	procCoCreateInst   = ole32.NewProc("CoCreateInstance")
	procVariantClear   = oleaut32.NewProc("VariantClear")
	friendlyNameUTF16  = windows.StringToUTF16Ptr("FriendlyName")
	errNoDeviceEnumCOM = fmt.Errorf("create the DirectShow device enumerator")
)

// variant is VARIANT on 64-bit Windows: the type, three reserved words,
// then the value (a BSTR for VT_BSTR).
type variant struct {
	vt  uint16
	_   [3]uint16
	val *uint16
	_   uintptr
}

func failed(hr uintptr) bool { return int32(hr) < 0 }

// videoInputs lists the DirectShow video input devices with their names.
func videoInputs() ([]videoInput, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := windows.CoInitializeEx(0, windows.COINIT_MULTITHREADED); err == nil || err == windows.Errno(1) {
		defer windows.CoUninitialize()
	}
	var devEnum *comObject
	if hr, _, _ := procCoCreateInst.Call(uintptr(unsafe.Pointer(&clsidSystemDeviceEnum)), 0, 1 /* CLSCTX_INPROC_SERVER */, uintptr(unsafe.Pointer(&iidICreateDevEnum)), uintptr(unsafe.Pointer(&devEnum))); failed(hr) || devEnum == nil {
		return nil, fmt.Errorf("%w: HRESULT %#x", errNoDeviceEnumCOM, uint32(hr))
	}
	defer devEnum.release()
	var monikers *comObject
	hr := devEnum.call(3, uintptr(unsafe.Pointer(&clsidVideoInputDeviceCategory)), uintptr(unsafe.Pointer(&monikers)), 0) // CreateClassEnumerator
	if failed(hr) {
		return nil, fmt.Errorf("enumerate the video input devices: HRESULT %#x", uint32(hr))
	}
	if monikers == nil {
		return nil, nil // S_FALSE: the category is empty
	}
	defer monikers.release()
	var out []videoInput
	for {
		var m *comObject
		if hr := monikers.call(3, 1, uintptr(unsafe.Pointer(&m)), 0); hr != 0 || m == nil { // Next
			break
		}
		var in videoInput
		var name *uint16
		if hr := m.call(20, 0, 0, uintptr(unsafe.Pointer(&name))); !failed(hr) && name != nil { // GetDisplayName
			in.displayName = windows.UTF16PtrToString(name)
			windows.CoTaskMemFree(unsafe.Pointer(name))
		}
		var bag *comObject
		if hr := m.call(9, 0, 0, uintptr(unsafe.Pointer(&iidIPropertyBag)), uintptr(unsafe.Pointer(&bag))); !failed(hr) && bag != nil { // BindToStorage
			var v variant
			if hr := bag.call(3, uintptr(unsafe.Pointer(friendlyNameUTF16)), uintptr(unsafe.Pointer(&v)), 0); !failed(hr) && v.vt == 8 /* VT_BSTR */ && v.val != nil {
				in.friendlyName = windows.UTF16PtrToString(v.val)
			}
			procVariantClear.Call(uintptr(unsafe.Pointer(&v)))
			bag.release()
		}
		m.release()
		if in.displayName != "" {
			out = append(out, in)
		}
	}
	return out, nil
}
