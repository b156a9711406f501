package enrolment_test

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/siaprapat/siaprapat/controller/agents"
	"github.com/siaprapat/siaprapat/controller/broker"
	"github.com/siaprapat/siaprapat/controller/enrolment"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/wire"
)

// Enrolling a room gives credentials the embedded broker takes; enrolling
// it again closes the session that used the old ones; revoking closes the
// new one, clears the room's retained status and takes the room out of the
// fleet.
func TestEnroller_EnrolAgainAndRevokeCloseWhatTheOldCredentialsHeld(t *testing.T) {
	dir := t.TempDir()
	store, err := agents.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	b, err := broker.Start(broker.Options{Listen: "127.0.0.1:0", RequireLogin: true, Agents: store})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	session := b.Inline(nil)
	defer session.Close()
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	f, err := fleet.Open(dir, fleet.Options{Freshness: time.Hour, Now: func() time.Time { return now }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := enrolment.New(store, b, session, f, func() time.Time { return now }, slog.New(slog.DiscardHandler))

	a, secret, err := e.Enrol("kalbar", "aula")
	if err != nil {
		t.Fatal(err)
	}
	if a.Username != "kalbar/aula" || secret == "" {
		t.Fatalf("enrolled %+v with secret %q", a, secret)
	}
	if l := e.List(); len(l) != 1 || l[0].Username != a.Username {
		t.Fatalf("List() = %+v", l)
	}
	old, lost := login(t, b, a.Username, secret)
	if err := session.PublishRetained(wire.Topic("kalbar", "aula", wire.KindStatus), []byte(`{"status":"online"}`)); err != nil {
		t.Fatal(err)
	}
	f.ApplyStatus("kalbar", "aula", "online", now)

	_, secret2, err := e.Enrol("kalbar", "aula")
	if err != nil {
		t.Fatal(err)
	}
	waitLost(t, lost, "the session using the old secret")
	if old.IsConnectionOpen() {
		t.Error("the old secret's session is still open")
	}
	if _, err := tryLogin(b, a.Username, secret); err == nil {
		t.Error("the old secret still logs in")
	}
	_, lost2 := login(t, b, a.Username, secret2)

	if err := e.Revoke("kalbar", "aula"); err != nil {
		t.Fatal(err)
	}
	waitLost(t, lost2, "the revoked agent's session")
	if _, err := tryLogin(b, a.Username, secret2); err == nil {
		t.Error("a revoked secret still logs in")
	}
	if _, ok := f.Get("kalbar", "aula"); ok {
		t.Error("the revoked room is still in the fleet")
	}
	if len(e.List()) != 0 {
		t.Errorf("List() after revoke = %+v", e.List())
	}
	// No retained status is left for a new subscriber to see.
	seen := make(chan string, 1)
	probe := b.Inline([]string{wire.Topic("kalbar", "aula", wire.KindStatus)})
	defer probe.Close()
	if err := probe.Subscribe(func(_ string, p []byte) {
		if len(p) > 0 {
			seen <- string(p)
		}
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-seen:
		t.Errorf("a retained status is left after revoke: %s", p)
	case <-time.After(300 * time.Millisecond):
	}

	if err := e.Revoke("kalbar", "aula"); err == nil {
		t.Error("revoking a room that is not enrolled is not an error")
	}
}

// tryLogin connects once with the credentials.
func tryLogin(b *broker.Broker, user, secret string) (paho.Client, error) {
	cl := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID(wire.AgentClientID("kalbar", "aula")).
		SetUsername(user).SetPassword(secret).SetAutoReconnect(false))
	tok := cl.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		return nil, errors.New("no CONNACK")
	}
	if tok.Error() == nil {
		cl.Disconnect(0)
	}
	return cl, tok.Error()
}

// login connects with the credentials; the channel hears the connection's loss.
func login(t *testing.T, b *broker.Broker, user, secret string) (paho.Client, <-chan struct{}) {
	t.Helper()
	lost := make(chan struct{}, 1)
	cl := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID(wire.AgentClientID("kalbar", "aula")).
		SetUsername(user).SetPassword(secret).SetAutoReconnect(false).
		SetConnectionLostHandler(func(paho.Client, error) { lost <- struct{}{} }))
	if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("log in as %s: %v", user, tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(0) })
	return cl, lost
}

func waitLost(t *testing.T, lost <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s was not closed", what)
	}
}
