package camera

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Limits on a clip's header, against a damaged or hostile file.
const (
	y4mMaxSide      = 16384
	y4mMaxPixels    = 1 << 25 // 33.5 megapixels: 8K UHD fits
	y4mMaxFPS       = 1000
	y4mMaxLineBytes = 4096 // a header or FRAME line
)

// clipSource is a recorded YUV4MPEG2 clip (what `ffmpeg -f yuv4mpegpipe`
// writes) standing in for a camera. It is replayed at its own frame rate in
// virtual time: frame i (from 0) arrives (i+1)/rate after Open, without
// sleeping.
type clipSource struct {
	path string
}

func (s clipSource) Cameras(context.Context) ([]Device, error) {
	return []Device{{ID: s.path, Name: "file:" + filepath.Base(s.path)}}, nil
}

// Open reads the clip's header; the wanted mode is ignored, a clip is
// played as recorded.
func (s clipSource) Open(_ context.Context, _ Device, _ Mode) (Stream, error) {
	return openClip(s.path)
}

// y4mFormat is a YUV4MPEG2 colour space (the header's C parameter).
type y4mFormat struct {
	name             string
	chromaW, chromaH int  // horizontal and vertical chroma subsampling; 0 without chroma
	alpha            bool // a fourth, full-size plane
	depth            int  // bits per sample; above 8 a sample takes 2 bytes, little endian
}

// parseY4MColorspace reads a C parameter: 420jpeg, 420paldv, 420mpeg2, 420,
// 420p10 (9 to 16 bits), 411, 422, 422p10, 444, 444p10, 444alpha, mono, mono10...
func parseY4MColorspace(c string) (y4mFormat, bool) {
	f := y4mFormat{name: c, depth: 8}
	rest := ""
	switch {
	case strings.HasPrefix(c, "420"):
		f.chromaW, f.chromaH, rest = 2, 2, c[3:]
		switch rest {
		case "jpeg", "paldv", "mpeg2":
			rest = ""
		}
	case strings.HasPrefix(c, "411"):
		f.chromaW, f.chromaH, rest = 4, 1, c[3:]
	case strings.HasPrefix(c, "422"):
		f.chromaW, f.chromaH, rest = 2, 1, c[3:]
	case c == "444alpha":
		f.chromaW, f.chromaH, f.alpha = 1, 1, true
	case strings.HasPrefix(c, "444"):
		f.chromaW, f.chromaH, rest = 1, 1, c[3:]
	case strings.HasPrefix(c, "mono"):
		rest = c[4:]
		if rest != "" {
			rest = "p" + rest // mono10 is 10-bit grey
		}
	default:
		return f, false
	}
	if rest != "" {
		bits, err := strconv.Atoi(strings.TrimPrefix(rest, "p"))
		if !strings.HasPrefix(rest, "p") || err != nil || bits < 8 || bits > 16 {
			return f, false
		}
		f.depth = bits
	}
	return f, true
}

// bytesPerSample is 1 up to 8 bits, 2 above.
func (f y4mFormat) bytesPerSample() int {
	if f.depth > 8 {
		return 2
	}
	return 1
}

// planeBytes returns the bytes of the luma plane and of everything after it
// (chroma, alpha) in one frame.
func (f y4mFormat) planeBytes(w, h int) (luma, rest int) {
	b := f.bytesPerSample()
	luma = w * h * b
	if f.chromaW > 0 {
		cw := (w + f.chromaW - 1) / f.chromaW
		ch := (h + f.chromaH - 1) / f.chromaH
		rest = 2 * cw * ch * b
	}
	if f.alpha {
		rest += luma
	}
	return luma, rest
}

// clipStream reads a clip frame by frame, reusing one luma buffer.
type clipStream struct {
	path     string
	file     *os.File
	r        *bufio.Reader
	off      int64 // bytes consumed so far
	w, h     int
	format   y4mFormat
	num, den int64 // frame rate num/den frames per second
	lumaSize int
	restSize int
	luma     []byte // the delivered 8-bit luma
	raw      []byte // the stored luma of a deeper clip
	frame    int    // frames read so far; the next is frame+1, counting from 1
}

// openClip opens a clip and reads its header.
func openClip(path string) (*clipStream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open clip: %w", err)
	}
	s := &clipStream{path: path, file: f, r: bufio.NewReaderSize(f, 1<<16)}
	if err := s.readHeader(); err != nil {
		f.Close()
		return nil, err
	}
	s.lumaSize, s.restSize = s.format.planeBytes(s.w, s.h)
	s.luma = make([]byte, s.w*s.h)
	if s.format.bytesPerSample() > 1 {
		s.raw = make([]byte, s.lumaSize)
	}
	return s, nil
}

// FPS is the clip's frame rate.
func (s *clipStream) FPS() float64 { return float64(s.num) / float64(s.den) }

func (s *clipStream) headerErr(at int, format string, args ...any) error {
	return fmt.Errorf("clip %s: byte %d: header: %s", s.path, at, fmt.Sprintf(format, args...))
}

// readLine reads one header or FRAME line without its newline.
func (s *clipStream) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > y4mMaxLineBytes {
		return nil, errLineTooLong
	}
	if err != nil {
		return line, err
	}
	s.off += int64(len(line))
	return line[:len(line)-1], nil
}

var errLineTooLong = fmt.Errorf("line longer than %d bytes", y4mMaxLineBytes)

// readHeader parses "YUV4MPEG2 W1280 H720 F30:1 Ip A1:1 C420jpeg\n".
func (s *clipStream) readHeader() error {
	line, err := s.readLine()
	switch {
	case errors.Is(err, errLineTooLong):
		return s.headerErr(0, "no end of header within %d bytes: not a YUV4MPEG2 clip", y4mMaxLineBytes)
	case errors.Is(err, io.EOF) && len(line) == 0:
		return s.headerErr(0, "empty file: not a YUV4MPEG2 clip")
	case errors.Is(err, io.EOF):
		return s.headerErr(len(line), "truncated: the file ends inside the header")
	case err != nil:
		return fmt.Errorf("read clip %s: %w", s.path, err)
	}
	const magic = "YUV4MPEG2"
	if !bytes.HasPrefix(line, []byte(magic)) || (len(line) > len(magic) && line[len(magic)] != ' ') {
		return s.headerErr(0, "starts with %q, not %q: not a YUV4MPEG2 clip", clipText(line, 16), magic)
	}
	var haveW, haveH, haveF bool
	s.format, _ = parseY4MColorspace("420jpeg") // the format's default
	at := len(magic)
	for _, tok := range strings.Split(string(line[len(magic):]), " ") {
		pos := at
		at += len(tok) + 1
		if tok == "" {
			continue
		}
		key, val := tok[0], tok[1:]
		switch key {
		case 'W', 'H':
			n, err := strconv.Atoi(val)
			if err != nil || n <= 0 || n > y4mMaxSide {
				return s.headerErr(pos, "%s: %c must be a size from 1 to %d pixels", tok, key, y4mMaxSide)
			}
			if key == 'W' {
				s.w, haveW = n, true
			} else {
				s.h, haveH = n, true
			}
		case 'F':
			ns, ds, ok := strings.Cut(val, ":")
			num, err1 := strconv.ParseInt(ns, 10, 32)
			den, err2 := strconv.ParseInt(ds, 10, 32)
			if !ok || err1 != nil || err2 != nil || num <= 0 || den <= 0 || float64(num)/float64(den) > y4mMaxFPS {
				return s.headerErr(pos, "%s: the frame rate must be F<num>:<den>, above 0 and at most %d fps", tok, y4mMaxFPS)
			}
			s.num, s.den, haveF = num, den, true
		case 'C':
			f, ok := parseY4MColorspace(val)
			if !ok {
				return s.headerErr(pos, "%s: colour space %q is not supported; want 420jpeg, 420paldv, 420mpeg2, 420, 411, 422, 444, 444alpha, mono, or a 420/422/444 p9..p16 or mono9..mono16 deep variant", tok, val)
			}
			s.format = f
		case 'I':
			// Interlacing (p, t, b, m): the analysis looks at whole frames
			// either way.
			if len(val) != 1 || !strings.Contains("ptbm?", val) {
				return s.headerErr(pos, "%s: interlacing must be Ip, It, Ib or Im", tok)
			}
		case 'A', 'X':
			// Pixel aspect ratio and extensions do not change the picture's luma.
		default:
			return s.headerErr(pos, "unknown parameter %q", tok)
		}
	}
	switch {
	case !haveW || !haveH:
		return s.headerErr(0, "no frame size (W and H)")
	case !haveF:
		return s.headerErr(0, "no frame rate (F)")
	case s.w*s.h > y4mMaxPixels:
		return s.headerErr(0, "%dx%d is larger than %d pixels", s.w, s.h, y4mMaxPixels)
	}
	return nil
}

// Next returns the next frame, or io.EOF at the clip's clean end. A clip
// cut inside a frame is an error naming the frame and the byte offset.
func (s *clipStream) Next(ctx context.Context) (Frame, error) {
	if err := ctx.Err(); err != nil {
		return Frame{}, err
	}
	start := s.off
	line, err := s.readLine()
	switch {
	case errors.Is(err, io.EOF) && len(line) == 0:
		return Frame{}, io.EOF
	case errors.Is(err, errLineTooLong):
		return Frame{}, s.frameErr(start, "no end of the FRAME line within %d bytes", y4mMaxLineBytes)
	case errors.Is(err, io.EOF):
		return Frame{}, s.frameErr(start, "truncated: the file ends inside the FRAME line")
	case err != nil:
		return Frame{}, fmt.Errorf("read clip %s: frame %d at byte %d: %w", s.path, s.frame+1, start, err)
	}
	if !bytes.HasPrefix(line, []byte("FRAME")) || (len(line) > 5 && line[5] != ' ') {
		return Frame{}, s.frameErr(start, "starts with %q, not FRAME", clipText(line, 16))
	}
	dst := s.luma
	if s.raw != nil {
		dst = s.raw
	}
	n, err := io.ReadFull(s.r, dst)
	s.off += int64(n)
	if err != nil {
		return Frame{}, s.truncated(start, err, n, s.lumaSize+s.restSize)
	}
	m, err := s.r.Discard(s.restSize)
	s.off += int64(m)
	if err != nil {
		return Frame{}, s.truncated(start, err, n+m, s.lumaSize+s.restSize)
	}
	if s.raw != nil {
		shift := uint(s.format.depth - 8)
		for i := range s.luma {
			v := uint16(s.raw[2*i]) | uint16(s.raw[2*i+1])<<8
			s.luma[i] = byte(min(v>>shift, 255))
		}
	}
	s.frame++
	return Frame{
		Y: s.luma, Stride: s.w, Width: s.w, Height: s.h,
		Time: time.Duration(math.Round(float64(s.frame) * float64(s.den) / float64(s.num) * float64(time.Second))),
	}, nil
}

// frameErr describes a damaged frame by its number (from 1) and the byte
// offset where it starts.
func (s *clipStream) frameErr(at int64, format string, args ...any) error {
	return fmt.Errorf("clip %s: frame %d at byte %d: %s", s.path, s.frame+1, at, fmt.Sprintf(format, args...))
}

func (s *clipStream) truncated(start int64, err error, got, want int) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return s.frameErr(start, "truncated: the file ends at byte %d, %d of the frame's %d bytes of picture", s.off, got, want)
	}
	return fmt.Errorf("read clip %s: frame %d at byte %d: %w", s.path, s.frame+1, start, err)
}

func (s *clipStream) Close() error { return s.file.Close() }

// clipText quotes at most n bytes of a damaged header for a message.
func clipText(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
