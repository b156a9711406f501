package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/agent/host"
	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/controller"
	"github.com/siaprapat/siaprapat/wire"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and client
// certificates, written as PEM files.
type testPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPool *x509.CertPool
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "siaprapat test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{dir: t.TempDir(), ca: ca, caKey: key, caPool: x509.NewCertPool()}
	p.caPool.AddCert(ca)
	p.write(t, "ca.pem", "CERTIFICATE", der)
	return p
}

func (p *testPKI) write(t *testing.T, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue makes a certificate: a server one for 127.0.0.1, or a client one
// with the common name cn.
func (p *testPKI) issue(t *testing.T, cn string, server bool) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (p *testPKI) serverFiles(t *testing.T) (cert, key string) {
	t.Helper()
	c := p.issue(t, "siaprapat test broker", true)
	kder, _ := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	return p.write(t, "server.pem", "CERTIFICATE", c.Certificate[0]), p.write(t, "server-key.pem", "EC PRIVATE KEY", kder)
}

// startSecured starts a controller whose embedded broker wants a login even
// on loopback, with a TLS listener taking client certificates, and an admin
// API token.
func startSecured(t *testing.T, pki *testPKI) *controller.Controller {
	t.Helper()
	cert, key := pki.serverFiles(t)
	return startWith(t, controller.Config{
		MQTTRequireLogin: true, APIToken: "admin-secret",
		MQTTTLSListen: "127.0.0.1:0", MQTTTLSCert: cert, MQTTTLSKey: key, MQTTClientCA: filepath.Join(pki.dir, "ca.pem"),
	})
}

func enrol(t *testing.T, c *controller.Controller, token, site, room string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"site": site, "room": room})
	req, _ := http.NewRequest(http.MethodPost, "http://"+c.HTTPAddr()+"/api/v1/agents", bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Password string `json:"password"`
		Username string `json:"username"`
	}
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode == http.StatusCreated && e.Username != site+"/"+room {
		t.Fatalf("enrolled as %q, want %s/%s", e.Username, site, room)
	}
	return resp.StatusCode, e.Password
}

// connect tries to open a room's link within a few seconds.
func connect(t *testing.T, o link.Options) (*link.Link, error) {
	t.Helper()
	o.KeepAlive = 2 * time.Second
	l, err := link.Connect(o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := l.WaitConnected(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// known reports whether the API knows the room.
func known(t *testing.T, c *controller.Controller, site, room string) bool {
	var v map[string]any
	return getJSON(t, "http://"+c.HTTPAddr()+"/api/v1/rooms/"+site+"/"+room, &v) == http.StatusOK
}

func hostRunner(t *testing.T, site, room string) *runner.Runner {
	return &runner.Runner{Site: site, Room: room, AgentVersion: "test", Standard: fastStandard(t),
		Checks: []runner.Check{&host.Check{Source: fleetsim.NewSource(fleetsim.ProfileReady, room, 1)}}}
}

// TestBroker_AgentsLogInAndSpeakOnlyForTheirRoom: on a broker that wants
// logins, an anonymous client and a wrong password are refused, an enrolled
// agent reports for its own room but not for another, a client certificate
// naming an enrolled room logs in, and a revoked agent is cut off and its
// room leaves the fleet.
func TestBroker_AgentsLogInAndSpeakOnlyForTheirRoom(t *testing.T) {
	pki := newPKI(t)
	c := startSecured(t, pki)

	if code, _ := enrol(t, c, "", "kalbar", "r1"); code != http.StatusUnauthorized {
		t.Errorf("enrolment without the admin token: HTTP %d, want 401", code)
	}
	code, secret := enrol(t, c, "admin-secret", "kalbar", "r1")
	if code != http.StatusCreated || len(secret) < 40 {
		t.Fatalf("enrolment: HTTP %d, secret %q", code, secret)
	}

	if _, err := connect(t, link.Options{Broker: c.BrokerURL(), Site: "kalbar", Room: "r1"}); err == nil {
		t.Error("an anonymous client connected to a broker that wants logins")
	}
	if _, err := connect(t, link.Options{Broker: c.BrokerURL(), Site: "kalbar", Room: "r1", Username: "kalbar/r1", Password: "guess"}); err == nil {
		t.Error("a wrong password connected")
	}
	if n := counter(t, c, "siaprapat_broker_connections_refused_total", map[string]string{"reason": "anonymous"}); n < 1 {
		t.Errorf("anonymous refusals counted: %v", n)
	}
	if n := counter(t, c, "siaprapat_broker_connections_refused_total", map[string]string{"reason": "credentials"}); n < 1 {
		t.Errorf("bad credentials counted: %v", n)
	}

	l, err := connect(t, link.Options{Broker: c.BrokerURL(), Site: "kalbar", Room: "r1", Username: "kalbar/r1", Password: secret})
	if err != nil {
		t.Fatalf("the enrolled agent could not connect: %v", err)
	}
	defer l.Close()
	if err := l.PublishReport(hostRunner(t, "kalbar", "r1").Run(context.Background())); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "kalbar", "r1", "ready", 5*time.Second)

	// The agent's session must use its own client id, and its last will
	// its own topics: the broker publishes a will without a topic check.
	raw := func(id, willTopic string) error {
		o := mqtt.NewClientOptions().AddBroker(c.BrokerURL()).SetClientID(id).SetUsername("kalbar/r1").SetPassword(secret)
		if willTopic != "" {
			o.SetWill(willTopic, "online", 1, true)
		}
		cl := mqtt.NewClient(o)
		tok := cl.Connect()
		tok.WaitTimeout(5 * time.Second)
		if tok.Error() == nil {
			cl.Disconnect(100)
		}
		return tok.Error()
	}
	if err := raw("siaprapat-agent/kalbar/r2", ""); err == nil {
		t.Error("an agent connected with another room's client id (it would take that room's session)")
	}
	if err := raw(wire.AgentClientID("kalbar", "r1"), wire.Topic("kalbar", "r2", wire.KindStatus)); err == nil {
		t.Error("an agent connected with a last will on another room's topic")
	}
	for _, reason := range []string{"client_id", "will"} {
		if n := counter(t, c, "siaprapat_broker_connections_refused_total", map[string]string{"reason": reason}); n < 1 {
			t.Errorf("refusals for %s counted: %v", reason, n)
		}
	}

	// The same agent speaking for another room: the broker drops it.
	// (MQTT 3.1.1 has no negative PUBACK; the broker acknowledges and drops.)
	l.Close() // the impostor takes over its own session id
	impostor := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(c.BrokerURL()).SetClientID(wire.AgentClientID("kalbar", "r1")).
		SetUsername("kalbar/r1").SetPassword(secret))
	if tok := impostor.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	other := hostRunner(t, "kalbar", "r2").Run(context.Background())
	payload, _ := json.Marshal(other)
	// Subscribe first: a denied publication may cost the connection.
	sub := impostor.Subscribe(wire.Topic("kalbar", "r2", wire.KindCmd), 1, nil)
	sub.WaitTimeout(5 * time.Second)
	if st, ok := sub.(*mqtt.SubscribeToken); !ok || st.Result()[wire.Topic("kalbar", "r2", wire.KindCmd)] < 0x80 {
		t.Error("the broker granted an agent another room's cmd topic")
	}
	impostor.Publish(wire.Topic("kalbar", "r2", wire.KindReport), 1, false, payload).WaitTimeout(5 * time.Second)
	impostor.Disconnect(100)
	time.Sleep(300 * time.Millisecond)
	if known(t, c, "kalbar", "r2") {
		t.Error("an agent reported for another room")
	}
	for _, action := range []string{"publish", "subscribe"} {
		if n := counter(t, c, "siaprapat_broker_acl_denied_total", map[string]string{"action": action}); n < 1 {
			t.Errorf("denied %s counted: %v", action, n)
		}
	}

	// A client certificate naming an enrolled room logs in without a password.
	if code, _ := enrol(t, c, "admin-secret", "kalbar", "r3"); code != http.StatusCreated {
		t.Fatalf("enrol r3: HTTP %d", code)
	}
	withCert := func(cn string) *tls.Config {
		cert := pki.issue(t, cn, false)
		return &tls.Config{RootCAs: pki.caPool, Certificates: []tls.Certificate{cert}}
	}
	l3, err := connect(t, link.Options{Broker: c.BrokerTLSURL(), Site: "kalbar", Room: "r3", TLS: withCert("kalbar/r3")})
	if err != nil {
		t.Fatalf("client certificate kalbar/r3: %v", err)
	}
	if err := l3.PublishReport(hostRunner(t, "kalbar", "r3").Run(context.Background())); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "kalbar", "r3", "ready", 5*time.Second)
	l3.Close()
	if _, err := connect(t, link.Options{Broker: c.BrokerTLSURL(), Site: "kalbar", Room: "r9", TLS: withCert("kalbar/r9")}); err == nil {
		t.Error("a certificate for a room that is not enrolled connected")
	}

	// Revoke r1: its connection is closed, it cannot come back, and the
	// room leaves the fleet and the metrics.
	req, _ := http.NewRequest(http.MethodDelete, "http://"+c.HTTPAddr()+"/api/v1/agents/kalbar/r1", nil)
	req.Header.Set("Authorization", "Bearer admin-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: HTTP %d", resp.StatusCode)
	}
	if known(t, c, "kalbar", "r1") {
		t.Error("the revoked room is still in the fleet")
	}
	if body := scrapeText(c.HTTPAddr()); strings.Contains(body, `room="r1"`) {
		t.Error("the revoked room is still in /metrics")
	}
	if _, err := connect(t, link.Options{Broker: c.BrokerURL(), Site: "kalbar", Room: "r1", Username: "kalbar/r1", Password: secret}); err == nil {
		t.Error("a revoked agent connected again")
	}
	time.Sleep(500 * time.Millisecond) // the kicked link's will, if any, must not bring the room back
	if known(t, c, "kalbar", "r1") {
		t.Error("the revoked room came back")
	}
}

// TestAPI_ReadTokenGuardsReadsAndMetrics: with a read token, reads and (with
// MetricsAuth) /metrics take it or the admin token; writes take only the
// admin token; health checks stay open.
func TestAPI_ReadTokenGuardsReadsAndMetrics(t *testing.T) {
	c := startWith(t, controller.Config{APIToken: "admin", APIReadToken: "reader", MetricsAuth: true})
	status := func(method, path, token string) int {
		req, _ := http.NewRequest(method, "http://"+c.HTTPAddr()+path, strings.NewReader(`{"site":"s","room":"r"}`))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/api/v1/rooms", "", 401},
		{"GET", "/api/v1/rooms", "guess", 401},
		{"GET", "/api/v1/rooms", "reader", 200},
		{"GET", "/api/v1/rooms", "admin", 200},
		{"GET", "/metrics", "", 401},
		{"GET", "/metrics", "reader", 200},
		{"GET", "/healthz", "", 200},
		{"POST", "/api/v1/agents", "reader", 401},
		{"GET", "/api/v1/agents", "reader", 401},
		{"POST", "/api/v1/agents", "admin", 201},
	} {
		if got := status(tc.method, tc.path, tc.token); got != tc.want {
			t.Errorf("%s %s with token %q: HTTP %d, want %d", tc.method, tc.path, tc.token, got, tc.want)
		}
	}
}
