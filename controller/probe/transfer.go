package probe

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// chunkSize is how much a transfer moves between deadline updates.
const chunkSize = 64 << 10

// transferDeadline is when a transfer that makes no more progress is cut:
// IdleTimeout from now, and never after the session expires.
func (s *Server) transferDeadline(sess *session, now time.Time) time.Time {
	d := now.Add(s.cfg.IdleTimeout)
	if sess.expires.Before(d) {
		return sess.expires
	}
	return d
}

// sessionParam finds the live session of ?session=ID.
func (s *Server) sessionParam(w http.ResponseWriter, r *http.Request) *session {
	id := r.URL.Query().Get("session")
	if id == "" {
		writeError(w, http.StatusBadRequest, "missing ?session=ID; start one with POST /probe/v1/session")
		return nil
	}
	return s.sessionOf(w, r, id)
}

// download streams ?bytes=N bytes of the random payload, fewer when the
// session's download budget has less left.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	sess := s.sessionParam(w, r)
	if sess == nil {
		return
	}
	want, err := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
	if err != nil || want <= 0 {
		writeError(w, http.StatusBadRequest, "bytes must be a positive number of bytes to download")
		return
	}
	n := reserve(&sess.downReserved, want, s.cfg.MaxBytesPerSession)
	if n == 0 {
		writeError(w, http.StatusRequestEntityTooLarge, "the session's download budget of "+
			strconv.FormatInt(s.cfg.MaxBytesPerSession, 10)+" bytes is spent")
		return
	}
	if n < want {
		s.truncated.Add(1)
	}
	var sent int64
	defer func() { sess.downReserved.Add(sent - n) }() // give back what was not sent

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	off := int(sess.downReserved.Load() % int64(len(s.payload))) // streams start at different places
	for sent < n {
		select {
		case <-sess.done:
			return
		case <-r.Context().Done():
			return
		default:
		}
		if err := rc.SetWriteDeadline(s.transferDeadline(sess, time.Now())); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return
		}
		if off == len(s.payload) {
			off = 0
		}
		c := min(int64(chunkSize), n-sent, int64(len(s.payload)-off))
		k, err := w.Write(s.payload[off : off+int(c)])
		off += k
		sent += int64(k)
		sess.downSent.Add(int64(k))
		s.bytesOut.Add(uint64(k))
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.timeout.Add(1)
			}
			return
		}
	}
}

// upload reads and discards the body, counting it against the session's
// upload budget. A body announced or found larger than the budget allows is
// refused with 413 and the connection closed without reading the rest.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	sess := s.sessionParam(w, r)
	if sess == nil {
		return
	}
	start := time.Now()
	tooLarge := func() {
		s.uploadsRefused.Add(1)
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestEntityTooLarge, "upload exceeds the session's budget of "+
			strconv.FormatInt(s.cfg.MaxBytesPerSession, 10)+" bytes")
	}
	if r.ContentLength > 0 {
		if got := reserve(&sess.upReserved, r.ContentLength, s.cfg.MaxBytesPerSession); got < r.ContentLength {
			sess.upReserved.Add(-got)
			tooLarge()
			return
		}
	}
	rc := http.NewResponseController(w)
	buf := make([]byte, chunkSize)
	var total int64
	for {
		select {
		case <-sess.done:
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusGone, "session ended during the upload")
			return
		default:
		}
		if err := rc.SetReadDeadline(s.transferDeadline(sess, time.Now())); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return
		}
		k, err := r.Body.Read(buf)
		if k > 0 {
			total += int64(k)
			if r.ContentLength <= 0 && reserve(&sess.upReserved, int64(k), s.cfg.MaxBytesPerSession) < int64(k) {
				tooLarge()
				return
			}
			sess.received(int64(k), time.Now())
			s.bytesIn.Add(uint64(k))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.timeout.Add(1)
				w.Header().Set("Connection", "close")
				writeError(w, http.StatusRequestTimeout, "upload made no progress for "+s.cfg.IdleTimeout.String()+" or outlived its session")
			}
			return
		}
	}
	writeJSON(w, http.StatusOK, UploadResult{Bytes: total, Seconds: time.Since(start).Seconds()})
}

// ping answers at once, for round trips measured over TCP.
func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	if s.sessionParam(w, r) == nil {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
