package camera

import (
	"fmt"
	"math"
)

// Thresholds of the per-frame analysis, on the 0..255 luma scale. The
// figures are our judgement; the standard's rules then judge the shares of
// frames they flag.
const (
	// A frame is black when its mean luma is at most 16 levels above video
	// black (Y=16; full-range black is 0) and it has next to no variation
	// (standard deviation below 12): a lens cap, a closed privacy shutter, a
	// dead sensor. A dark room with a lit window or a screen has a higher
	// deviation and is not black.
	blackMeanMax = 16 + 16
	blackStdMax  = 12

	// A frame is frozen when the mean absolute luma difference to the frame
	// before, over the sampled pixels, is below 0.1 level: fewer than one
	// sample in ten moved by a single level. A repeated buffer (a hung
	// pipeline) differs by exactly 0, a re-encoded repeat by a few
	// hundredths. A real sensor looking at a static scene still has temporal
	// noise of about 1 level RMS or more, which gives a mean absolute
	// difference near 1; the sensor's own temporal noise reduction lowers
	// that, but not by a factor of ten.
	frozenDiffMax = 0.1

	// A frame has almost no detail when its luma deviation is below 8
	// (a covered lens, a uniform wall: what varies is noise and vignetting)
	// or when fewer than 0.5 % of the sampled pixels sit on an edge, an edge
	// being a local contrast |dx|+|dy| above 24 levels between samples one
	// sampling step apart (a picture badly out of focus: a blur of 20 pixels
	// spreads even a black-to-white step below that). Sensor noise of a few
	// levels RMS rarely reaches 24, and up to about 6 levels RMS (a covered
	// lens at high gain) its deviation stays below 8. A room scene has edges
	// wherever furniture, people or a window meet the wall: several per cent
	// of the samples.
	lowDetailStdMax       = 8
	edgeContrastMin       = 24
	lowDetailEdgeShareMax = 0.005

	// The analysis samples at most about this many pixels per row and rows
	// per frame (every 4th pixel of every 4th row at 1920x1080).
	maxSamplesPerRow = 480
	maxSampleRows    = 270
)

// frameStats is the analysis of one frame.
type frameStats struct {
	Mean, Std float64 // luma
	EdgeShare float64 // share of samples on an edge
	Diff      float64 // mean absolute luma difference to the previous frame; -1 for the first
	Black     bool
	Frozen    bool
	LowDetail bool
}

// analyzer measures a sequence of frames. It allocates only when the frame
// size changes, so analysing a steady stream costs no allocations.
type analyzer struct {
	w, h, step int
	prev, cur  []byte // sampled luma of the previous and the current frame
	havePrev   bool

	frames, compared         int
	black, frozen, lowDetail int
}

// samplingStep is the distance between sampled pixels, in both directions.
func samplingStep(w, h int) int {
	s := max((w+maxSamplesPerRow-1)/maxSamplesPerRow, (h+maxSampleRows-1)/maxSampleRows)
	return max(s, 1)
}

// add analyses one frame and counts it.
func (a *analyzer) add(f Frame) (frameStats, error) {
	w, h, stride := f.Width, f.Height, f.Stride
	if w <= 0 || h <= 0 || stride < w || len(f.Y) < (h-1)*stride+w {
		return frameStats{}, fmt.Errorf("malformed frame: %dx%d, stride %d, %d bytes of luma", w, h, stride, len(f.Y))
	}
	if w != a.w || h != a.h {
		// A new size (the first frame, or the camera switched mode): start over.
		a.w, a.h, a.step = w, h, samplingStep(w, h)
		n := ((w + a.step - 1) / a.step) * ((h + a.step - 1) / a.step)
		a.prev, a.cur = make([]byte, n), make([]byte, n)
		a.havePrev = false
	}
	step, prev, cur := a.step, a.prev, a.cur
	var sum, sumSq, diff int64
	var edges, k int
	for y := 0; y < h; y += step {
		row := f.Y[y*stride : y*stride+w]
		var below []byte
		if y+step < h {
			below = f.Y[(y+step)*stride : (y+step)*stride+w]
		}
		// The last sampled column has no right neighbour.
		last := ((w - 1) / step) * step
		for x := 0; x < w; x += step {
			v := int(row[x])
			sum += int64(v)
			sumSq += int64(v * v)
			g := 0
			if x < last {
				g = absInt(int(row[x+step]) - v)
			}
			if below != nil {
				g += absInt(int(below[x]) - v)
			}
			if g > edgeContrastMin {
				edges++
			}
			diff += int64(absInt(v - int(prev[k])))
			cur[k] = byte(v)
			k++
		}
	}
	n := float64(k)
	mean := float64(sum) / n
	variance := float64(sumSq)/n - mean*mean
	st := frameStats{
		Mean:      mean,
		Std:       math.Sqrt(max(variance, 0)),
		EdgeShare: float64(edges) / n,
		Diff:      -1,
	}
	st.Black = st.Mean < blackMeanMax && st.Std < blackStdMax
	st.LowDetail = st.Std < lowDetailStdMax || st.EdgeShare < lowDetailEdgeShareMax
	if a.havePrev {
		st.Diff = float64(diff) / n
		st.Frozen = st.Diff < frozenDiffMax
		a.compared++
		if st.Frozen {
			a.frozen++
		}
	}
	a.frames++
	if st.Black {
		a.black++
	}
	if st.LowDetail {
		a.lowDetail++
	}
	a.prev, a.cur, a.havePrev = cur, prev, true
	return st, nil
}

// ratios returns the shares of analysed frames that were black, frozen
// (of the frames that had one before) and low in detail.
func (a *analyzer) ratios() (black, frozen, lowDetail float64) {
	if a.frames > 0 {
		black = float64(a.black) / float64(a.frames)
		lowDetail = float64(a.lowDetail) / float64(a.frames)
	}
	if a.compared > 0 {
		frozen = float64(a.frozen) / float64(a.compared)
	}
	return black, frozen, lowDetail
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
