package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/wire"
)

// The Mosquitto example of docs/install.md, as files the docs quote verbatim
// (TestDocs_SnippetsAreTheExampleFiles checks the quoting).
const (
	exampleMosquittoConf = "../docs/examples/mosquitto/mosquitto.conf"
	exampleMosquittoACL  = "../docs/examples/mosquitto/acl"
	exampleMakePasswd    = "../docs/examples/mosquitto/make-passwd.sh"
)

// TestDocs_MosquittoExampleTakesRoomsAndKeepsThemApart starts a real
// Mosquitto with the documented configuration, ACL and password file (made
// by the documented script), changing only where the files are and the
// port: a room logs in over TLS and publishes its report, which the
// controller's user receives; the ACL keeps the room from writing another
// room's report and from reading another room's commands, and a wrong
// secret is refused.
func TestDocs_MosquittoExampleTakesRoomsAndKeepsThemApart(t *testing.T) {
	bin := testenv.Command(t, "mosquitto", "mosquitto")
	testenv.Command(t, "mosquitto_passwd", "mosquitto")

	// Mosquitto started as root drops to its own user before it reads the
	// password file and the key, as on a Debian server: the files are made
	// for that user, in a directory it may enter.
	owner := "mosquitto"
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		owner = u.Username
	} else if _, err := user.Lookup(owner); err != nil {
		t.Fatalf("running as root, Mosquitto drops to the user mosquitto, which this machine lacks: %v", err)
	}
	dir, err := os.MkdirTemp("", "siaprapat-docs-mosquitto")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	// The server's certificate and key where the configuration expects them.
	pki := newPKI(t)
	cert, key := pki.serverFiles(t)
	os.Mkdir(filepath.Join(dir, "certs"), 0o755)
	for from, to := range map[string]string{cert: "certs/server.pem", key: "certs/server-key.pem"} {
		copyFile(t, from, filepath.Join(dir, to), 0o600)
		chown(t, filepath.Join(dir, to), owner)
	}

	// The password file, made by the documented script.
	secrets := map[string]string{"siaprapat-controller": "ctl-secret", "kalbar/pontianak-r1": "r1-secret", "kalbar/sanggau-r2": "r2-secret"}
	var lines strings.Builder
	for u, s := range secrets {
		fmt.Fprintf(&lines, "%s:%s\n", u, s)
	}
	mk := exec.Command("sh", exampleMakePasswd, filepath.Join(dir, "passwd"))
	mk.Stdin = strings.NewReader(lines.String())
	mk.Env = append(os.Environ(), "MOSQUITTO_USER="+owner)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", exampleMakePasswd, err, out)
	}
	if pw, _ := os.ReadFile(filepath.Join(dir, "passwd")); bytes.Contains(pw, []byte("r1-secret")) {
		t.Fatalf("the password file holds a secret in clear:\n%s", pw)
	}
	copyFile(t, exampleMosquittoACL, filepath.Join(dir, "acl"), 0o644) // no secret in it

	// The configuration, moved: /etc/mosquitto/ to the test's directory,
	// the TLS listener to a free loopback port.
	conf, err := os.ReadFile(exampleMosquittoConf)
	if err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	text := string(conf)
	for _, r := range [][2]string{{"/etc/mosquitto/", dir + "/"}, {"listener 8883\n", fmt.Sprintf("listener %d 127.0.0.1\n", port)}} {
		if !strings.Contains(text, r[0]) {
			t.Fatalf("%s no longer has %q: the test moves it", exampleMosquittoConf, r[0])
		}
		text = strings.ReplaceAll(text, r[0], r[1])
	}
	confFile := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var out testenv.Log
	m := exec.Command(bin, "-c", confFile, "-v")
	m.Stdout, m.Stderr = &out, &out
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- m.Wait() }()
	t.Cleanup(func() {
		m.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("mosquitto -c %s:\n%s", confFile, out.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("mosquitto refused the documented configuration: %v\n%s", err, out.String())
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not listen on %s\n%s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	tlsConf := &tls.Config{RootCAs: pki.caPool}
	connect := func(clientID, username, password string) (mqtt.Client, error) {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("ssl://" + addr).SetTLSConfig(tlsConf).
			SetClientID(clientID).SetUsername(username).SetPassword(password).SetAutoReconnect(false))
		tok := c.Connect()
		if !tok.WaitTimeout(5 * time.Second) {
			return nil, fmt.Errorf("connect as %s: no answer", username)
		}
		if tok.Error() != nil {
			return nil, tok.Error()
		}
		t.Cleanup(func() { c.Disconnect(0) })
		return c, nil
	}

	if _, err := connect("siaprapat-agent/kalbar/pontianak-r1", "kalbar/pontianak-r1", "wrong"); err == nil {
		t.Error("a wrong secret was taken")
	}

	ctl, err := connect("siaprapat-controller-test", "siaprapat-controller", "ctl-secret")
	if err != nil {
		t.Fatalf("the controller's user: %v", err)
	}
	reports := make(chan string, 10)
	sub := ctl.Subscribe("siaprapat/v1/+/+/report", 1, func(_ mqtt.Client, m mqtt.Message) { reports <- m.Topic() + " " + string(m.Payload()) })
	if !sub.WaitTimeout(5*time.Second) || sub.Error() != nil {
		t.Fatalf("the controller's user subscribes to every report: %v", sub.Error())
	}
	if got := sub.(*mqtt.SubscribeToken).Result()["siaprapat/v1/+/+/report"]; got != 1 {
		t.Fatalf("the controller's user subscribing to every report: SUBACK %#x, want QoS 1", got)
	}

	room, err := connect(wire.AgentClientID("kalbar", "pontianak-r1"), "kalbar/pontianak-r1", "r1-secret")
	if err != nil {
		t.Fatalf("the room's user: %v", err)
	}
	// Another room's commands, and its own: Mosquitto 2.0 grants both
	// subscriptions and checks the ACL at delivery, so the controller's user
	// sends the other room's first; the room must get its own only.
	cmds := make(chan string, 10)
	for _, topic := range []string{wire.Topic("kalbar", "sanggau-r2", wire.KindCmd), wire.Topic("kalbar", "pontianak-r1", wire.KindCmd)} {
		s := room.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) { cmds <- m.Topic() })
		if !s.WaitTimeout(5*time.Second) || s.Error() != nil {
			t.Fatalf("subscribe %s: %v", topic, s.Error())
		}
		t.Logf("SUBACK for %s as kalbar/pontianak-r1: %#x", topic, s.(*mqtt.SubscribeToken).Result()[topic])
	}
	for _, topic := range []string{wire.Topic("kalbar", "sanggau-r2", wire.KindCmd), wire.Topic("kalbar", "pontianak-r1", wire.KindCmd)} {
		if tok := ctl.Publish(topic, 1, false, "{}"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
	select {
	case got := <-cmds:
		if want := wire.Topic("kalbar", "pontianak-r1", wire.KindCmd); got != want {
			t.Errorf("kalbar/pontianak-r1 received %s first, want %s (the ACL let a room read another room's commands)", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("kalbar/pontianak-r1 received no command from the controller's user")
	}
	// Another room's report first, then its own: one client's messages
	// arrive in order, so the first one delivered is the one the ACL let
	// through.
	for _, p := range []struct{ topic, payload string }{
		{wire.Topic("kalbar", "sanggau-r2", wire.KindReport), "forged"},
		{wire.Topic("kalbar", "pontianak-r1", wire.KindReport), "own"},
	} {
		if tok := room.Publish(p.topic, 1, false, p.payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", p.topic, tok.Error())
		}
	}
	select {
	case got := <-reports:
		if want := "siaprapat/v1/kalbar/pontianak-r1/report own"; got != want {
			t.Errorf("the controller's user received %q first, want %q (the ACL let a room write another room's report)", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the controller's user received no report from kalbar/pontianak-r1")
	}
	select {
	case got := <-reports:
		t.Errorf("the controller's user also received %q", got)
	case got := <-cmds:
		t.Errorf("kalbar/pontianak-r1 also received %s", got)
	case <-time.After(time.Second):
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}

// chown gives a file to the user Mosquitto runs as (a no-op when that is
// the test's own user).
func chown(t *testing.T, path, owner string) {
	t.Helper()
	if out, err := exec.Command("chown", owner, path).CombinedOutput(); err != nil {
		t.Fatalf("chown %s %s: %v\n%s", owner, path, err, out)
	}
}
