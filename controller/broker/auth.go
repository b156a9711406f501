package broker

import (
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/wire"
)

// Agents checks enrolled agents' credentials (controller/agents.Store).
type Agents interface {
	Authenticate(username, secret string) bool
	Enrolled(username string) bool
}

// ControllerUser is the user name of the controller's own MQTT client on
// the embedded broker; its password is made afresh at every start.
const ControllerUser = "siaprapat-controller"

// authHook decides who may connect and what each client may publish and
// subscribe to:
//   - the controller's own client (ControllerUser and its password): everything;
//   - an enrolled agent, by user name SITE/ROOM and its secret, or by a TLS
//     client certificate whose common name is SITE/ROOM: publish to its own
//     status, report and result topics, subscribe to its own cmd, ack and
//     schedule topics;
//   - a client without a user name, only when every listener is on loopback
//     (as Mosquitto 2 does without configuration): everything, for the
//     controller's machine itself (make run, the simulator).
type authHook struct {
	mqtt.HookBase
	agents         Agents
	controllerPass string
	anonymous      bool
	log            *slog.Logger

	refused   *prometheus.CounterVec // by reason
	denied    *prometheus.CounterVec // by direction
	oversized prometheus.Counter
	logs      *rateLimit
}

func (h *authHook) ID() string { return "siaprapat-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck || b == mqtt.OnDisconnect
}

// OnDisconnect counts the clients cut off for a packet over the size limit.
func (h *authHook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	if errors.Is(err, packets.ErrPacketTooLarge) {
		h.oversized.Inc()
		if h.logs.allow("oversized") {
			h.log.Warn("cut off an MQTT client for a packet over the size limit", "limit_bytes", MaxPacketBytes, "remote", cl.Net.Remote, "client_id", cl.ID)
		}
	}
}

// Refusal reasons, the label of siaprapat_broker_connections_refused_total.
const (
	RefusedAnonymous   = "anonymous"     // no user name on a broker that listens beyond loopback
	RefusedCredentials = "credentials"   // unknown user or wrong secret
	RefusedCertificate = "certificate"   // a client certificate naming no enrolled agent
	RefusedCertMixup   = "cert_mismatch" // a user name other than the certificate's
	RefusedClientID    = "client_id"     // an agent with another client id than its own
	RefusedWill        = "will"          // an agent whose last will names another room's topic
)

// OnConnectAuthenticate logs a client in (or refuses it); one that logs in
// no longer counts against the gate's bounds on clients waiting to.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	ok := h.authenticate(cl, pk)
	if gc, gated := cl.Net.Conn.(*gatedConn); gated && ok {
		gc.loggedIn()
	}
	return ok
}

func (h *authHook) authenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user, pass := string(pk.Connect.Username), string(pk.Connect.Password)
	if cn, ok := certName(cl); ok {
		// A verified client certificate names the agent; the user name, if
		// any, must agree with it.
		switch {
		case user != "" && user != cn:
			return h.refuse(cl, RefusedCertMixup, "user name "+user+" differs from the certificate's "+cn)
		case h.agents == nil || !h.agents.Enrolled(cn):
			return h.refuse(cl, RefusedCertificate, "certificate for "+cn+", which is not an enrolled agent")
		}
		cl.Properties.Username = []byte(cn)
		return h.agentSession(cl, pk, cn)
	}
	switch {
	case user == "":
		if h.anonymous {
			return true
		}
		return h.refuse(cl, RefusedAnonymous, "no user name: this broker listens beyond loopback, so every client must log in")
	case user == ControllerUser:
		if subtle.ConstantTimeCompare([]byte(pass), []byte(h.controllerPass)) == 1 {
			return true
		}
	case h.agents != nil && h.agents.Authenticate(user, pass):
		return h.agentSession(cl, pk, user)
	}
	return h.refuse(cl, RefusedCredentials, "unknown user "+user+" or wrong password")
}

// agentSession checks what an authenticated agent asks of its session: its
// client id must be its own (report.AgentClientID: the broker hands a
// session to whoever connects with its id), and its last will (which the broker publishes
// without a topic check) must go to one of its own topics.
func (h *authHook) agentSession(cl *mqtt.Client, pk packets.Packet, user string) bool {
	site, room, _ := strings.Cut(user, "/")
	if want := wire.AgentClientID(site, room); cl.ID != want {
		return h.refuse(cl, RefusedClientID, "client id "+cl.ID+" is not "+want)
	}
	if pk.Connect.WillFlag && !allowed(user, pk.Connect.WillTopic, true) {
		return h.refuse(cl, RefusedWill, "last will on "+pk.Connect.WillTopic+", outside the room's own topics")
	}
	return true
}

func (h *authHook) refuse(cl *mqtt.Client, reason, why string) bool {
	h.refused.WithLabelValues(reason).Inc()
	if h.logs.allow(reason) {
		h.log.Warn("refused an MQTT connection", "reason", reason, "why", why, "remote", cl.Net.Remote, "client_id", cl.ID)
	}
	return false
}

// certName returns the common name of a client's verified TLS certificate.
func certName(cl *mqtt.Client) (string, bool) {
	tc, ok := cl.Net.Conn.(interface {
		ConnectionState() (tls.ConnectionState, bool)
	})
	if !ok {
		return "", false
	}
	st, isTLS := tc.ConnectionState()
	if !isTLS || len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return "", false
	}
	return st.PeerCertificates[0].Subject.CommonName, true
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	if cl.Net.Inline || user == "" || user == ControllerUser {
		return true // authenticated above: the controller, or loopback
	}
	if allowed(user, topic, write) {
		return true
	}
	dir := "subscribe"
	if write {
		dir = "publish"
	}
	h.denied.WithLabelValues(dir).Inc()
	if h.logs.allow("acl") {
		h.log.Warn("denied an agent a topic outside its room", "user", user, "topic", topic, "action", dir)
	}
	return false
}

// allowed is the agents' ACL: SITE/ROOM may publish to its own status,
// report and result topics and read its own cmd, ack and schedule topics
// (a room's schedule says when it meets: no other room reads it).
func allowed(user, topic string, write bool) bool {
	site, room, kind, ok := wire.ParseTopic(topic)
	if !ok || site+"/"+room != user {
		return false
	}
	if write {
		return kind == wire.KindStatus || kind == wire.KindReport || kind == wire.KindResult
	}
	return kind == wire.KindCmd || kind == wire.KindAck || kind == wire.KindSchedule
}

// rateLimit lets one log line per key through per interval, so that a
// client retrying bad credentials cannot flood the log; metrics count all.
type rateLimit struct {
	every time.Duration
	mu    sync.Mutex
	last  map[string]time.Time
}

func newRateLimit(every time.Duration) *rateLimit {
	return &rateLimit{every: every, last: map[string]time.Time{}}
}

func (r *rateLimit) allow(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.last[key]) < r.every {
		return false
	}
	r.last[key] = now
	return true
}
