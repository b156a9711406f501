package audio_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siaprapat/siaprapat/agent/audio"
)

func TestDecodeWAV_ReadsPCMAndFloatFormats(t *testing.T) {
	for _, tc := range []struct {
		name           string
		rate, channels int
		bits           int // -32: float
	}{
		{"16-bit mono 48 kHz", 48000, 1, 16},
		{"16-bit stereo 44.1 kHz", 44100, 2, 16},
		{"16-bit mono 16 kHz", 16000, 1, 16},
		{"24-bit stereo 96 kHz", 96000, 2, 24},
		{"32-bit mono 48 kHz", 48000, 1, 32},
		{"float stereo 48 kHz", 48000, 2, -32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := sine(tc.rate, 0.5, 1000, -20)
			p, err := audio.DecodeWAV(bytes.NewReader(wavBytes(t, tc.rate, tc.channels, tc.bits, x)))
			if err != nil {
				t.Fatal(err)
			}
			wantBits := max(tc.bits, -tc.bits)
			if p.Rate != tc.rate || p.Channels != tc.channels || p.Bits != wantBits || p.Float != (tc.bits < 0) {
				t.Errorf("format %d Hz, %d channels, %d bits, float %v", p.Rate, p.Channels, p.Bits, p.Float)
			}
			if p.Frames() != len(x) {
				t.Errorf("%d frames, want %d", p.Frames(), len(x))
			}
			if l := audio.Analyze(p); math.Abs(l.RMS+20) > 0.05 {
				t.Errorf("RMS %.3f dBFS, want -20", l.RMS)
			}
			// Every channel carries the signal, sample for sample.
			for i := 0; i < p.Frames(); i += 997 {
				for c := 0; c < p.Channels; c++ {
					if d := math.Abs(float64(p.Samples[i*p.Channels+c]) - x[i]); d > 1.0/32768 {
						t.Fatalf("frame %d channel %d: %v, want %v", i, c, p.Samples[i*p.Channels+c], x[i])
					}
				}
			}
		})
	}
}

func TestDecodeWAV_SkipsOtherChunksAndReadsExtensible(t *testing.T) {
	good := wavBytes(t, 48000, 1, 16, sine(48000, 0.1, 440, -6))
	// A LIST chunk of odd length (padded) between fmt and data.
	withList := append([]byte{}, good[:36]...)
	withList = append(withList, []byte("LIST\x03\x00\x00\x00abc\x00")...)
	withList = append(withList, good[36:]...)
	// WAVE_FORMAT_EXTENSIBLE with the PCM sub-format.
	ext := append([]byte{}, good[:12]...)
	ext = append(ext, []byte("fmt ")...)
	ext = binary.LittleEndian.AppendUint32(ext, 40)
	ext = binary.LittleEndian.AppendUint16(ext, 0xFFFE)
	ext = append(ext, good[22:36]...) // channels, rate, byte rate, align, bits
	ext = binary.LittleEndian.AppendUint16(ext, 22)
	ext = binary.LittleEndian.AppendUint16(ext, 16) // valid bits
	ext = binary.LittleEndian.AppendUint32(ext, 4)  // channel mask
	ext = append(ext, 1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71)
	ext = append(ext, good[36:]...)
	for name, b := range map[string][]byte{"LIST chunk": withList, "extensible": ext} {
		p, err := audio.DecodeWAV(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if p.Frames() != 4800 || p.Bits != 16 {
			t.Errorf("%s: %d frames of %d bits, want 4800 of 16", name, p.Frames(), p.Bits)
		}
	}
}

func TestReadWAV_BadFilesSayWhatIsWrong(t *testing.T) {
	good := wavBytes(t, 48000, 2, 16, sine(48000, 0.1, 440, -20))
	le := binary.LittleEndian
	patch := func(at int, v uint16) []byte {
		b := append([]byte{}, good...)
		le.PutUint16(b[at:], v)
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty file", nil, "not a WAV file"},
		{"not RIFF", []byte("ID3\x03\x00\x00\x00\x00\x00\x00\x00\x00 an MP3"), `not a WAV file: starts with "ID3`},
		{"RIFF but not WAVE", append([]byte("RIFF\x00\x00\x00\x00AVI "), good[12:]...), "not a WAV file"},
		{"mu-law", patch(20, 7), "unsupported WAV format: format tag 0x0007 (mu-law), want PCM (1) or IEEE float (3)"},
		{"MP3 in WAV", patch(20, 0x55), "(MP3)"},
		{"12-bit PCM", patch(34, 12), "12-bit integer PCM"},
		{"no channels", patch(22, 0), "0 channels"},
		{"wrong block align", patch(32, 3), "block align 3, want 4"},
		{"header cut in fmt", good[:30], "truncated WAV file: fmt chunk cut short"},
		{"no data chunk", good[:36], "no data chunk"},
		{"data cut short", good[:len(good)-1001], "truncated WAV file: data chunk says 19200 bytes, file has 18199"},
		{"data before fmt", append(append([]byte{}, good[:12]...), good[36:]...), "data chunk before the fmt chunk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "room.wav")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := audio.ReadWAV(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path+": ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q; want the file's name and %q", err, tc.want)
			}
		})
	}
}
