package e2e

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/internal/testenv"
)

// TestRunScript_StopsWhatItStartedAndRefusesASecondRun is make run as a
// newcomer uses it: scripts/run.sh, its output through a pipe (make run |
// tee log), stopped with Ctrl-C (SIGINT to the terminal's foreground
// group). A second run beside a live one refuses and names the pids; after
// Ctrl-C neither program is left running (2 times of 5 before), and the
// next run starts.
func TestRunScript_StopsWhatItStartedAndRefusesASecondRun(t *testing.T) {
	agentBin, ctlBin := binaries(t)
	root := t.TempDir() // a checkout of its own: run.sh works in ./bin and ./data
	for _, d := range []string{"scripts", "bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script, err := os.ReadFile("../scripts/run.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "scripts", "run.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{agentBin, ctlBin} {
		if err := os.Symlink(b, filepath.Join(root, "bin", filepath.Base(b))); err != nil {
			t.Fatal(err)
		}
	}
	_, httpPort, _ := net.SplitHostPort(testenv.FreeAddr(t))
	_, mqttPort, _ := net.SplitHostPort(testenv.FreeAddr(t))
	env := append(os.Environ(), "HTTP_PORT="+httpPort, "MQTT_PORT="+mqttPort, "INTERVAL=1h", "AGENT_FLAGS=--only host")

	// make run | tee log: the script and the pipe's reader in one process
	// group, as a terminal's foreground job.
	// Each run is stopped at the end as a user would (Ctrl-C), and what is
	// left then killed by the pids it wrote: its programs run in sessions
	// of their own (setsid), which a signal to the script's group misses.
	run := func() (*exec.Cmd, <-chan struct{}, *testenv.Log) {
		out := &testenv.Log{}
		cmd := exec.Command("bash", "-c", "scripts/run.sh 2>&1 | cat")
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = root, env, out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.WaitDelay = 5 * time.Second // a program that kept the pipe open does not hold Wait
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
			}
			if b, err := os.ReadFile(filepath.Join(root, "data", "run.pids")); err == nil {
				for _, f := range strings.Fields(string(b)) {
					if p, err := strconv.Atoi(f); err == nil {
						syscall.Kill(p, syscall.SIGKILL)
					}
				}
			}
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		})
		return cmd, exited, out
	}
	first, firstExited, out := run()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "siaprapat is running") {
		if time.Now().After(deadline) {
			t.Fatalf("run.sh did not start:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if line, _, _ := strings.Cut(out.String(), "\n"); line != "siaprapat board: http://localhost:"+httpPort+"/ (starting the controller and a demo agent...)" {
		t.Errorf("first line %q, want the board's address", line)
	}
	pidsFile, _ := os.ReadFile(filepath.Join(root, "data", "run.pids"))
	var pids []int
	for _, f := range strings.Fields(string(pidsFile)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	if len(pids) != 2 {
		t.Fatalf("data/run.pids holds %q, want the controller's and the agent's pids", pidsFile)
	}
	// The demo agent's room appears (its state is the machine's: the
	// default standard, a host check only).
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get("http://127.0.0.1:" + httpPort + "/api/v1/rooms/demo/room-1")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("room demo/room-1 did not appear:\n%s", out)
		}
	}

	second := exec.Command("bash", "scripts/run.sh")
	second.Dir, second.Env = root, env
	b, err := second.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(b), "a run started here is still going (pids: "+strings.Trim(string(pidsFile), "\n")+")") {
		t.Errorf("a second run beside a live one: %v\n%s", err, b)
	}

	syscall.Kill(-first.Process.Pid, syscall.SIGINT) // Ctrl-C
	select {
	case <-firstExited:
	case <-time.After(20 * time.Second):
		t.Fatalf("run.sh did not stop within 20 s of Ctrl-C:\n%s", out)
	}
	for _, p := range pids {
		if syscall.Kill(p, 0) == nil {
			t.Errorf("pid %d is still running after Ctrl-C", p)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "data", "run.pids")); !os.IsNotExist(err) {
		t.Errorf("data/run.pids left behind: %v", err)
	}
	if resp, err := http.Get("http://127.0.0.1:" + httpPort + "/readyz"); err == nil {
		resp.Body.Close()
		t.Error("the controller still answers after Ctrl-C")
	}

	// The next run starts (and is stopped by the cleanup, as the first was).
	_, _, out = run()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "siaprapat is running"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the next run did not start:\n%s", out)
		}
	}
}
