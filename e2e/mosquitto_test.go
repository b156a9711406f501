package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/siaprapat/siaprapat/controller/ingest"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/wire"
)

// startMosquitto runs a Mosquitto process on a free loopback port for the
// test's lifetime and returns its URL.
func startMosquitto(t *testing.T, bin string) string {
	t.Helper()
	m := &mosquitto{bin: bin, port: testenv.FreePort(t)}
	m.start(t)
	return m.url()
}

// mosquitto is a Mosquitto process that a test can stop and start again on
// the same port.
type mosquitto struct {
	bin  string
	port int
	cmd  *exec.Cmd
}

func (m *mosquitto) url() string { return fmt.Sprintf("mqtt://127.0.0.1:%d", m.port) }

func (m *mosquitto) stop() {
	if m.cmd != nil {
		m.cmd.Process.Kill()
		m.cmd.Wait()
		m.cmd = nil
	}
}

func (m *mosquitto) start(t *testing.T) {
	t.Helper()
	bin, port := m.bin, m.port
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n", port)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m.cmd = cmd
	t.Cleanup(func() {
		if m.cmd == cmd {
			m.stop()
		}
		if t.Failed() {
			t.Logf("mosquitto output:\n%s", out.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not listen on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The controller's commands go out while its handler is busy with a burst of
// reports: paho reads acknowledgements in the goroutine that hands messages
// to the ordered handler, so on one connection a publish waits for the whole
// burst (50,000 rooms answering a fan-out timed out). Here the handler
// stalls on the first of 20 reports, and a command must still be
// acknowledged.
func TestMosquitto_ControllerPublishesWhileItsHandlerIsBusy(t *testing.T) {
	url := startMosquitto(t, testenv.Command(t, "mosquitto", "mosquitto"))
	c, err := ingest.NewClient(ingest.ClientOptions{Broker: url})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	release, first := make(chan struct{}), make(chan struct{})
	var once sync.Once
	if err := c.Subscribe(func(string, []byte) {
		once.Do(func() { close(first) })
		<-release
	}); err != nil {
		t.Fatal(err)
	}
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	room := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("room"))
	if tok := room.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer room.Disconnect(0)
	for i := range 20 {
		room.Publish(wire.Topic("kalbar", fmt.Sprintf("r%d", i), wire.KindReport), 1, false, []byte("{}"))
	}
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("no report reached the handler")
	}
	time.Sleep(200 * time.Millisecond) // the rest queue behind the stalled handler
	if err := c.Publish(wire.Topic("kalbar", "r1", wire.KindCmd), []byte(`{"id":"x"}`)); err != nil {
		t.Errorf("a command while the handler is busy: %v", err)
	}
	if err := c.PublishRetained(wire.Topic("kalbar", "r1", wire.KindSchedule), []byte(`[]`)); err != nil {
		t.Errorf("a schedule while the handler is busy: %v", err)
	}
}
