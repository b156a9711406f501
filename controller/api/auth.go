package api

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// bearer returns the request's bearer token, "" when it has none.
func bearer(r *http.Request) string {
	scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(got)
}

func tokenIs(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="siaprapat"`)
	writeError(w, http.StatusUnauthorized, msg)
}

// CanRead reports whether a request with token may read, by the API's
// rule: any token (or none) when no read token is set, else the read or the
// admin token. The board signs people in by it.
func (s *Server) CanRead(_ *http.Request, token string) bool {
	return s.ReadToken == "" || tokenIs(token, s.ReadToken) || tokenIs(token, s.Token)
}

// CanWrite reports whether a request with token may change something, by
// the API's rule: the admin token when one is set; without one, a request
// from this machine (loopback), or any with OpenWrites.
func (s *Server) CanWrite(r *http.Request, token string) bool {
	if s.Token != "" {
		return tokenIs(token, s.Token)
	}
	return s.OpenWrites || loopback(r)
}

// authorized requires what CanWrite does.
func (s *Server) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.CanWrite(r, bearer(r)) {
			if s.Token != "" {
				unauthorized(w, "this request changes something: send the controller's API token as 'Authorization: Bearer TOKEN'")
			} else {
				writeError(w, http.StatusForbidden, "this controller has no admin token, so it takes requests that change something from its own machine only: start it with --api-token (or --api-open-writes to take them from anyone)")
			}
			return
		}
		h(w, r)
	}
}

// loopback reports whether a request came from this machine.
func loopback(r *http.Request) bool {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// reader requires the read or the admin token, when a read token is set.
func (s *Server) reader(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.CanRead(r, bearer(r)) {
			unauthorized(w, "reading this controller takes a token: send its read or admin API token as 'Authorization: Bearer TOKEN'")
			return
		}
		h(w, r)
	}
}

// admin requires the admin token; without one configured, only this
// machine may call (credentials must not be handed to anyone who asks).
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Agents == nil {
			writeError(w, http.StatusNotFound, "this controller does not enrol agents: it uses an external broker, whose own users and ACL apply")
			return
		}
		if s.Token != "" {
			s.authorized(h)(w, r)
			return
		}
		if !loopback(r) {
			writeError(w, http.StatusForbidden, "enrolling agents from another machine needs the admin token: start the controller with --api-token")
			return
		}
		h(w, r)
	}
}
