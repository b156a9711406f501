package netcheck

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// sampleInterval is how often the agent reads its download byte count
// (the probe keeps its upload timeline at the same pace).
const sampleInterval = 50 * time.Millisecond

// sample is a receiver's byte count at a time on the receiver's clock.
type sample struct {
	at    time.Duration
	bytes int64
}

// goodput is the outcome of one direction.
type goodput struct {
	bitsPerSecond float64
	short         bool    // the byte budget ran out before the window ended
	steady        bool    // the rate was steady before the window ended
	bytes         int64   // moved in this direction (by the sender's count for uploads)
	seconds       float64 // from the first stream's start to the last one's end
}

// Steadiness: after the ramp-up, the transfer's progress is read every
// steadySlice; once the last steadySlices slices' rates all lie within
// steadyTolerance of their mean, the rate is steady and the direction ends
// (the window is at most Config.Window). The goodput is still the fitted
// rate over the window as it ran.
const (
	steadySlice     = 500 * time.Millisecond
	steadySlices    = 4 // the last 2 s
	steadyTolerance = 0.08
)

// steady reports whether the last steadySlices slices of a progress count
// sampled every steadySlice moved at the same rate.
func steady(counts []int64) bool {
	if len(counts) < steadySlices+1 {
		return false
	}
	last := counts[len(counts)-steadySlices-1:]
	var sum float64
	for i := 1; i < len(last); i++ {
		sum += float64(last[i] - last[i-1])
	}
	mean := sum / steadySlices
	if mean <= 0 {
		return false
	}
	for i := 1; i < len(last); i++ {
		if d := float64(last[i]-last[i-1]) - mean; d > steadyTolerance*mean || -d > steadyTolerance*mean {
			return false
		}
	}
	return true
}

// window is when the measured part of a transfer began and ended, on the
// receiver's clock.
type window struct {
	start, end sample
	short      bool
	steady     bool
}

// measureWindow runs n streams and reads the receiver's count before they
// start, when the ramp-up ends and when the window ends. A stream that ends
// by itself (its share of the byte budget moved) ends the window there, and
// a window cut short in its ramp-up is measured from the start; a stream that
// fails fails the measure.
// progress, when not nil, counts the direction's bytes as it goes, for
// ending the window once the rate is steady.
func measureWindow(ctx context.Context, p plan, n int, stream func(ctx context.Context) error, read func(ctx context.Context) (sample, error), progress func() int64) (window, error) {
	s0, err := read(ctx)
	if err != nil {
		return window{}, err
	}
	sctx, cancel := context.WithCancel(ctx)
	ends := make(chan error, n)
	for range n {
		go func() { ends <- stream(sctx) }()
	}
	running := n
	defer func() {
		cancel()
		for ; running > 0; running-- {
			<-ends
		}
	}()
	// wait returns true when a stream ended (its budget moved) before d.
	wait := func(d time.Duration) (bool, error) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return false, nil
		case err := <-ends:
			running--
			return true, err
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	w := window{start: s0}
	if w.short, err = wait(p.rampUp); err != nil {
		return window{}, err
	}
	if !w.short {
		if w.start, err = read(ctx); err != nil {
			return window{}, err
		}
		if progress == nil {
			if w.short, err = wait(p.window); err != nil {
				return window{}, err
			}
		} else if w.short, w.steady, err = waitSteady(ctx, p.window, ends, &running, progress); err != nil {
			return window{}, err
		}
	}
	if w.end, err = read(ctx); err != nil {
		return window{}, err
	}
	if !w.short && w.end.bytes <= w.start.bytes && w.end.bytes > s0.bytes {
		// Everything moved during the ramp-up, but the streams had not
		// ended yet (a fast link, a busy machine answering late): the
		// window saw nothing, so it is measured from the start, as one
		// cut short.
		w.start, w.short = s0, true
	}
	return w, nil
}

// waitSteady waits out the window, reading progress every steadySlice,
// and ends it early once the rate is steady (steady true) or a stream ends
// (short true).
func waitSteady(ctx context.Context, d time.Duration, ends <-chan error, running *int, progress func() int64) (short, isSteady bool, err error) {
	end := time.NewTimer(d)
	defer end.Stop()
	tick := time.NewTicker(steadySlice)
	defer tick.Stop()
	counts := []int64{progress()}
	for {
		select {
		case <-end.C:
			return false, false, nil
		case err := <-ends:
			*running--
			return true, false, err
		case <-ctx.Done():
			return false, false, ctx.Err()
		case <-tick.C:
			if counts = append(counts, progress()); steady(counts) {
				return false, true, nil
			}
		}
	}
}

// rate estimates the receiver's goodput in bits per second over the window
// from its byte count sampled during it: the slope of a least-squares line
// fitted to the upper envelope of the samples (fitted, then refitted up to
// three times to the samples on or above the line, as long as those still
// number a quarter of all and span half the window). Bytes that TCP holds
// back while it recovers a lost segment only ever lower the count, by up to
// a few hundred milliseconds of data; at a window's edge they would bias a
// plain (end - start) / duration by as much, and the envelope does not see
// them.
func (w window) rate(samples []sample) float64 {
	if w.short {
		// A window cut short ends where its count stopped growing: the
		// streams may have ended (or been seen to end) some time after
		// their last byte arrived.
		for _, s := range samples {
			if s.at > w.start.at && s.at < w.end.at && s.bytes >= w.end.bytes {
				w.end = s
				break
			}
		}
	}
	pts := []sample{w.start}
	for _, s := range samples {
		if s.at > w.start.at && s.at < w.end.at {
			pts = append(pts, s)
		}
	}
	pts = append(pts, w.end)
	// The plain figure stands in where no line can be fitted: a window
	// that spans (almost) no time, or a count that did not grow in it.
	plain := 0.0
	if span := w.end.at - w.start.at; span > 0 {
		plain = float64(w.end.bytes-w.start.bytes) / span.Seconds() * 8
	}
	slope, ok := fitSlope(pts)
	if !ok || slope <= 0 {
		return plain
	}
	all := len(pts)
	for range 3 {
		var upper []sample
		for _, s := range pts {
			if float64(s.bytes) >= lineAt(pts, slope, s.at) {
				upper = append(upper, s)
			}
		}
		if len(upper) < max(3, all/4) || upper[len(upper)-1].at-upper[0].at < (w.end.at-w.start.at)/2 {
			break
		}
		if s, ok := fitSlope(upper); ok {
			pts, slope = upper, s
		}
	}
	if slope <= 0 {
		return plain
	}
	return slope * 8
}

// fitSlope is the least-squares slope of bytes over time, in bytes per
// second; false when the samples span no time.
func fitSlope(pts []sample) (float64, bool) {
	var mx, my float64
	for _, s := range pts {
		mx += s.at.Seconds()
		my += float64(s.bytes)
	}
	mx /= float64(len(pts))
	my /= float64(len(pts))
	var sxy, sxx float64
	for _, s := range pts {
		dx := s.at.Seconds() - mx
		sxy += dx * (float64(s.bytes) - my)
		sxx += dx * dx
	}
	if sxx == 0 {
		return 0, false
	}
	return sxy / sxx, true
}

// lineAt is the fitted line through pts' centroid with the slope, at t.
func lineAt(pts []sample, slope float64, t time.Duration) float64 {
	var mx, my float64
	for _, s := range pts {
		mx += s.at.Seconds()
		my += float64(s.bytes)
	}
	n := float64(len(pts))
	return my/n + slope*(t.Seconds()-mx/n)
}

// download measures the bytes the agent reads.
func (cl *client) download(ctx context.Context, s *session, p plan, budget int64) (goodput, error) {
	n := cl.c.cfg.Streams
	per := max(1, budget/int64(n))
	var got atomic.Int64
	begin := time.Now()
	read := func(context.Context) (sample, error) {
		return sample{at: time.Since(begin), bytes: got.Load()}, nil
	}
	// Sample the count through the transfer.
	var (
		mu      sync.Mutex
		samples []sample
	)
	sctx, stop := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(sampleInterval)
		defer tick.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
				s, _ := read(sctx)
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
			}
		}
	}()
	stream := func(ctx context.Context) error {
		err := cl.downloadStream(ctx, s, per, &got)
		if ctx.Err() != nil {
			return nil // cut at the end of the window
		}
		return err
	}
	w, err := measureWindow(ctx, p, n, stream, read, got.Load)
	took := time.Since(begin).Seconds()
	stop()
	<-sampled
	if err != nil {
		return goodput{}, err
	}
	return goodput{bitsPerSecond: w.rate(samples), short: w.short, steady: w.steady, bytes: got.Load(), seconds: took}, nil
}

func (cl *client) downloadStream(ctx context.Context, s *session, n int64, got *atomic.Int64) error {
	q := url.Values{"session": {s.ID}, "bytes": {strconv.FormatInt(n, 10)}}
	req, err := cl.request(ctx, http.MethodGet, "/probe/v1/download", q, nil)
	if err != nil {
		return err
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readProbeError(resp)
	}
	buf := make([]byte, 64<<10)
	for {
		k, err := resp.Body.Read(buf)
		got.Add(int64(k))
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// upload measures the bytes the probe says it received, on its clock, from
// its upload timeline.
func (cl *client) upload(ctx context.Context, s *session, p plan, budget int64, payload []byte) (goodput, error) {
	n := cl.c.cfg.Streams
	per := max(1, budget/int64(n))
	read := func(ctx context.Context) (sample, error) {
		st, err := cl.stats(ctx, s, -1)
		return sample{at: seconds(st.ElapsedSeconds), bytes: st.UploadBytes}, err
	}
	var sent atomic.Int64
	stream := func(ctx context.Context) error {
		err := cl.uploadStream(ctx, s, per, payload, &sent)
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	// Steadiness is judged on what the probe received (a sender's count
	// runs ahead by its socket buffers, in bursts).
	var received int64
	progress := func() int64 {
		if st, err := cl.stats(ctx, s, -1); err == nil {
			received = st.UploadBytes
		}
		return received
	}
	begin := time.Now()
	w, err := measureWindow(ctx, p, n, stream, read, progress)
	took := time.Since(begin).Seconds()
	if err != nil {
		return goodput{}, err
	}
	st, err := cl.stats(ctx, s, w.start.at.Seconds())
	if err != nil {
		return goodput{}, err
	}
	samples := make([]sample, len(st.UploadTimeline))
	for i, pt := range st.UploadTimeline {
		samples[i] = sample{at: seconds(pt[0]), bytes: int64(pt[1])}
	}
	return goodput{bitsPerSecond: w.rate(samples), short: w.short, steady: w.steady, bytes: sent.Load(), seconds: took}, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (cl *client) uploadStream(ctx context.Context, s *session, n int64, payload []byte, sent *atomic.Int64) error {
	body := &payloadReader{payload: payload, off: rand.IntN(len(payload)), left: n, sent: sent}
	req, err := cl.request(ctx, http.MethodPost, "/probe/v1/upload", url.Values{"session": {s.ID}}, body)
	if err != nil {
		return err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := cl.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readProbeError(resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	return nil
}

// payloadReader yields left bytes cut from a random payload, round and round.
type payloadReader struct {
	payload []byte
	off     int
	left    int64
	sent    *atomic.Int64 // counts what was read, when not nil
}

func (r *payloadReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if r.off == len(r.payload) {
		r.off = 0
	}
	k := copy(p[:min(int64(len(p)), r.left)], r.payload[r.off:])
	r.off += k
	r.left -= int64(k)
	if r.sent != nil {
		r.sent.Add(int64(k))
	}
	return k, nil
}

// randomPayload returns n incompressible bytes from a ChaCha8 stream
// seeded by the runtime's OS-seeded generator.
func randomPayload(n int) []byte {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.Uint32())
	}
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(seed).Read(b) // never fails
	return b
}
