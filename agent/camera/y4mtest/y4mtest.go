// Package y4mtest writes YUV4MPEG2 clips for tests (the camera check's own
// and end-to-end tests of the agent): a healthy moving picture, black,
// frozen, a covered lens, or a clip that ends early. Only tests import it.
package y4mtest

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
)

// Pattern is what a clip shows.
type Pattern string

const (
	// Moving is a checkerboard of 40-pixel squares sliding 4 pixels a frame,
	// with sensor-like noise: a healthy camera.
	Moving Pattern = "moving"
	// Black is video black (Y=16) with a level of noise: a lens cap.
	Black Pattern = "black"
	// Frozen is one detailed, noisy picture repeated byte for byte: a hung
	// pipeline.
	Frozen Pattern = "frozen"
	// Grey is near-uniform grey with slight vignetting and noise: a
	// covered lens.
	Grey Pattern = "grey"
	// Short is the moving picture for only 40 % of Duration: a clip that
	// ends before a capture window of Duration.
	Short Pattern = "short"
)

// Clip describes a clip to write. Zero fields take the defaults.
type Clip struct {
	Width, Height int           // 1280x720 when zero
	FPS           int           // frame rate (header F<FPS>:1); 30 when zero
	Duration      time.Duration // 3 s when zero
	Pattern       Pattern       // Moving when empty
	// Colorspace is the header's C parameter: 420jpeg (when empty),
	// 420mpeg2, 420paldv, 420, 411, 422, 444, mono, or 420p10, 422p10,
	// 444p10, mono10 (and other depths from 9 to 16) for two-byte samples.
	Colorspace string
	Seed       uint64 // of the noise
}

func (c Clip) withDefaults() Clip {
	if c.Width == 0 {
		c.Width = 1280
	}
	if c.Height == 0 {
		c.Height = 720
	}
	if c.FPS == 0 {
		c.FPS = 30
	}
	if c.Duration == 0 {
		c.Duration = 3 * time.Second
	}
	if c.Pattern == "" {
		c.Pattern = Moving
	}
	if c.Colorspace == "" {
		c.Colorspace = "420jpeg"
	}
	return c
}

// Frames is the number of frames the clip holds.
func (c Clip) Frames() int {
	c = c.withDefaults()
	n := int(math.Round(c.Duration.Seconds() * float64(c.FPS)))
	if c.Pattern == Short {
		n = n * 4 / 10
	}
	return n
}

// Write writes the clip to a file.
func Write(path string, c Clip) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Encode(f, c); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// layout is the plane geometry of a colour space.
type layout struct {
	chromaW, chromaH int // 0 without chroma
	alpha            bool
	depth            int
}

func parseLayout(c string) (layout, error) {
	l := layout{depth: 8}
	rest := ""
	switch {
	case strings.HasPrefix(c, "420"):
		l.chromaW, l.chromaH, rest = 2, 2, c[3:]
		if rest == "jpeg" || rest == "mpeg2" || rest == "paldv" {
			rest = ""
		}
	case strings.HasPrefix(c, "411"):
		l.chromaW, l.chromaH, rest = 4, 1, c[3:]
	case strings.HasPrefix(c, "422"):
		l.chromaW, l.chromaH, rest = 2, 1, c[3:]
	case c == "444alpha":
		l.chromaW, l.chromaH, l.alpha = 1, 1, true
	case strings.HasPrefix(c, "444"):
		l.chromaW, l.chromaH, rest = 1, 1, c[3:]
	case strings.HasPrefix(c, "mono"):
		if rest = c[4:]; rest != "" {
			rest = "p" + rest
		}
	default:
		return l, fmt.Errorf("colour space %q is not supported", c)
	}
	if rest != "" {
		bits, err := strconv.Atoi(strings.TrimPrefix(rest, "p"))
		if !strings.HasPrefix(rest, "p") || err != nil || bits < 9 || bits > 16 {
			return l, fmt.Errorf("colour space %q is not supported", c)
		}
		l.depth = bits
	}
	return l, nil
}

// Encode writes the clip.
func Encode(w io.Writer, c Clip) error {
	c = c.withDefaults()
	if c.Width <= 0 || c.Height <= 0 || c.FPS <= 0 || c.Duration < 0 {
		return fmt.Errorf("bad clip %dx%d at %d fps for %v", c.Width, c.Height, c.FPS, c.Duration)
	}
	l, err := parseLayout(c.Colorspace)
	if err != nil {
		return err
	}
	switch c.Pattern {
	case Moving, Black, Frozen, Grey, Short:
	default:
		return fmt.Errorf("unknown pattern %q", c.Pattern)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := fmt.Fprintf(bw, "YUV4MPEG2 W%d H%d F%d:1 Ip A1:1 C%s\n", c.Width, c.Height, c.FPS, c.Colorspace); err != nil {
		return err
	}
	g := newGenerator(c)
	bytesPer := 1
	if l.depth > 8 {
		bytesPer = 2
	}
	rest := 0
	if l.chromaW > 0 {
		rest = 2 * ((c.Width + l.chromaW - 1) / l.chromaW) * ((c.Height + l.chromaH - 1) / l.chromaH)
	}
	if l.alpha {
		rest += c.Width * c.Height
	}
	// Neutral chroma (and opaque alpha, which the analysis ignores).
	tail := make([]byte, rest*bytesPer)
	for i := 0; i < rest; i++ {
		v := 128 << (l.depth - 8)
		if bytesPer == 2 {
			tail[2*i], tail[2*i+1] = byte(v), byte(v>>8)
		} else {
			tail[i] = byte(v)
		}
	}
	deep := make([]byte, 2*c.Width)
	for i := 0; i < c.Frames(); i++ {
		if _, err := io.WriteString(bw, "FRAME\n"); err != nil {
			return err
		}
		luma := g.frame(i)
		if bytesPer == 1 {
			if _, err := bw.Write(luma); err != nil {
				return err
			}
		} else {
			for y := 0; y < c.Height; y++ {
				for x, v := range luma[y*c.Width : (y+1)*c.Width] {
					s := uint16(v) << (l.depth - 8)
					deep[2*x], deep[2*x+1] = byte(s), byte(s>>8)
				}
				if _, err := bw.Write(deep); err != nil {
					return err
				}
			}
		}
		if _, err := bw.Write(tail); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// generator draws the luma of each frame into one reused buffer.
type generator struct {
	c     Clip
	rng   *rand.Rand
	noise []int8 // a table of noise samples, read at random offsets
	luma  []byte
	drawn bool // Frozen: the picture is drawn once
}

const noiseTable = 1 << 16

func newGenerator(c Clip) *generator {
	g := &generator{c: c, rng: rand.New(rand.NewPCG(c.Seed, 0x5eed)), luma: make([]byte, c.Width*c.Height)}
	// Noise of about 1.5 levels RMS: what a webcam gives in good light.
	g.noise = make([]int8, noiseTable+c.Width)
	for i := range g.noise {
		g.noise[i] = int8(math.Round(g.rng.NormFloat64() * 1.5))
	}
	return g
}

func (g *generator) frame(i int) []byte {
	w, h := g.c.Width, g.c.Height
	switch g.c.Pattern {
	case Moving, Short:
		g.checkerboard(4 * i)
	case Frozen:
		if !g.drawn {
			g.checkerboard(0)
			g.drawn = true
		}
	case Black:
		for y := 0; y < h; y++ {
			n := g.noiseRow()
			row := g.luma[y*w : (y+1)*w]
			for x := range row {
				row[x] = byte(16 + absInt8(n[x])/2) // sensor noise sits above black
			}
		}
	case Grey:
		cx, cy := float64(w)/2, float64(h)/2
		r2 := cx*cx + cy*cy
		for y := 0; y < h; y++ {
			n := g.noiseRow()
			row := g.luma[y*w : (y+1)*w]
			dy := (float64(y) - cy) * (float64(y) - cy)
			for x := range row {
				dx := float64(x) - cx
				vignette := 8 * (dx*dx + dy) / r2
				row[x] = clamp(120 - int(vignette) + int(n[x]))
			}
		}
	}
	return g.luma
}

// checkerboard draws 40-pixel squares of luma 60 and 190, shifted right by
// shift pixels, with noise.
func (g *generator) checkerboard(shift int) {
	w, h := g.c.Width, g.c.Height
	for y := 0; y < h; y++ {
		n := g.noiseRow()
		row := g.luma[y*w : (y+1)*w]
		for x := range row {
			v := 60
			if ((x+shift)/40+y/40)%2 == 1 {
				v = 190
			}
			row[x] = clamp(v + int(n[x]))
		}
	}
}

// noiseRow returns a row's worth of noise from a random place in the table.
func (g *generator) noiseRow() []int8 {
	off := g.rng.IntN(noiseTable)
	return g.noise[off : off+g.c.Width]
}

func clamp(v int) byte {
	return byte(min(max(v, 0), 255))
}

func absInt8(v int8) int {
	if v < 0 {
		return -int(v)
	}
	return int(v)
}
