//go:build linux

// Command uvc-gadget is the guest harness's side of a USB camera: it answers
// the UVC function's (usb_f_uvc, set up through configfs) class requests
// (the probe and commit of a streaming format) and feeds it frames, paced at
// the committed frame interval: MJPEG frames from the JPEG files given (made
// with ffmpeg), and for the uncompressed format (YUYV) a moving bar pattern.
//
// It reads the formats and frames from the function's configfs directory, so
// the descriptors are set up once, by the harness's shell job, and never
// repeated here. It runs until killed.
//
//	uvc-gadget -device /dev/video1 -function /sys/kernel/config/usb_gadget/g1/functions/uvc.0 frame*.jpg
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	device := flag.String("device", "", "the UVC function's V4L2 output node (/dev/videoN)")
	function := flag.String("function", "", "the UVC function's configfs directory")
	attach := flag.Bool("usbip-attach", false, "once ready, connect the gadget's virtual UDC (usbip-vudc.0) to the USB/IP host controller (vhci_hcd.0) through a socket pair")
	flag.Parse()
	log.SetFlags(log.Lmicroseconds)
	log.SetPrefix("uvc-gadget: ")
	if *device == "" || *function == "" {
		log.Fatal("want -device and -function")
	}
	g, err := newGadget(*device, *function, flag.Args())
	if err != nil {
		log.Fatal(err)
	}
	if *attach {
		if err := attachUSBIP(); err != nil {
			log.Fatal(err)
		}
	}
	if err := g.run(); err != nil {
		log.Fatal(err)
	}
}

// V4L2 and UVC gadget ABI (linux/videodev2.h, linux/usb/g_uvc.h), amd64.
const (
	sizeofEvent    = 136
	sizeofEventSub = 32
	sizeofFormat   = 208
	sizeofReqbufs  = 20
	sizeofBuffer   = 88
	sizeofUVCReq   = 64
	bufTypeOutput  = 2
	memoryMMAP     = 1

	uvcEventConnect    = 0x08000000 // V4L2_EVENT_PRIVATE_START
	uvcEventDisconnect = uvcEventConnect + 1
	uvcEventStreamOn   = uvcEventConnect + 2
	uvcEventStreamOff  = uvcEventConnect + 3
	uvcEventSetup      = uvcEventConnect + 4
	uvcEventData       = uvcEventConnect + 5
)

func ioc(dir, typ, nr, size uintptr) uintptr { return dir<<30 | size<<16 | typ<<8 | nr }

var (
	vidiocSubscribeEvent = ioc(1, 'V', 90, sizeofEventSub)
	vidiocDQEvent        = ioc(2, 'V', 89, sizeofEvent)
	vidiocSFmt           = ioc(3, 'V', 5, sizeofFormat)
	vidiocReqbufs        = ioc(3, 'V', 8, sizeofReqbufs)
	vidiocQuerybuf       = ioc(3, 'V', 9, sizeofBuffer)
	vidiocQbuf           = ioc(3, 'V', 15, sizeofBuffer)
	vidiocDQbuf          = ioc(3, 'V', 17, sizeofBuffer)
	vidiocStreamOn       = ioc(1, 'V', 18, 4)
	vidiocStreamOff      = ioc(1, 'V', 19, 4)
	uvciocSendResponse   = ioc(1, 'U', 1, sizeofUVCReq)
)

func ioctl(fd int, req uintptr, arg []byte) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(&arg[0])))
	if errno != 0 {
		return errno
	}
	return nil
}

// UVC class requests and streaming controls (UVC 1.1, 4.3.1.1).
const (
	reqSetCur  = 0x01
	reqGetCur  = 0x81
	reqGetMin  = 0x82
	reqGetMax  = 0x83
	reqGetLen  = 0x85
	reqGetInfo = 0x86
	reqGetDef  = 0x87

	vsProbe  = 1
	vsCommit = 2

	sizeofStreamingControl = 34
)

// frameDesc is one frame descriptor of a format, as configfs holds it.
type frameDesc struct {
	index         int
	width, height int
	intervals     []uint32 // 100 ns units
	maxSize       uint32
}

type formatDesc struct {
	index  int
	mjpeg  bool
	frames []frameDesc
}

type gadget struct {
	fd         int
	formats    []formatDesc
	maxPacket  uint32
	streamIntf int
	jpegs      [][]byte

	probe, commit [sizeofStreamingControl]byte
	pendingSet    int // the control a SET_CUR's data is for

	streaming bool
	bufs      [][]byte // mmapped
	free      []int
	interval  time.Duration
	nextDue   time.Time
	frame     int
	fmt       formatDesc
	frm       frameDesc
}

func newGadget(device, function string, jpegFiles []string) (*gadget, error) {
	g := &gadget{}
	var err error
	if g.formats, err = readFormats(function); err != nil {
		return nil, err
	}
	g.maxPacket = uint32(readInt(filepath.Join(function, "streaming_maxpacket")))
	g.streamIntf = readInt(filepath.Join(function, "streaming", "bInterfaceNumber"))
	for _, f := range jpegFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		g.jpegs = append(g.jpegs, b)
	}
	g.fd, err = unix.Open(device, unix.O_RDWR|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", device, err)
	}
	for _, ev := range []uint32{uvcEventConnect, uvcEventDisconnect, uvcEventSetup, uvcEventData, uvcEventStreamOn, uvcEventStreamOff} {
		sub := make([]byte, sizeofEventSub)
		binary.LittleEndian.PutUint32(sub, ev)
		if err := ioctl(g.fd, vidiocSubscribeEvent, sub); err != nil {
			return nil, fmt.Errorf("subscribe event %#x: %w", ev, err)
		}
	}
	g.fill(&g.probe, 0, 0, 0)
	g.commit = g.probe
	log.Printf("%s: %d formats, streaming interface %d, max packet %d, %d JPEG frames", device, len(g.formats), g.streamIntf, g.maxPacket, len(g.jpegs))
	return g, nil
}

// readFormats reads the formats linked into the streaming header, in their
// descriptor order.
func readFormats(function string) (out []formatDesc, err error) {
	links, err := filepath.Glob(filepath.Join(function, "streaming", "header", "h", "*"))
	if err != nil || len(links) == 0 {
		return nil, fmt.Errorf("no formats linked under %s/streaming/header/h", function)
	}
	defer func() {
		if len(out) == 0 && err == nil {
			err = fmt.Errorf("no formats linked under %s/streaming/header/h", function)
		}
	}()
	for _, l := range links {
		if fi, err := os.Lstat(l); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			continue // the header's own attributes
		}
		dir, err := filepath.EvalSymlinks(l)
		if err != nil {
			return nil, err
		}
		f := formatDesc{index: readInt(filepath.Join(dir, "bFormatIndex")), mjpeg: strings.Contains(dir, "/mjpeg/")}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			fd := filepath.Join(dir, e.Name())
			if !e.IsDir() {
				continue
			}
			fr := frameDesc{
				index:   readInt(filepath.Join(fd, "bFrameIndex")),
				width:   readInt(filepath.Join(fd, "wWidth")),
				height:  readInt(filepath.Join(fd, "wHeight")),
				maxSize: uint32(readInt(filepath.Join(fd, "dwMaxVideoFrameBufferSize"))),
			}
			b, _ := os.ReadFile(filepath.Join(fd, "dwFrameInterval"))
			for _, s := range strings.Fields(string(b)) {
				v, _ := strconv.Atoi(s)
				fr.intervals = append(fr.intervals, uint32(v))
			}
			f.frames = append(f.frames, fr)
		}
		if len(f.frames) == 0 {
			return nil, fmt.Errorf("format %s has no frames", dir)
		}
		sort.Slice(f.frames, func(i, j int) bool { return f.frames[i].index < f.frames[j].index })
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].index < out[j].index })
	return out, nil
}

func readInt(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 0, 64)
	return int(v)
}

// fill writes a streaming control for the format and frame indexes (1-based;
// 0 or out of range: the first) and the interval (0 or not offered: the
// frame's first).
func (g *gadget) fill(c *[sizeofStreamingControl]byte, fmtIdx, frameIdx int, interval uint32) {
	f := g.formats[0]
	for _, x := range g.formats {
		if x.index == fmtIdx {
			f = x
		}
	}
	fr := f.frames[0]
	for _, x := range f.frames {
		if x.index == frameIdx {
			fr = x
		}
	}
	iv := fr.intervals[0]
	for _, x := range fr.intervals {
		if x == interval {
			iv = x
		}
	}
	*c = [sizeofStreamingControl]byte{}
	le := binary.LittleEndian
	le.PutUint16(c[0:], 1) // bmHint: dwFrameInterval
	c[2], c[3] = byte(f.index), byte(fr.index)
	le.PutUint32(c[4:], iv)
	le.PutUint32(c[18:], fr.maxSize)
	le.PutUint32(c[22:], g.maxPacket)
	le.PutUint32(c[26:], 48000000)
	c[30] = 3 // bmFramingInfo: FID, EOF
	c[31], c[32], c[33] = 1, 1, 1
}

func (g *gadget) selected(c [sizeofStreamingControl]byte) (formatDesc, frameDesc, uint32) {
	for _, f := range g.formats {
		if f.index != int(c[2]) {
			continue
		}
		for _, fr := range f.frames {
			if fr.index == int(c[3]) {
				return f, fr, binary.LittleEndian.Uint32(c[4:])
			}
		}
	}
	return g.formats[0], g.formats[0].frames[0], g.formats[0].frames[0].intervals[0]
}

func (g *gadget) run() error {
	for {
		timeout := -1
		if g.streaming {
			timeout = max(int(time.Until(g.nextDue)/time.Millisecond), 0)
		}
		fds := []unix.PollFd{{Fd: int32(g.fd), Events: unix.POLLPRI}}
		if _, err := unix.Poll(fds, timeout); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll: %w", err)
		}
		if fds[0].Revents&unix.POLLPRI != 0 {
			if err := g.events(); err != nil {
				return err
			}
		}
		if g.streaming && !time.Now().Before(g.nextDue) {
			if err := g.pump(); err != nil {
				log.Printf("pump: %v", err)
				g.stop()
			}
		}
	}
}

func (g *gadget) events() error {
	for {
		ev := make([]byte, sizeofEvent)
		if err := ioctl(g.fd, vidiocDQEvent, ev); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EAGAIN) {
				return nil
			}
			return fmt.Errorf("dequeue event: %w", err)
		}
		typ, data := binary.LittleEndian.Uint32(ev), ev[8:72]
		switch typ {
		case uvcEventConnect:
			log.Printf("connect")
		case uvcEventDisconnect:
			log.Printf("disconnect")
			g.stop()
		case uvcEventSetup:
			g.setup(data)
		case uvcEventData:
			g.data(data)
		case uvcEventStreamOn:
			if err := g.start(); err != nil {
				log.Printf("stream on: %v", err)
				g.stop()
			}
		case uvcEventStreamOff:
			log.Printf("stream off after %d frames", g.frame)
			g.stop()
		}
	}
}

func (g *gadget) respond(data []byte, length int) {
	r := make([]byte, sizeofUVCReq)
	binary.LittleEndian.PutUint32(r, uint32(int32(length)))
	copy(r[4:], data)
	if err := ioctl(g.fd, uvciocSendResponse, r); err != nil {
		log.Printf("send response: %v", err)
	}
}

// setup answers a control request the kernel passed up: the streaming
// interface's probe and commit controls; anything else stalls.
func (g *gadget) setup(req []byte) {
	reqType, request := req[0], req[1]
	value, index, length := binary.LittleEndian.Uint16(req[2:]), binary.LittleEndian.Uint16(req[4:]), int(binary.LittleEndian.Uint16(req[6:]))
	cs := int(value >> 8)
	stall := func() { g.respond(nil, -int(unix.EL2HLT)) }
	if reqType&0x60 != 0x20 || reqType&0x1f != 1 || int(index&0xff) != g.streamIntf || (cs != vsProbe && cs != vsCommit) {
		stall()
		return
	}
	n := min(length, sizeofStreamingControl)
	switch request {
	case reqSetCur:
		g.pendingSet = cs
		g.respond(nil, n)
	case reqGetCur:
		if cs == vsProbe {
			g.respond(g.probe[:], n)
		} else {
			g.respond(g.commit[:], n)
		}
	case reqGetMin, reqGetDef, reqGetMax:
		var c [sizeofStreamingControl]byte
		g.fill(&c, 0, 0, 0)
		g.respond(c[:], n)
	case reqGetLen:
		g.respond([]byte{sizeofStreamingControl, 0}, min(length, 2))
	case reqGetInfo:
		g.respond([]byte{3}, min(length, 1))
	default:
		stall()
	}
}

// data takes a SET_CUR's data: the host's probe (clamped to what is offered)
// or its commit, which sets the output format.
func (g *gadget) data(d []byte) {
	n := int(int32(binary.LittleEndian.Uint32(d)))
	body := d[4:]
	if n < 26 {
		log.Printf("short streaming control: %d bytes", n)
		return
	}
	var c [sizeofStreamingControl]byte
	g.fill(&c, int(body[2]), int(body[3]), binary.LittleEndian.Uint32(body[4:]))
	if g.pendingSet == vsProbe {
		g.probe = c
		return
	}
	g.commit = c
	f, fr, iv := g.selected(c)
	g.fmt, g.frm, g.interval = f, fr, time.Duration(iv)*100
	pix := uint32(0x56595559) // YUYV
	if f.mjpeg {
		pix = 0x47504a4d // MJPG
	}
	v := make([]byte, sizeofFormat)
	le := binary.LittleEndian
	le.PutUint32(v[0:], bufTypeOutput)
	le.PutUint32(v[8:], uint32(fr.width))
	le.PutUint32(v[12:], uint32(fr.height))
	le.PutUint32(v[16:], pix)
	le.PutUint32(v[20:], 1) // V4L2_FIELD_NONE
	if !f.mjpeg {
		le.PutUint32(v[24:], uint32(fr.width*2))
	}
	le.PutUint32(v[28:], fr.maxSize)
	if err := ioctl(g.fd, vidiocSFmt, v); err != nil {
		log.Printf("set format: %v", err)
	}
	log.Printf("commit: format %d (mjpeg %v) %dx%d every %v", f.index, f.mjpeg, fr.width, fr.height, g.interval)
}

const nbufs = 4

func (g *gadget) start() error {
	rb := make([]byte, sizeofReqbufs)
	le := binary.LittleEndian
	le.PutUint32(rb[0:], nbufs)
	le.PutUint32(rb[4:], bufTypeOutput)
	le.PutUint32(rb[8:], memoryMMAP)
	if err := ioctl(g.fd, vidiocReqbufs, rb); err != nil {
		return fmt.Errorf("request buffers: %w", err)
	}
	n := int(le.Uint32(rb))
	g.bufs, g.free = nil, nil
	for i := 0; i < n; i++ {
		b := make([]byte, sizeofBuffer)
		le.PutUint32(b[0:], uint32(i))
		le.PutUint32(b[4:], bufTypeOutput)
		le.PutUint32(b[60:], memoryMMAP)
		if err := ioctl(g.fd, vidiocQuerybuf, b); err != nil {
			return fmt.Errorf("query buffer %d: %w", i, err)
		}
		off, length := le.Uint32(b[64:]), le.Uint32(b[72:])
		m, err := unix.Mmap(g.fd, int64(off), int(length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return fmt.Errorf("map buffer %d: %w", i, err)
		}
		g.bufs = append(g.bufs, m)
		g.free = append(g.free, i)
	}
	g.streaming, g.frame, g.nextDue = true, 0, time.Now()
	if err := g.queueNext(); err != nil {
		return err
	}
	t := make([]byte, 4)
	le.PutUint32(t, bufTypeOutput)
	if err := ioctl(g.fd, vidiocStreamOn, t); err != nil {
		return fmt.Errorf("stream on: %w", err)
	}
	log.Printf("streaming %dx%d (mjpeg %v) every %v with %d buffers", g.frm.width, g.frm.height, g.fmt.mjpeg, g.interval, n)
	return nil
}

// pump takes back the buffers sent and queues the next frame.
func (g *gadget) pump() error {
	le := binary.LittleEndian
	for {
		b := make([]byte, sizeofBuffer)
		le.PutUint32(b[4:], bufTypeOutput)
		le.PutUint32(b[60:], memoryMMAP)
		if err := ioctl(g.fd, vidiocDQbuf, b); err != nil {
			if errors.Is(err, unix.EAGAIN) {
				break
			}
			return fmt.Errorf("dequeue buffer: %w", err)
		}
		g.free = append(g.free, int(le.Uint32(b)))
	}
	return g.queueNext()
}

// queueNext queues the next frame in a free buffer, if there is one.
func (g *gadget) queueNext() error {
	le := binary.LittleEndian
	g.nextDue = g.nextDue.Add(g.interval)
	if now := time.Now(); g.nextDue.Before(now.Add(-g.interval)) {
		g.nextDue = now // far behind (the guest was slow): do not burst
	}
	if len(g.free) == 0 {
		return nil // the host is behind: this frame is dropped
	}
	i := g.free[0]
	g.free = g.free[1:]
	n := g.render(g.bufs[i])
	b := make([]byte, sizeofBuffer)
	le.PutUint32(b[0:], uint32(i))
	le.PutUint32(b[4:], bufTypeOutput)
	le.PutUint32(b[8:], uint32(n))
	le.PutUint32(b[60:], memoryMMAP)
	if err := ioctl(g.fd, vidiocQbuf, b); err != nil {
		return fmt.Errorf("queue buffer: %w", err)
	}
	g.frame++
	return nil
}

// render writes the next frame into buf and returns its length: the next
// JPEG file for MJPEG, a bar moving across mid-grey for YUYV.
func (g *gadget) render(buf []byte) int {
	if g.fmt.mjpeg {
		if len(g.jpegs) == 0 {
			return 0
		}
		j := g.jpegs[g.frame%len(g.jpegs)]
		return copy(buf, j)
	}
	w, h := g.frm.width, g.frm.height
	n := min(w*h*2, len(buf))
	bar := (g.frame * 16) % w
	for y := 0; y < h; y++ {
		row := buf[y*w*2 : min((y+1)*w*2, n)]
		for x := 0; x+1 < len(row); x += 2 {
			lum := byte(128)
			if px := x / 2; px >= bar && px < bar+64 {
				lum = 235
			}
			row[x], row[x+1] = lum, 128
		}
	}
	return n
}

func (g *gadget) stop() {
	if !g.streaming {
		return
	}
	g.streaming = false
	t := make([]byte, 4)
	binary.LittleEndian.PutUint32(t, bufTypeOutput)
	_ = ioctl(g.fd, vidiocStreamOff, t)
	for _, b := range g.bufs {
		_ = unix.Munmap(b)
	}
	g.bufs, g.free = nil, nil
	rb := make([]byte, sizeofReqbufs)
	binary.LittleEndian.PutUint32(rb[4:], bufTypeOutput)
	binary.LittleEndian.PutUint32(rb[8:], memoryMMAP)
	_ = ioctl(g.fd, vidiocReqbufs, rb)
}

// attachUSBIP plugs the gadget into this machine's own USB host side: one
// end of a stream socket pair goes to the virtual UDC the gadget is bound
// to, the other to a port of the USB/IP host controller, and from then on
// the kernel speaks USB/IP between them (as usbipd and usbip attach would
// over TCP). The kernel keeps its references to the sockets.
func attachUSBIP() error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return fmt.Errorf("socket pair: %w", err)
	}
	const vudc = "/sys/devices/platform/usbip-vudc.0/usbip_sockfd"
	if err := os.WriteFile(vudc, []byte(strconv.Itoa(fds[0])), 0); err != nil {
		return fmt.Errorf("write %s: %w", vudc, err)
	}
	// port 0, the socket, device id 1-2 (bus 1, device 2: only echoed in
	// the protocol's headers), high speed (3)
	const vhci = "/sys/devices/platform/vhci_hcd.0/attach"
	if err := os.WriteFile(vhci, []byte(fmt.Sprintf("0 %d %d 3", fds[1], 1<<16|2)), 0); err != nil {
		return fmt.Errorf("write %s: %w", vhci, err)
	}
	log.Printf("attached usbip-vudc.0 to vhci_hcd.0 port 0")
	return nil
}
