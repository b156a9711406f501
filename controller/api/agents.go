package api

import (
	"errors"
	"net"
	"net/http"

	"github.com/siaprapat/siaprapat/controller/agents"
	"github.com/siaprapat/siaprapat/wire"
)

// Enrolment is the answer to enrolling an agent: its user name and the
// secret it logs in to the broker and the probe with, shown this once.
type Enrolment struct {
	agents.Agent
	Password string `json:"password"`
	// Broker is the controller's broker as the enrolling client reached
	// the controller (the host it asked), e.g. mqtt://10.0.0.5:1883:
	// the port an agent must use. Absent when not known.
	Broker string `json:"broker,omitempty"`
}

func (s *Server) listAgents(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"agents": s.Agents.List()})
}

func (s *Server) addAgent(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Site string `json:"site"`
		Room string `json:"room"`
	}
	if err := decodeBody(w, r, 4<<10, &body, false); err != nil {
		writeError(w, http.StatusBadRequest, "body: want {\"site\": SITE, \"room\": ROOM}: "+err.Error())
		return
	}
	for _, f := range []struct{ field, v string }{{"site", body.Site}, {"room", body.Room}} {
		if err := wire.CheckName(f.field, f.v); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	a, secret, err := s.Agents.Enrol(body.Site, body.Room)
	if err != nil {
		s.Log.Error("could not enrol an agent", "site", body.Site, "room", body.Room, "err", err)
		writeError(w, http.StatusInternalServerError, "could not enrol the agent; see the controller's log")
		return
	}
	s.Log.Info("agent enrolled", "user", a.Username, "remote", r.RemoteAddr)
	e := Enrolment{Agent: a, Password: secret}
	if s.AgentBroker != "" {
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		e.Broker = wire.BrokerAt(s.AgentBroker, host)
	}
	writeJSON(w, http.StatusCreated, e)
}

func (s *Server) removeAgent(w http.ResponseWriter, r *http.Request) {
	site, room, ok := s.roomPath(w, r)
	if !ok {
		return
	}
	err := s.Agents.Revoke(site, room)
	switch {
	case errors.Is(err, agents.ErrUnknown):
		writeError(w, http.StatusNotFound, err.Error())
		return
	case err != nil:
		s.Log.Error("could not revoke an agent", "site", site, "room", room, "err", err)
		writeError(w, http.StatusInternalServerError, "could not revoke the agent; see the controller's log")
		return
	}
	s.Log.Info("agent revoked", "user", agents.Username(site, room), "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}
