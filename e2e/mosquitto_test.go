package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/internal/testenv"
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
