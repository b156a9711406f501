package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/readiness"
)

// MaxWait bounds ?wait= on a check.
const MaxWait = commands.MaxTimeout + time.Minute

// startCheck sends a check command to the room's agent; with ?wait=D it
// answers when the check has finished (200) or D has passed (202, pending).
func (s *Server) startCheck(w http.ResponseWriter, r *http.Request) {
	site, room, ok := s.roomPath(w, r)
	if !ok {
		return
	}
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > MaxWait {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("wait=%q: want a duration from 0s to %v, e.g. 90s", v, MaxWait))
			return
		}
		wait = d
	}
	var body struct {
		Checks  []string `json:"checks"`
		Timeout string   `json:"timeout"`
	}
	if err := decodeBody(w, r, 64<<10, &body, true); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error()+`; want {"checks": ["host"], "timeout": "2m"} or nothing`)
		return
	}
	var timeout time.Duration
	if body.Timeout != "" {
		d, err := time.ParseDuration(body.Timeout)
		if err != nil || d < time.Second || d > commands.MaxTimeout {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("timeout %q: want a duration from 1s to %v", body.Timeout, commands.MaxTimeout))
			return
		}
		timeout = d
	}
	c, err := s.Commands.Start(site, room, body.Checks, timeout)
	switch {
	case errors.Is(err, commands.ErrUnknownRoom):
		writeError(w, http.StatusNotFound, err.Error())
		return
	case errors.Is(err, commands.ErrBusy):
		writeError(w, http.StatusTooManyRequests, err.Error())
		return
	case errors.Is(err, commands.ErrCannotSend):
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		c, _ = s.Commands.Wait(ctx, c.ID)
		cancel()
	}
	s.writeCheck(w, c)
}

func (s *Server) getCheck(w http.ResponseWriter, r *http.Request) {
	c, ok := s.Commands.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no check %q (finished checks are kept for a while, not for ever)", r.PathValue("id")))
		return
	}
	s.writeCheck(w, c)
}

// CheckResult is a check as the API answers it: the check, and why it found
// the room not ready or degraded (readiness.Cause; empty while pending and
// for a ready room).
type CheckResult struct {
	commands.Check
	Causes []readiness.Cause `json:"causes"`
}

func (s *Server) writeCheck(w http.ResponseWriter, c commands.Check) {
	code := http.StatusOK
	if c.Status == commands.Pending {
		code = http.StatusAccepted
	}
	out := CheckResult{Check: c, Causes: readiness.OfCommand(c, s.context(c.Site, c.Room))}
	if out.Causes == nil {
		out.Causes = []readiness.Cause{}
	}
	writeJSON(w, code, out)
}
