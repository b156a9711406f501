package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// MaxWAVBytes bounds the data a WAV recording may hold (about 23 minutes of
// 48 kHz 16-bit stereo): a recording stands in for a microphone window.
const MaxWAVBytes = 256 << 20

// WAV format tags.
const (
	wavPCM        = 1
	wavFloat      = 3
	wavExtensible = 0xFFFE
)

// ReadWAV reads a RIFF WAVE file of integer PCM (8, 16, 24 or 32 bits) or
// floating point (32 or 64 bits) samples, any number of channels and any
// rate. Errors name the file and what is wrong with it.
func ReadWAV(path string) (PCM, error) {
	f, err := os.Open(path)
	if err != nil {
		return PCM{}, fmt.Errorf("read WAV: %w", err)
	}
	defer f.Close()
	p, err := DecodeWAV(f)
	if err != nil {
		return PCM{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// DecodeWAV decodes a RIFF WAVE stream; see ReadWAV.
func DecodeWAV(r io.Reader) (PCM, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return PCM{}, fmt.Errorf("not a WAV file: %d-byte RIFF header is missing or short (%v)", len(hdr), err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return PCM{}, fmt.Errorf("not a WAV file: starts with %q, want \"RIFF....WAVE\"", printable(hdr[:]))
	}
	var (
		p       PCM
		haveFmt bool
		tag     uint16
		align   int
	)
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if errors.Is(err, io.EOF) {
				if !haveFmt {
					return PCM{}, errors.New("bad WAV header: no fmt chunk")
				}
				return PCM{}, errors.New("bad WAV file: no data chunk")
			}
			return PCM{}, fmt.Errorf("truncated WAV file: chunk header cut short (%v)", err)
		}
		id, size := string(ch[0:4]), int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return PCM{}, fmt.Errorf("bad WAV header: fmt chunk of %d bytes, want 16 to 1024", size)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return PCM{}, fmt.Errorf("truncated WAV file: fmt chunk cut short (%v)", err)
			}
			var err error
			if p, tag, align, err = parseFmt(b[:size]); err != nil {
				return PCM{}, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return PCM{}, errors.New("bad WAV header: data chunk before the fmt chunk")
			}
			if size > MaxWAVBytes {
				return PCM{}, fmt.Errorf("WAV data chunk of %d bytes is longer than the %d bytes allowed", size, MaxWAVBytes)
			}
			data := make([]byte, size)
			n, err := io.ReadFull(r, data)
			if err != nil {
				return PCM{}, fmt.Errorf("truncated WAV file: data chunk says %d bytes, file has %d", size, n)
			}
			if int(size)%align != 0 {
				return PCM{}, fmt.Errorf("bad WAV file: data chunk of %d bytes is not whole frames of %d bytes", size, align)
			}
			p.Samples = decodeSamples(data, tag, p.Bits)
			return p, nil
		default:
			// LIST, fact, cue... are not needed.
			if _, err := io.CopyN(io.Discard, r, size+size%2); err != nil {
				if errors.Is(err, io.EOF) {
					return PCM{}, fmt.Errorf("truncated WAV file: %q chunk cut short", printable(ch[0:4]))
				}
				return PCM{}, fmt.Errorf("read WAV chunk %q: %w", printable(ch[0:4]), err)
			}
		}
	}
}

// parseFmt reads a fmt chunk: the format, the resolved format tag (PCM or
// float) and the bytes per frame.
func parseFmt(b []byte) (PCM, uint16, int, error) {
	le := binary.LittleEndian
	tag := le.Uint16(b[0:2])
	channels := int(le.Uint16(b[2:4]))
	rate := int(le.Uint32(b[4:8]))
	align := int(le.Uint16(b[12:14]))
	bits := int(le.Uint16(b[14:16]))
	if tag == wavExtensible {
		if len(b) < 40 {
			return PCM{}, 0, 0, fmt.Errorf("bad WAV header: extensible fmt chunk of %d bytes, want 40", len(b))
		}
		// The sub-format GUID starts with the format tag it stands for.
		tag = le.Uint16(b[24:26])
	}
	var p PCM
	switch tag {
	case wavPCM:
		if bits != 8 && bits != 16 && bits != 24 && bits != 32 {
			return p, 0, 0, fmt.Errorf("unsupported WAV format: %d-bit integer PCM, want 8, 16, 24 or 32 bits", bits)
		}
	case wavFloat:
		if bits != 32 && bits != 64 {
			return p, 0, 0, fmt.Errorf("unsupported WAV format: %d-bit floating point, want 32 or 64 bits", bits)
		}
		p.Float = true
	default:
		return p, 0, 0, fmt.Errorf("unsupported WAV format: format tag %#04x (%s), want PCM (1) or IEEE float (3)", tag, formatName(tag))
	}
	if channels < 1 || channels > 32 {
		return p, 0, 0, fmt.Errorf("bad WAV header: %d channels, want 1 to 32", channels)
	}
	if rate < 1000 || rate > 768000 {
		return p, 0, 0, fmt.Errorf("bad WAV header: sample rate %d Hz, want 1000 to 768000", rate)
	}
	if align != channels*bits/8 {
		return p, 0, 0, fmt.Errorf("bad WAV header: block align %d, want %d for %d channels of %d bits", align, channels*bits/8, channels, bits)
	}
	p.Rate, p.Channels, p.Bits = rate, channels, bits
	return p, tag, align, nil
}

// decodeSamples converts little-endian samples to floats with full scale
// ±1. Non-finite float samples become 0 (NaN) or ±1 (infinities).
func decodeSamples(data []byte, tag uint16, bits int) []float32 {
	le := binary.LittleEndian
	size := bits / 8
	out := make([]float32, len(data)/size)
	for i := range out {
		b := data[i*size : (i+1)*size]
		switch {
		case tag == wavFloat && bits == 32:
			out[i] = finite(float64(math.Float32frombits(le.Uint32(b))))
		case tag == wavFloat:
			out[i] = finite(math.Float64frombits(le.Uint64(b)))
		case bits == 8:
			out[i] = float32(int(b[0])-128) / 128
		case bits == 16:
			out[i] = float32(int16(le.Uint16(b))) / (1 << 15)
		case bits == 24:
			v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
			out[i] = float32(float64(v) / (1 << 23))
		default:
			out[i] = float32(float64(int32(le.Uint32(b))) / (1 << 31))
		}
	}
	return out
}

func finite(x float64) float32 {
	switch {
	case math.IsNaN(x):
		return 0
	case math.IsInf(x, 1):
		return 1
	case math.IsInf(x, -1):
		return -1
	}
	return float32(x)
}

func formatName(tag uint16) string {
	switch tag {
	case 2:
		return "Microsoft ADPCM"
	case 6:
		return "A-law"
	case 7:
		return "mu-law"
	case 0x11:
		return "IMA ADPCM"
	case 0x55:
		return "MP3"
	}
	return "not PCM"
}

// printable shows header bytes for an error message.
func printable(b []byte) string {
	return string(bytes.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '.'
		}
		return r
	}, b))
}
