package e2e

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/wire"
)

// The version make dist is given here, and the Debian version it becomes.
const (
	distVersion = "v9.8.7"
	debVersion  = "9.8.7"
)

// TestPackaging_MakeDist builds the release as a maintainer would, with
// `make dist`, and then tries its artifacts: the Debian packages are
// inspected, installed, upgraded, removed and purged in a throw-away root,
// and the Windows agent runs under Wine, as a console program and as a
// service reporting to a controller.
func TestPackaging_MakeDist(t *testing.T) {
	testenv.Command(t, "make", "make")
	testenv.Command(t, "dpkg-deb", "dpkg")
	testenv.Command(t, "x86_64-w64-mingw32-gcc", "gcc-mingw-w64-x86-64")
	testenv.Command(t, "x86_64-w64-mingw32-g++", "g++-mingw-w64-x86-64")
	dist := t.TempDir()
	began := time.Now()
	out, err := exec.Command("make", "-C", "..", "dist", "VERSION="+distVersion, "DIST="+dist).CombinedOutput()
	if err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}
	t.Logf("make dist took %v", time.Since(began).Round(time.Second))

	want := []string{
		"SHA256SUMS",
		"siaprapat-agent_" + debVersion + "_amd64.deb",
		"siaprapat-agent_" + debVersion + "_windows_amd64.exe",
		"siaprapat-controller_" + debVersion + "_amd64.deb",
		"siaprapat-controller_" + debVersion + "_arm64.deb",
	}
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		fi, _ := e.Info()
		got = append(got, e.Name())
		t.Logf("%-48s %10d bytes", e.Name(), fi.Size())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("dist holds %v, want %v", got, want)
	}
	checkSums(t, dist, want[1:])
	checkELF(t, filepath.Join(dist, want[4]), "siaprapat-controller", elf.EM_AARCH64)

	t.Run("DebianPackages", func(t *testing.T) {
		t.Parallel()
		inspectDebs(t, dist)
	})
	t.Run("InstallUpgradePurgeInAThrowAwayRoot", func(t *testing.T) {
		t.Parallel()
		installDebs(t, dist)
	})
	t.Run("WindowsAgentUnderWine", func(t *testing.T) {
		t.Parallel()
		windowsAgent(t, filepath.Join(dist, want[2]))
	})
}

// checkSums verifies SHA256SUMS against the files.
func checkSums(t *testing.T, dist string, files []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		sum, name, _ := strings.Cut(line, "  ")
		sums[name] = sum
	}
	for _, f := range files {
		content, err := os.ReadFile(filepath.Join(dist, f))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(content)
		if sums[f] != hex.EncodeToString(h[:]) {
			t.Errorf("SHA256SUMS says %q for %s, the file's is %x", sums[f], f, h)
		}
	}
	if len(sums) != len(files) {
		t.Errorf("SHA256SUMS lists %d files, want %d:\n%s", len(sums), len(files), data)
	}
}

// checkELF extracts a program from a package and checks its machine.
func checkELF(t *testing.T, deb, program string, machine elf.Machine) {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-x", deb, dir).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x %s: %v\n%s", deb, err, out)
	}
	f, err := elf.Open(filepath.Join(dir, "usr", "bin", program))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s in %s is for %v, want %v", program, filepath.Base(deb), f.Machine, machine)
	}
}

func dpkgDeb(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// inspectDebs reads the packages as dpkg would: fields, files with their
// modes, the conffile, and the systemd unit.
func inspectDebs(t *testing.T, dist string) {
	for _, tc := range []struct {
		pkg, arch, config string
		depends           string
		unit              []string
	}{
		{"siaprapat-agent", "amd64", "agent.yaml", "libc6 (>= 2.34)", []string{
			"User=siaprapat-agent", "SupplementaryGroups=video audio", "StateDirectory=siaprapat/agent",
			"LoadCredential=agent.yaml:/etc/siaprapat/agent.yaml",
			"ExecStart=/usr/bin/siaprapat-agent run --config ${CREDENTIALS_DIRECTORY}/agent.yaml",
			"ProtectSystem=strict", "NoNewPrivileges=yes", "DeviceAllow=char-video4linux rw", "DeviceAllow=char-alsa rw",
		}},
		{"siaprapat-controller", "amd64", "controller.yaml", "", []string{
			"User=siaprapat-controller", "StateDirectory=siaprapat/controller",
			"LoadCredential=controller.yaml:/etc/siaprapat/controller.yaml",
			"ExecStart=/usr/bin/siaprapat-controller serve --config ${CREDENTIALS_DIRECTORY}/controller.yaml",
			"ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateDevices=yes",
		}},
		{"siaprapat-controller", "arm64", "controller.yaml", "", nil},
	} {
		deb := filepath.Join(dist, tc.pkg+"_"+debVersion+"_"+tc.arch+".deb")
		t.Run(tc.pkg+"_"+tc.arch, func(t *testing.T) {
			for field, want := range map[string]string{"Package": tc.pkg, "Version": debVersion, "Architecture": tc.arch, "Depends": tc.depends} {
				if got := strings.TrimSpace(dpkgDeb(t, "-f", deb, field)); got != want {
					t.Errorf("%s: %q, want %q", field, got, want)
				}
			}
			info := dpkgDeb(t, "-I", deb)
			for _, script := range []string{"postinst", "prerm", "postrm", "conffiles"} {
				if !regexp.MustCompile(`\d+ bytes, +\d+ lines +\*? +` + script + `\b`).MatchString(info) {
					t.Errorf("no %s in the control archive:\n%s", script, info)
				}
			}
			if got := dpkgDeb(t, "-I", deb, "conffiles"); got != "/etc/siaprapat/"+tc.config+"\n" {
				t.Errorf("conffiles: %q, want the configuration file", got)
			}
			files := dpkgDeb(t, "-c", deb)
			for _, want := range []string{
				`-rwxr-xr-x root/root .* \./usr/bin/` + tc.pkg + `\n`,
				`-rw-r--r-- root/root .* \./usr/lib/systemd/system/` + tc.pkg + `\.service\n`,
				`-rw-r--r-- root/root .* \./usr/lib/sysusers\.d/` + tc.pkg + `\.conf\n`,
				`-rw------- root/root .* \./etc/siaprapat/` + regexp.QuoteMeta(tc.config) + `\n`,
				`-rw-r--r-- root/root .* \./usr/share/doc/` + tc.pkg + `/README\.md\n`,
			} {
				if !regexp.MustCompile(want).MatchString(files) {
					t.Errorf("no file matching %q in\n%s", want, files)
				}
			}
			if len(tc.unit) == 0 {
				return
			}
			dir := t.TempDir()
			dpkgDeb(t, "-x", deb, dir)
			unit, err := os.ReadFile(filepath.Join(dir, "usr/lib/systemd/system", tc.pkg+".service"))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range tc.unit {
				if !strings.Contains(string(unit), "\n"+line+"\n") {
					t.Errorf("the unit has no line %q", line)
				}
			}
		})
	}
}

// throwAwayRoot is an empty root with a dpkg database, for dpkg --root.
type throwAwayRoot struct {
	t    *testing.T
	root string
}

func newRoot(t *testing.T) *throwAwayRoot {
	r := &throwAwayRoot{t: t, root: t.TempDir()}
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"} {
		if err := os.MkdirAll(filepath.Join(r.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(filepath.Join(r.root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// dpkg runs dpkg on the root. The maintainer scripts run outside it
// (--force-script-chrootless: the root has no shell) with DPKG_ROOT set,
// which they honour; the dependencies (libc6) are the host's.
func (r *throwAwayRoot) dpkg(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("dpkg", append([]string{"--root=" + r.root, "--force-script-chrootless", "--force-depends", "--log=/dev/null"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (r *throwAwayRoot) path(p string) string { return filepath.Join(r.root, p) }

func (r *throwAwayRoot) status(pkg string) string {
	r.t.Helper()
	out, _ := exec.Command("dpkg-query", "--root="+r.root, "-W", "-f=${Status} ${Version}", pkg).CombinedOutput()
	return strings.TrimSpace(string(out))
}

func (r *throwAwayRoot) exists(p string) bool {
	_, err := os.Lstat(r.path(p))
	return err == nil
}

func installDebs(t *testing.T, dist string) {
	testenv.Command(t, "systemd-analyze", "systemd")
	agentDeb := filepath.Join(dist, "siaprapat-agent_"+debVersion+"_amd64.deb")
	ctlDeb := filepath.Join(dist, "siaprapat-controller_"+debVersion+"_amd64.deb")
	hostPasswd, _ := os.ReadFile("/etc/passwd")
	r := newRoot(t)
	r.dpkg("--install", agentDeb, ctlDeb)

	for _, pkg := range []string{"siaprapat-agent", "siaprapat-controller"} {
		if got := r.status(pkg); got != "install ok installed "+debVersion {
			t.Errorf("%s: %q, want installed %s", pkg, got, debVersion)
		}
		out, code := runProgram(t, r.path("usr/bin/"+pkg), "version")
		if code != 0 || !strings.HasPrefix(out, pkg+", version "+distVersion+" ") {
			t.Errorf("the installed %s version: exit %d\n%s", pkg, code, out)
		}
	}
	if out, code := runProgram(t, r.path("usr/bin/siaprapat-agent"), "--version"); code != 0 || !strings.Contains(out, "version "+distVersion) {
		t.Errorf("siaprapat-agent --version: exit %d\n%s", code, out)
	}
	// The system users, the agent's in video and audio; on the host, nothing.
	passwd, _ := os.ReadFile(r.path("etc/passwd"))
	group, _ := os.ReadFile(r.path("etc/group"))
	for _, want := range []string{`(?m)^siaprapat-agent:x:\d+:\d+:[^:]*:/var/lib/siaprapat/agent:/usr/sbin/nologin$`, `(?m)^siaprapat-controller:x:\d+:\d+:`} {
		if !regexp.MustCompile(want).Match(passwd) {
			t.Errorf("no user matching %q in the root's /etc/passwd:\n%s", want, passwd)
		}
	}
	for _, g := range []string{"video", "audio"} {
		if !regexp.MustCompile(`(?m)^` + g + `:x:\d+:.*\bsiaprapat-agent\b`).Match(group) {
			t.Errorf("siaprapat-agent is not in group %s:\n%s", g, group)
		}
	}
	if after, _ := os.ReadFile("/etc/passwd"); string(after) != string(hostPasswd) {
		t.Error("installing into the throw-away root changed the host's /etc/passwd")
	}
	// The units parse, and their hardening is what systemd calls OK.
	for _, unit := range []string{"siaprapat-agent.service", "siaprapat-controller.service"} {
		out, _ := exec.Command("systemd-analyze", "security", "--offline=yes", "--root="+r.root, unit).CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for ` + regexp.QuoteMeta(unit) + `: (\d+\.\d+) (\S+)`).FindStringSubmatch(string(out))
		if m == nil {
			t.Errorf("systemd-analyze security %s:\n%s", unit, out)
			continue
		}
		if level, _ := strconv.ParseFloat(m[1], 64); level > 2.5 {
			t.Errorf("%s: exposure %s %s, want at most 2.5", unit, m[1], m[2])
		}
		t.Logf("systemd-analyze security: %s exposure %s %s", unit, m[1], m[2])
	}

	// The installed controller takes its packaged configuration as it is,
	// with the API tokens its postinst made.
	ctlCfg := r.path("etc/siaprapat/controller.yaml")
	if out, code := runProgram(t, r.path("usr/bin/siaprapat-controller"), "serve", "--config", ctlCfg, "--check-config"); code != 0 ||
		!strings.Contains(out, ": 3 settings") {
		t.Errorf("the controller's packaged configuration: exit %d\n%s", code, out)
	}
	checkPackagedTokens(t, r.path("usr/bin/siaprapat-controller"), ctlCfg)
	// The room is enrolled with the installed agent, into the conffile.
	cfg := r.path("etc/siaprapat/agent.yaml")
	env := filepath.Join(t.TempDir(), "room-9.env")
	if err := os.WriteFile(env, []byte("SIAPRAPAT_SITE=demo\nSIAPRAPAT_ROOM=room-9\nSIAPRAPAT_BROKER=mqtts://siaprapat.example.go.id:8883\n"+
		"SIAPRAPAT_MQTT_USERNAME=demo/room-9\nSIAPRAPAT_MQTT_PASSWORD=enrolled-secret\nSIAPRAPAT_CONTROLLER=http://siaprapat.example.go.id:9780\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := runProgram(t, r.path("usr/bin/siaprapat-agent"), "enroll", "--env", env, "--config", cfg); code != 0 {
		t.Fatalf("enroll: exit %d\n%s", code, out)
	}
	if out, code := runProgram(t, r.path("usr/bin/siaprapat-agent"), "run", "--config", cfg, "--check-config"); code != 0 ||
		!strings.Contains(out, "room demo/room-9, broker mqtts://siaprapat.example.go.id:8883 as demo/room-9") ||
		!strings.Contains(out, "spool in /var/lib/siaprapat/agent") {
		t.Errorf("the enrolled configuration: exit %d\n%s", code, out)
	}
	enrolledCfg, _ := os.ReadFile(cfg)

	// An upgrade keeps the enrolled configuration and its mode.
	upgrade := repackAs(t, agentDeb, debVersion+"+1")
	out := r.dpkg("--install", upgrade)
	if got := r.status("siaprapat-agent"); got != "install ok installed "+debVersion+"+1" {
		t.Errorf("after the upgrade: %q\n%s", got, out)
	}
	if now, err := os.ReadFile(cfg); err != nil || string(now) != string(enrolledCfg) {
		t.Errorf("the upgrade changed the configuration (%v):\n%s", err, now)
	}
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the configuration after the upgrade: %v, mode %v", err, fi.Mode())
	}

	// Remove keeps the configuration and data; purge takes them.
	spool := "var/lib/siaprapat/agent/spool.db"
	if err := os.MkdirAll(filepath.Dir(r.path(spool)), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.path(spool), []byte("reports"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.dpkg("--remove", "siaprapat-agent")
	if got := r.status("siaprapat-agent"); got != "deinstall ok config-files "+debVersion+"+1" {
		t.Errorf("after remove: %q", got)
	}
	if r.exists("usr/bin/siaprapat-agent") || r.exists("usr/lib/systemd/system/siaprapat-agent.service") || !r.exists("etc/siaprapat/agent.yaml") || !r.exists(spool) {
		t.Error("remove must take the program and unit and keep the configuration and the spool")
	}
	r.dpkg("--purge", "siaprapat-agent")
	if r.exists("etc/siaprapat/agent.yaml") || r.exists("var/lib/siaprapat/agent") {
		t.Error("purge left the configuration or the spool")
	}
	if !r.exists("etc/siaprapat/controller.yaml") {
		t.Error("purging the agent took the controller's configuration")
	}
	r.dpkg("--purge", "siaprapat-controller")
	for _, p := range []string{"etc/siaprapat", "var/lib/siaprapat", "usr/bin/siaprapat-controller", "usr/lib/sysusers.d/siaprapat-controller.conf"} {
		if r.exists(p) {
			t.Errorf("%s is left after purging both packages", p)
		}
	}
}

// repackAs rebuilds a package under another version: an upgrade to install.
func repackAs(t *testing.T, deb, version string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pkg")
	dpkgDeb(t, "-R", deb, dir)
	control := filepath.Join(dir, "DEBIAN", "control")
	data, err := os.ReadFile(control)
	if err != nil {
		t.Fatal(err)
	}
	data = regexp.MustCompile(`(?m)^Version: .*$`).ReplaceAll(data, []byte("Version: "+version))
	if err := os.WriteFile(control, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "upgrade.deb")
	dpkgDeb(t, "--root-owner-group", "-b", dir, out)
	return out
}

// winePrefix is a Wine prefix of its own, with the bcryptprimitives.dll
// that Wine 8 lacks and Go programs need (packaging/wine).
type winePrefix struct {
	t      *testing.T
	prefix string
	env    []string
}

func newWinePrefix(t *testing.T) *winePrefix {
	testenv.Command(t, "wine", "wine")
	w := &winePrefix{t: t, prefix: t.TempDir()}
	w.env = append(os.Environ(), "WINEPREFIX="+w.prefix, "WINEARCH=win64", "WINEDEBUG=-all",
		"WINEDLLOVERRIDES=mscoree,mshtml=", "DISPLAY=")
	t.Cleanup(func() {
		cmd := exec.Command("wineserver", "-k") // this prefix's processes only
		cmd.Env = w.env
		cmd.Run()
	})
	began := time.Now()
	if _, stderr, code := w.run("cmd", "/c", "exit"); code != 0 {
		t.Fatalf("creating the Wine prefix: exit %d\n%s", code, stderr)
	}
	dll := filepath.Join(w.prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	if out, err := exec.Command("x86_64-w64-mingw32-gcc", "-O2", "-shared", "-o", dll, "../packaging/wine/bcryptprimitives.c", "-ladvapi32").CombinedOutput(); err != nil {
		t.Fatalf("building bcryptprimitives.dll: %v\n%s", err, out)
	}
	t.Logf("Wine prefix ready in %v", time.Since(began).Round(100*time.Millisecond))
	return w
}

// run runs a Windows program and returns its stdout, stderr and exit code.
func (w *winePrefix) run(args ...string) (string, string, int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wine", args...)
	cmd.Env = w.env
	// Files, not pipes: the wineserver and services a first wine command
	// starts inherit its output and outlive it, and a pipe would stay open.
	dir := w.t.TempDir()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		w.t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		w.t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		w.t.Fatalf("wine %s: %v", strings.Join(args, " "), err)
	}
	out, _ := os.ReadFile(stdout.Name())
	errOut, _ := os.ReadFile(stderr.Name())
	return string(out), string(errOut), code
}

// windowsPath is how Wine's programs see a path of the host.
func windowsPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

func windowsAgent(t *testing.T, exe string) {
	w := newWinePrefix(t)
	stdout, stderr, code := w.run(exe, "--version")
	if code != 0 || !strings.HasPrefix(stdout, "siaprapat-agent, version "+distVersion+" ") || !strings.Contains(stdout, "platform:         windows/amd64") {
		t.Fatalf("--version: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = w.run(exe, "check", "--only", "host", "--json")
	if code != exitReadyOrDegraded && code != exitNotReady {
		t.Fatalf("check --only host --json: exit %d\n%s", code, stderr)
	}
	rep, err := wire.Decode([]byte(stdout))
	if err != nil {
		t.Fatalf("the Report from Windows: %v\n%s", err, stdout)
	}
	if len(rep.Checks) != 1 || rep.Checks[0].Check != "host" || rep.Checks[0].Verdict == wire.Error || rep.Checks[0].Measurements["memory_total_bytes"] <= 0 {
		t.Errorf("the host check on Windows: %+v", rep.Checks)
	}
	if rep.AgentVersion != distVersion {
		t.Errorf("agent_version %q", rep.AgentVersion)
	}

	// The cameras through DirectShow: Wine lists no video input device.
	stdout, stderr, code = w.run(exe, "check", "--only", "camera", "--json")
	if code != exitNotReady {
		t.Fatalf("check --only camera --json: exit %d, want %d (not ready)\n%s%s", code, exitNotReady, stdout, stderr)
	}
	if rep, err = wire.Decode([]byte(stdout)); err != nil {
		t.Fatalf("the camera Report from Windows: %v\n%s", err, stdout)
	}
	if len(rep.Checks) != 1 || rep.Checks[0].Check != "camera" || rep.Checks[0].Verdict != wire.Fail || rep.Checks[0].Reason != "no camera found" {
		t.Errorf("the camera check on Windows under Wine: %+v, want one fail \"no camera found\"", rep.Checks)
	}

	// The audio check, whose quiet gate enumerates WASAPI's audio
	// sessions: it runs, and its report alone is on stdout.
	stdout, stderr, code = w.run(exe, "check", "--only", "audio", "--no-loopback", "--json")
	if rep, err = wire.Decode([]byte(stdout)); err != nil {
		t.Fatalf("check --only audio --json: exit %d: %v\n%s%s", code, err, stdout, stderr)
	}
	t.Logf("the audio check on Windows under Wine: %+v", rep.Checks)

	// As a service: enrolled by the controller's file, reporting to it.
	_, ctlBin := binaries(t)
	httpAddr, mqttAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	start(t, ctlBin, "serve", "--http", httpAddr, "--mqtt-listen", mqttAddr, "--mqtt-require-login",
		"--data", t.TempDir(), "--standard", "testdata/lenient.yaml")
	waitHTTP(t, httpAddr)
	env := filepath.Join(t.TempDir(), "winroom.env")
	if out, code := runProgram(t, ctlBin, "agent", "add", "demo/winroom", "--server", "http://"+httpAddr, "--broker", "mqtt://"+mqttAddr, "--out", env); code != 0 {
		t.Fatalf("agent add: exit %d\n%s", code, out)
	}
	stdout, stderr, code = w.run(exe, "enroll", "--env", windowsPath(env))
	if code != 0 || !strings.Contains(stdout, `wrote C:\ProgramData\siaprapat\agent.yaml`) {
		t.Fatalf("enroll: exit %d\n%s%s", code, stdout, stderr)
	}
	cfg := filepath.Join(w.prefix, "drive_c", "ProgramData", "siaprapat", "agent.yaml")
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "only: host\ninterval: 1s\nstandard: %s\n", windowsPath(mustAbs(t, "testdata/lenient.yaml")))
	f.Close()

	// Wine ends its services when its last program does: one waits here.
	keep := exec.Command("wine", "cmd")
	keep.Env = w.env
	stdin, err := keep.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := keep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); keep.Wait() }()

	stdout, stderr, code = w.run(exe, "service", "install")
	if code != 0 || !strings.Contains(stdout, "started the siaprapat-agent service") {
		t.Fatalf("service install: exit %d\n%s%s", code, stdout, stderr)
	}
	waitHTTPState(t, httpAddr, "demo", "winroom", "ready", 60*time.Second)
	if stdout, stderr, code = w.run(exe, "service", "status"); code != 0 || stdout != "siaprapat-agent: running\n" {
		t.Errorf("service status: exit %d\n%s%s", code, stdout, stderr)
	}
	// Stopped by the service manager, the agent says goodbye.
	if stdout, stderr, code = w.run(exe, "service", "uninstall"); code != 0 || !strings.Contains(stdout, "removed the siaprapat-agent service") {
		t.Errorf("service uninstall: exit %d\n%s%s", code, stdout, stderr)
	}
	waitHTTPState(t, httpAddr, "demo", "winroom", "offline", 20*time.Second)
	if _, stderr, code = w.run(exe, "service", "status"); code == 0 || !strings.Contains(stderr, "not installed") {
		t.Errorf("service status after uninstall: exit %d\n%s", code, stderr)
	}
}

// The agent's check exit codes.
const (
	exitReadyOrDegraded = 0
	exitNotReady        = 1
)

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// checkPackagedTokens: the package made an admin and a read token into the
// controller's configuration (mode 0600), and the installed controller,
// run with it, refuses writes and reads without them.
func checkPackagedTokens(t *testing.T, ctlBin, cfg string) {
	t.Helper()
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	admin := regexp.MustCompile(`(?m)^api-token: ([0-9a-f]{64})$`).FindSubmatch(data)
	read := regexp.MustCompile(`(?m)^api-read-token: ([0-9a-f]{64})$`).FindSubmatch(data)
	if admin == nil || read == nil {
		t.Fatalf("no tokens made at install in %s:\n%s", cfg, data)
	}
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, %v; want 0600", cfg, fi.Mode(), err)
	}
	httpAddr := testenv.FreeAddr(t)
	start(t, ctlBin, "serve", "--config", cfg, "--data", t.TempDir(), "--http", httpAddr, "--mqtt-listen", testenv.FreeAddr(t))
	waitHTTP(t, httpAddr)
	do := func(method, path, token string) int {
		req, _ := http.NewRequest(method, "http://"+httpAddr+path,
			strings.NewReader(`{"title":"Rapat","start":"2026-12-01T09:00:00+07:00","end":"2026-12-01T10:00:00+07:00"}`))
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
	for _, c := range []struct {
		method, path, token string
		want                int
	}{
		{"POST", "/api/v1/rooms/demo/r/sessions", "", http.StatusUnauthorized},
		{"POST", "/api/v1/rooms/demo/r/sessions", string(read[1]), http.StatusUnauthorized},
		{"POST", "/api/v1/rooms/demo/r/sessions", string(admin[1]), http.StatusCreated},
		{"GET", "/api/v1/rooms", "", http.StatusUnauthorized},
		{"GET", "/api/v1/rooms", string(read[1]), http.StatusOK},
		{"GET", "/metrics", "", http.StatusOK},
	} {
		if got := do(c.method, c.path, c.token); got != c.want {
			t.Errorf("%s %s with token %.8q: %d, want %d", c.method, c.path, c.token, got, c.want)
		}
	}
}
