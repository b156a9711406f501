// Package enrolment enrols the agents of rooms with the embedded broker:
// it makes their credentials, and revokes them, closing what they held.
package enrolment

import (
	"log/slog"
	"time"

	"github.com/siaprapat/siaprapat/controller/agents"
	"github.com/siaprapat/siaprapat/wire"
)

// Kicker closes a user's sessions in the broker (broker.Broker).
type Kicker interface {
	Kick(username string) int
}

// RetainClearer removes a retained message (the controller's MQTT session).
type RetainClearer interface {
	ClearRetained(topic string) error
}

// Forgetter forgets a revoked room (fleet.Fleet).
type Forgetter interface {
	Revoke(site, room string, at time.Time) bool
}

// Enroller is an api.Enroller over the embedded broker's agents store.
type Enroller struct {
	agents  *agents.Store
	broker  Kicker
	session RetainClearer
	fleet   Forgetter
	now     func() time.Time
	log     *slog.Logger
}

// New makes an Enroller.
func New(store *agents.Store, broker Kicker, session RetainClearer, fleet Forgetter, now func() time.Time, log *slog.Logger) *Enroller {
	return &Enroller{agents: store, broker: broker, session: session, fleet: fleet, now: now, log: log}
}

// Enrol makes a room's credentials; enrolling again replaces them and
// closes any session logged in with the old ones.
func (e *Enroller) Enrol(site, room string) (agents.Agent, string, error) {
	a, secret, err := e.agents.Add(site, room, e.now())
	if err == nil {
		if n := e.broker.Kick(a.Username); n > 0 {
			e.log.Info("agent enrolled again: closed the session using the old secret", "user", a.Username)
		}
	}
	return a, secret, err
}

// Revoke removes a room's credentials, disconnects its agent, clears its
// retained status and forgets the room: it leaves the metrics and the API.
func (e *Enroller) Revoke(site, room string) error {
	if err := e.agents.Remove(site, room); err != nil {
		return err
	}
	kicked := e.broker.Kick(agents.Username(site, room))
	if err := e.session.ClearRetained(wire.Topic(site, room, wire.KindStatus)); err != nil {
		e.log.Warn("could not clear the revoked room's retained status; it may reappear as offline", "site", site, "room", room, "err", err)
	}
	e.fleet.Revoke(site, room, e.now())
	e.log.Info("agent revoked", "site", site, "room", room, "connections_closed", kicked)
	return nil
}

// List lists the enrolled agents.
func (e *Enroller) List() []agents.Agent { return e.agents.List() }
