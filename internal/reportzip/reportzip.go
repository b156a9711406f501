// Package reportzip compresses reports for storage: zstd with a dictionary
// trained on the fleet simulator's reports and shipped in the binary, so
// that a report of about 5 KiB of JSON is stored in a few hundred bytes.
//
// A compressed value is Magic, the id of the dictionary it was compressed
// with (0 for none), and a zstd frame. Dictionaries live in dicts/ID.zdict; a new one
// (retrained when the reports change, see TestTrainDictionary) gets the next
// id and compresses every report from then on, while values compressed with
// an older one still read. A value that begins like JSON ('{' or white
// space) is a report stored uncompressed before this package: Decompress
// returns it as it is, so that older stores read without a migration.
package reportzip

//go:generate go test . -run TestTrainDictionary -train -v

import (
	"embed"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Magic is a compressed value's first byte: neither JSON's first byte nor
// anything else the stores wrote before.
const Magic = 0xb5

// MaxSize bounds a decompressed value (the largest report the wire takes,
// with room to spare), so that a damaged value cannot ask for gigabytes.
const MaxSize = 1 << 20

//go:embed dicts
var dictFiles embed.FS

// ErrNotCompressed says a value is neither compressed by this package nor
// JSON.
var ErrNotCompressed = errors.New("neither a compressed report nor JSON")

var (
	encoder *zstd.Encoder
	// current is the id new values are compressed with: the highest.
	current  byte
	decoders = map[byte]*zstd.Decoder{}
)

// The embedded files are part of the build (a test reads each): one that
// does not load is a broken build, not an input.
func init() {
	dicts, err := Dictionaries()
	if err != nil {
		panic(err)
	}
	dicts[0] = nil // no dictionary: always there
	for id, d := range dicts {
		opts := []zstd.DOption{zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(MaxSize), zstd.WithDecoderMaxWindow(MaxSize)}
		if d != nil {
			opts = append(opts, zstd.WithDecoderDicts(d))
		}
		dec, err := zstd.NewReader(nil, opts...)
		if err != nil {
			panic(fmt.Sprintf("reportzip: dictionary %d: %v", id, err))
		}
		decoders[id] = dec
		current = max(current, id)
	}
	if encoder, err = NewEncoder(dicts[current]); err != nil {
		panic(fmt.Sprintf("reportzip: dictionary %d: %v", current, err))
	}
}

// NewEncoder returns an encoder as Compress uses, for a dictionary in
// zstd's format (nil for none). The fastest level: with the dictionary,
// better levels gain 6 % (435 bytes a report, not 463) for 5 to 15 times
// the CPU, most of it setting up their larger tables for each report.
func NewEncoder(dict []byte) (*zstd.Encoder, error) {
	opts := []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithZeroFrames(true)}
	if dict != nil {
		opts = append(opts, zstd.WithEncoderDict(dict))
	}
	return zstd.NewWriter(nil, opts...)
}

// Dictionaries returns the embedded dictionaries by id.
func Dictionaries() (map[byte][]byte, error) {
	entries, err := dictFiles.ReadDir("dicts")
	if err != nil {
		return nil, err
	}
	out := map[byte][]byte{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".zdict") {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(e.Name(), ".zdict"), 10, 8)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("reportzip: dictionary file %s: want ID.zdict with ID 1 to 255", e.Name())
		}
		if out[byte(id)], err = dictFiles.ReadFile(path.Join("dicts", e.Name())); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Current is the id of the dictionary Compress uses.
func Current() byte { return current }

// Compress appends the compressed value of a report's JSON to dst.
func Compress(dst, json []byte) []byte {
	dst = append(dst, Magic, current)
	return encoder.EncodeAll(json, dst)
}

// Decompress returns the JSON of a stored value: decompressed, or as it is
// when it was stored uncompressed. It appends to dst when it decompresses.
func Decompress(dst, v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("an empty value: %w", ErrNotCompressed)
	}
	switch v[0] {
	case Magic:
	case '{', ' ', '\t', '\n', '\r':
		return v, nil
	default:
		return nil, fmt.Errorf("first byte %#x: %w", v[0], ErrNotCompressed)
	}
	if len(v) < 2 {
		return nil, errors.New("a compressed value cut short")
	}
	dec := decoders[v[1]]
	if dec == nil {
		return nil, fmt.Errorf("compressed with dictionary %d, which this build does not have (it has 0 to %d)", v[1], current)
	}
	out, err := dec.DecodeAll(v[2:], dst)
	if err != nil {
		return nil, fmt.Errorf("decompress (dictionary %d): %w", v[1], err)
	}
	return out, nil
}
