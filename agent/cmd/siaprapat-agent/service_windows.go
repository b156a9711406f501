//go:build windows

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// serviceName is the agent's Windows service, and its event log source.
const serviceName = "siaprapat-agent"

const serviceUsage = `usage: siaprapat-agent service <install|uninstall|status|run> [flags]

  install     check the configuration, register the service (automatic start, restarted
              on failure, logging to the Application event log) and start it
  uninstall   stop the service and remove it (the configuration and spool stay)
  status      print the service's state
  run         the service's own command line: run the agent for the service manager
              (takes run's flags)

flags:
  --config FILE   (install) the configuration the service runs with (default %s)
  --no-start      (install) register the service without starting it
`

// runService runs the agent under the service manager, which starts
// "siaprapat-agent service run --config FILE" as the service's command line.
// (An explicit command, rather than guessing from the parent process: Wine's
// service manager does not look like Windows' to svc.IsWindowsService.)
func runService(args []string) error {
	var logw io.Writer = io.Discard
	if elog, err := eventlog.Open(serviceName); err == nil {
		defer elog.Close()
		logw = eventWriter{elog}
	}
	h := &serviceHandler{args: args, log: logw}
	if err := svc.Run(serviceName, h); err != nil {
		return fmt.Errorf("%w: 'service run' is the command line of the installed service, for the service manager to start", err)
	}
	if h.code != 0 {
		return fmt.Errorf("the agent stopped with exit code %d (see the Application event log)", h.code)
	}
	return nil
}

type serviceHandler struct {
	args []string // run's flags, from the service's command line
	log  io.Writer
	code int
}

// Execute runs the agent until the service manager stops it. An agent that
// stops by itself (a bad configuration) reports a service-specific exit code,
// which the recovery actions answer with a restart.
func (h *serviceHandler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- runDaemon(ctx, h.args, h.log) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case h.code = <-done:
			return h.code != 0, uint32(h.code)
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: 20000}
				cancel() // the agent says offline and disconnects
				h.code = <-done
				return false, 0
			}
		}
	}
}

// eventWriter sends each log line to the Application event log, at the
// line's level.
type eventWriter struct{ l *eventlog.Log }

func (w eventWriter) Write(p []byte) (int, error) {
	msg := strings.TrimRight(string(p), "\r\n")
	var err error
	switch {
	case bytes.Contains(p, []byte(" level=ERROR ")):
		err = w.l.Error(3, msg)
	case bytes.Contains(p, []byte(" level=WARN ")):
		err = w.l.Warning(2, msg)
	default:
		err = w.l.Info(1, msg)
	}
	return len(p), err
}

func serviceCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, serviceUsage, defaultConfigFile())
		return exitNoCheck
	}
	verb := args[0]
	if verb == "run" {
		if err := runService(args[1:]); err != nil {
			fmt.Fprintf(stderr, "siaprapat-agent service run: %v\n", err)
			return exitNoCheck
		}
		return 0
	}
	fs := flag.NewFlagSet("siaprapat-agent service "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", defaultConfigFile(), "(install) the configuration file the service runs with")
	noStart := fs.Bool("no-start", false, "(install) register the service without starting it")
	if !parse(fs, args[1:]) {
		return exitNoCheck
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "siaprapat-agent service %s: %v\n", verb, err)
		return exitNoCheck
	}
	var err error
	switch verb {
	case "install":
		err = installService(*cfgFile, !*noStart, stdout, stderr)
	case "uninstall":
		err = uninstallService(stdout)
	case "status":
		err = serviceStatus(stdout)
	default:
		fmt.Fprintf(stderr, "siaprapat-agent service: unknown command %q\n\n", verb)
		fmt.Fprintf(stderr, serviceUsage, defaultConfigFile())
		return exitNoCheck
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

func connect() (*mgr.Mgr, error) {
	m, err := mgr.Connect()
	if err != nil {
		return nil, fmt.Errorf("connect to the service manager: %w (run this as Administrator)", err)
	}
	return m, nil
}

func installService(cfgFile string, start bool, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if cfgFile, err = filepath.Abs(cfgFile); err != nil {
		return err
	}
	// The service runs with this configuration: check it as run would.
	if runDaemon(context.Background(), []string{"--config", cfgFile, "--check-config"}, stderr) != 0 {
		return fmt.Errorf("%s is not a configuration the agent can run with (see above); enrol first: siaprapat-agent enroll --env FILE", cfgFile)
	}
	m, err := connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	if s, err := m.OpenService(serviceName); err == nil {
		s.Close()
		return fmt.Errorf("the %s service is already installed: to change it, uninstall it first (siaprapat-agent service uninstall)", serviceName)
	}
	s, err := m.CreateService(serviceName, exe, mgr.Config{
		DisplayName: "siaprapat agent",
		Description: "Checks this video-conference room (camera, microphone, network, PC) and reports its readiness to the siaprapat controller.",
		StartType:   mgr.StartAutomatic,
	}, "service", "run", "--config", cfgFile)
	if err != nil {
		return fmt.Errorf("create the service: %w", err)
	}
	defer s.Close()
	// Windows knows these settings since Vista; Wine's service manager does
	// not (ERROR_INVALID_LEVEL), which is no reason to fail there.
	optional := func(what string, err error) error {
		if errors.Is(err, windows.ERROR_INVALID_LEVEL) {
			fmt.Fprintf(stderr, "note: this service manager cannot %s: %v\n", what, err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	// Start a little after boot, once the network and the audio service are up.
	delayed := windows.SERVICE_DELAYED_AUTO_START_INFO{IsDelayedAutoStartUp: 1}
	if err := optional("delay the start at boot", windows.ChangeServiceConfig2(s.Handle,
		windows.SERVICE_CONFIG_DELAYED_AUTO_START_INFO, (*byte)(unsafe.Pointer(&delayed)))); err != nil {
		return err
	}
	restart := []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 10 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
		{Type: mgr.ServiceRestart, Delay: time.Minute},
	}
	if err := optional("restart the agent when it fails", s.SetRecoveryActions(restart, uint32((24*time.Hour).Seconds()))); err != nil {
		return err
	}
	if err := optional("restart the agent when it stops with an error", s.SetRecoveryActionsOnNonCrashFailures(true)); err != nil {
		return err
	}
	if err := eventlog.InstallAsEventCreate(serviceName, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil && !strings.Contains(err.Error(), "exists") {
		return fmt.Errorf("register the event log source: %w", err)
	}
	fmt.Fprintf(stdout, "installed the %s service: %s service run --config %s (automatic start; logs in the Application event log, source %s)\n", serviceName, exe, cfgFile, serviceName)
	if !start {
		return nil
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("start the service: %w", err)
	}
	fmt.Fprintf(stdout, "started the %s service\n", serviceName)
	return nil
}

// openInstalled connects to the service manager and opens the agent's
// service; it is an error when the service is not installed.
func openInstalled() (*mgr.Mgr, *mgr.Service, error) {
	m, err := connect()
	if err != nil {
		return nil, nil, err
	}
	s, err := m.OpenService(serviceName)
	if err != nil {
		m.Disconnect()
		return nil, nil, fmt.Errorf("the %s service is not installed", serviceName)
	}
	return m, s, nil
}

func uninstallService(stdout io.Writer) error {
	m, s, err := openInstalled()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	defer s.Close()
	if st, err := s.Control(svc.Stop); err == nil {
		for deadline := time.Now().Add(30 * time.Second); st.State != svc.Stopped && time.Now().Before(deadline); {
			time.Sleep(300 * time.Millisecond)
			if st, err = s.Query(); err != nil {
				break
			}
		}
	} else if !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
		return fmt.Errorf("stop the service: %w", err)
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("remove the service: %w", err)
	}
	_ = eventlog.Remove(serviceName) // gone already is fine
	fmt.Fprintf(stdout, "removed the %s service (its configuration and spool stay in %s)\n", serviceName, filepath.Dir(defaultConfigFile()))
	return nil
}

func serviceStatus(stdout io.Writer) error {
	m, s, err := openInstalled()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return fmt.Errorf("query the service: %w", err)
	}
	names := map[svc.State]string{
		svc.Stopped: "stopped", svc.StartPending: "starting", svc.StopPending: "stopping", svc.Running: "running",
		svc.ContinuePending: "continuing", svc.PausePending: "pausing", svc.Paused: "paused",
	}
	fmt.Fprintf(stdout, "%s: %s\n", serviceName, names[st.State])
	return nil
}
