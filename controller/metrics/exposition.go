package metrics

import (
	"bufio"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// chunkFamilies is how many families WriteText renders in one pass over
// the rooms. A pass per family would fetch every room's report from memory
// once per family (about 50 times a scrape); one pass for all would hold
// the whole exposition in memory. Eight at a time holds about a sixth.
const chunkFamilies = 8

// WriteText writes the fleet's families in the text exposition format
// (version 0.0.4), the same series a registry gathers from the tests' Collect, straight from
// the fleet: no const metrics, no sorting of series, nothing kept between
// scrapes. Families are in name order, and each room's series in site and
// room order. only, when not nil, selects families by name.
func (c *Exporter) WriteText(w io.Writer, only map[string]bool) error {
	var families []*family
	for _, f := range c.families {
		if only == nil || only[f.name] {
			families = append(families, f)
		}
	}
	if len(families) == 0 {
		return nil
	}
	rooms := c.fleet.Rooms()
	bufs := make([][]byte, min(chunkFamilies, len(families)))
	emits := make([]func(float64, []string), len(bufs))
	labels := make([][]string, len(bufs))
	for len(families) > 0 {
		chunk := families[:min(len(bufs), len(families))]
		families = families[len(chunk):]
		for i, f := range chunk {
			// The family's size at the last scrape, so that its buffer
			// does not grow (and copy itself) on the way.
			bufs[i] = slices.Grow(bufs[i][:0], int(f.lastSize.Load()*9/8))
			labels[i] = make([]string, len(f.labels))
			emits[i] = func(v float64, labels []string) { bufs[i] = appendSample(bufs[i], f, v, labels) }
		}
		for r := range rooms {
			for i, f := range chunk {
				f.each(&rooms[r], labels[i], emits[i])
			}
		}
		for i, f := range chunk {
			f.lastSize.Store(int64(len(bufs[i])))
			if len(bufs[i]) == 0 {
				continue // as a registry: no series, no family
			}
			if _, err := w.Write(f.header); err != nil {
				return err
			}
			if _, err := w.Write(bufs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendSample appends one series line as expfmt writes it: labels in name
// order, values escaped, the value in the shortest form that reads back. A
// series with a label value that is not valid UTF-8 is left out, as
// prometheus.NewConstMetric refuses it.
func appendSample(b []byte, f *family, v float64, labels []string) []byte {
	start := len(b)
	b = append(b, f.name...)
	b = append(b, '{')
	for n, i := range f.order {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, f.labels[i]...)
		b = append(b, '=', '"')
		switch l := labels[i]; scanLabel(l) {
		case labelPlain:
			b = append(b, l...)
		case labelEscape:
			b = append(b, valueEscaper.Replace(l)...)
		default:
			return b[:start]
		}
		b = append(b, '"')
	}
	b = append(b, '}', ' ')
	switch {
	case v == 1:
		b = append(b, '1')
	case v == 0:
		b = append(b, '0')
	case v == -1:
		b = append(b, "-1"...)
	case math.IsNaN(v):
		b = append(b, "NaN"...)
	case math.IsInf(v, +1):
		b = append(b, "+Inf"...)
	case math.IsInf(v, -1):
		b = append(b, "-Inf"...)
	default:
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, '\n')
}

// What a label value needs before it is written.
const (
	labelPlain   = iota // written as it is
	labelEscape         // holds a backslash, a newline or a double quote
	labelInvalid        // not valid UTF-8
)

// scanLabel says what a label value needs, in one pass over its bytes for
// the usual ASCII value: the scrape's hottest loop (2.75 million values at
// 50,000 rooms).
func scanLabel(s string) int {
	escape, ascii := false, true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf:
			ascii = false
		case c == '\\' || c == '\n' || c == '"':
			escape = true
		}
	}
	switch {
	case !ascii && !utf8.ValidString(s):
		return labelInvalid
	case escape:
		return labelEscape
	}
	return labelPlain
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// Handler serves /metrics: the families of others (the process's own
// registry, the planner's) through expfmt, then the fleet's from
// WriteText, in the text format, gzipped when the client takes gzip (at
// the fastest level, with klauspost's gzip: twice the standard library's
// speed there, so compressing on the rendering goroutine is quicker under
// load than handing copies to a second one). Like promhttp it takes name[] to select families, and a
// failed gather of others is logged and served as far as it went.
func Handler(c *Exporter, others prometheus.Gatherer, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	contentType := string(expfmt.NewFormat(expfmt.TypeTextPlain))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var only map[string]bool
		if names := r.URL.Query()["name[]"]; len(names) > 0 {
			only = map[string]bool{}
			for _, n := range names {
				only[n] = true
			}
		}
		mfs, err := others.Gather()
		if err != nil {
			log.Error("error gathering metrics", "err", err)
		}
		w.Header().Set("Content-Type", contentType)
		var out io.Writer = w
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Add("Vary", "Accept-Encoding")
			gz := gzipWriters.Get().(*gzip.Writer)
			gz.Reset(w)
			defer func() {
				gz.Close()
				gzipWriters.Put(gz)
			}()
			out = gz
		}
		bw := bufio.NewWriterSize(out, 64<<10)
		for _, mf := range mfs {
			if only != nil && !only[mf.GetName()] {
				continue
			}
			if _, err := expfmt.MetricFamilyToText(bw, mf); err != nil {
				log.Debug("could not write metrics", "err", err)
				return
			}
		}
		if err := bw.Flush(); err != nil {
			return // the client went away
		}
		if err := c.WriteText(out, only); err != nil {
			log.Debug("could not write metrics", "err", err)
		}
	})
}

// acceptsGzip reports whether an Accept-Encoding header takes gzip with a
// quality above zero.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.TrimSpace(k) == "q" {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}
