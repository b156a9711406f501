package reportzip

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/standard"
)

var train = flag.Bool("train", false, "train a dictionary on the simulator's reports and write it as dicts/NEXT.zdict (go generate)")

// simReports returns n reports of each of rooms simulated rooms, encoded
// as agents send them, a minute apart: seed picks the readings.
func simReports(tb testing.TB, rooms, n int, seed uint64) [][]byte {
	tb.Helper()
	std, err := standard.Default()
	if err != nil {
		tb.Fatal(err)
	}
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	var out [][]byte
	for i := range rooms {
		r := fleetsim.NewRoom(i, 30, seed, std, fmt.Sprintf("v1.%d.%d", seed%7, i%3))
		for j := range n {
			rep := r.Run(context.Background())
			rep.MeasuredAt = t0.Add(time.Duration(j) * time.Minute)
			p, err := rep.Encode()
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, p)
		}
	}
	return out
}

// meanCompressed is the mean size of the reports compressed by enc, with
// Compress's two bytes of header.
func meanCompressed(enc *zstd.Encoder, reports [][]byte) float64 {
	var n int
	for _, r := range reports {
		n += 2 + len(enc.EncodeAll(r, nil))
	}
	return float64(n) / float64(len(reports))
}

// TestTrainDictionary, with -train, trains a dictionary on the simulator's
// reports and writes it as the next dictionary id, which Compress then
// uses (old values keep reading with theirs). Run it when the reports'
// shape changes (new checks, new fields): go generate ./internal/reportzip.
func TestTrainDictionary(t *testing.T) {
	if !*train {
		t.Skip("trains only with -train")
	}
	samples := simReports(t, 400, 5, 1)
	// The dictionary's content is 32 KiB of whole reports, rooms of every
	// profile (zstd's own builder: with klauspost/compress/dict's the
	// reports compress to about 860 bytes, with this about 430).
	var history []byte
	for i := 0; len(history) < 32<<10; i += 37 {
		history = append(history, samples[i%len(samples)]...)
	}
	history = history[len(history)-32<<10:]
	d, err := zstd.BuildDict(zstd.BuildDictOptions{ID: uint32(current) + 1, Contents: samples, History: history,
		Offsets: [3]int{1, 4, 8}, Level: zstd.SpeedBetterCompression})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewEncoder(d)
	if err != nil {
		t.Fatal(err)
	}
	held := simReports(t, 100, 2, 99) // rooms and readings it was not trained on
	before, after := meanCompressed(encoder, held), meanCompressed(enc, held)
	file := filepath.Join("dicts", fmt.Sprintf("%d.zdict", current+1))
	if err := os.WriteFile(file, d, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes): %.0f bytes a report with it, %.0f with dictionary %d", file, len(d), after, before, current)
}

// TestCompress_SimulatorReportsFitTheTarget: the simulator's reports, of
// rooms and readings the dictionary was not trained on, compress to at
// most 800 bytes on average (the history's target is 1 KiB a report on
// disk, bbolt's keys and pages included), and read back the same.
func TestCompress_SimulatorReportsFitTheTarget(t *testing.T) {
	reports := simReports(t, 100, 2, 99)
	var raw, packed int
	for _, r := range reports {
		v := Compress(nil, r)
		raw, packed = raw+len(r), packed+len(v)
		got, err := Decompress(nil, v)
		if err != nil || !bytes.Equal(got, r) {
			t.Fatalf("round trip: %v\n%s\n%s", err, got, r)
		}
	}
	mean := float64(packed) / float64(len(reports))
	t.Logf("%d reports: %.0f bytes of JSON, %.0f compressed (dictionary %d)", len(reports), float64(raw)/float64(len(reports)), mean, Current())
	if mean > 800 {
		t.Errorf("%.0f bytes a report compressed, want at most 800", mean)
	}
}

// TestDecompress_EveryDictionaryAndPlainJSON: values compressed with each
// shipped dictionary (and none) read back, JSON stored before compression
// reads as it is, and anything else is refused.
func TestDecompress_EveryDictionaryAndPlainJSON(t *testing.T) {
	dicts, err := Dictionaries()
	if err != nil {
		t.Fatal(err)
	}
	dicts[0] = nil
	report := simReports(t, 1, 1, 5)[0]
	for id, d := range dicts {
		enc, err := NewEncoder(d)
		if err != nil {
			t.Fatalf("dictionary %d: %v", id, err)
		}
		v := enc.EncodeAll(report, []byte{Magic, id})
		if got, err := Decompress(nil, v); err != nil || !bytes.Equal(got, report) {
			t.Errorf("dictionary %d: %v", id, err)
		}
	}
	for _, plain := range [][]byte{report, []byte(" {}"), []byte("\n{}")} {
		if got, err := Decompress(nil, plain); err != nil || !bytes.Equal(got, plain) {
			t.Errorf("plain JSON %.10q: %q, %v", plain, got, err)
		}
	}
	for _, tc := range []struct {
		name string
		v    []byte
		want string
	}{
		{"empty", nil, "an empty value"},
		{"binary", []byte{0x00, 1, 2}, "first byte 0x0"},
		{"cut short", []byte{Magic}, "cut short"},
		{"unknown dictionary", []byte{Magic, 250, 1, 2}, "dictionary 250, which this build does not have"},
		{"damaged frame", append([]byte{Magic, Current()}, 0x28, 0xb5, 0x2f, 0xfd, 9, 9, 9), "decompress"},
	} {
		_, err := Decompress(nil, tc.v)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

func BenchmarkCompress(b *testing.B) {
	reports := simReports(b, 100, 1, 7)
	b.ReportAllocs()
	b.SetBytes(int64(len(reports[0])))
	var buf []byte
	for i := 0; b.Loop(); i++ {
		buf = Compress(buf[:0], reports[i%len(reports)])
	}
}

func BenchmarkDecompress(b *testing.B) {
	reports := simReports(b, 100, 1, 7)
	var packed [][]byte
	for _, r := range reports {
		packed = append(packed, Compress(nil, r))
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(reports[0])))
	var buf []byte
	for i := 0; b.Loop(); i++ {
		var err error
		if buf, err = Decompress(buf[:0], packed[i%len(packed)]); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecompress: no value makes Decompress panic or return more than
// MaxSize, and whatever Compress makes, Decompress gives back.
func FuzzDecompress(f *testing.F) {
	report := simReports(f, 1, 1, 3)[0]
	f.Add(report)
	f.Add(Compress(nil, report))
	f.Add([]byte{Magic, 0})
	f.Add([]byte{Magic, 1, 0x28, 0xb5, 0x2f, 0xfd})
	f.Fuzz(func(t *testing.T, v []byte) {
		if out, err := Decompress(nil, v); err == nil && len(out) > MaxSize {
			t.Fatalf("%d bytes out of %d", len(out), len(v))
		}
		got, err := Decompress(nil, Compress(nil, v))
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("round trip of %q: %q, %v", v, got, err)
		}
	})
}
