package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/siaprapat/siaprapat/internal/config"
	"github.com/siaprapat/siaprapat/wire"
)

const enrollUsage = `usage: siaprapat-agent enroll --env FILE [--config FILE]
       siaprapat-agent enroll --controller URL --token TOKEN --site SITE --room ROOM [--broker URL] [--config FILE]

Writes this room's credentials into the agent's configuration file (mode 0600;
on Windows readable by SYSTEM and Administrators only), keeping its other settings.

  --env FILE         the file 'siaprapat-controller agent add --out FILE' wrote for this room
  --controller URL   or enrol by asking the controller, e.g. http://siaprapat.example.go.id:9780
  --token TOKEN      the controller's admin API token (or set SIAPRAPAT_API_TOKEN)
  --site, --room     (with --controller) the room to enrol
  --broker URL       (with --controller) the broker as this PC reaches it
                     (default: the scheme and port the controller gives for its
                     broker, at the controller's host; mqtt://HOST:1883 when it
                     gives none)
  --config FILE      the configuration file to write (default %s)
`

// enrolment is what a room's agent needs to log in: the controller's
// "agent add" file, or its answer to POST /api/v1/agents.
type enrolment struct {
	Site, Room, Broker, Username, Password, Controller string
}

type enrollFlags struct {
	fs                                     *flag.FlagSet
	envFile, controller, token, site, room *string
	brokerURL, out                         *string
}

func newEnrollFlags(stderr io.Writer) *enrollFlags {
	fs := flag.NewFlagSet("siaprapat-agent enroll", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, enrollUsage, defaultConfigFile()) }
	return &enrollFlags{
		fs:         fs,
		envFile:    fs.String("env", "", "the file 'siaprapat-controller agent add --out' wrote for this room"),
		controller: fs.String("controller", "", "the controller's HTTP address: enrol by asking it"),
		token:      fs.String("token", "", "(with --controller) the controller's admin API token"),
		site:       fs.String("site", "", "(with --controller) site of this room"),
		room:       fs.String("room", "", "(with --controller) room id"),
		brokerURL:  fs.String("broker", "", "(with --controller) the broker URL as this PC reaches it (default: the scheme and port the controller gives for its broker, at the controller's host; mqtt://HOST:1883 when it gives none)"),
		out:        fs.String("config", defaultConfigFile(), "the agent's configuration file to write"),
	}
}

// enrollOptions: the token may come from the environment; the
// configuration file is what enroll writes, not read for its flags.
var enrollOptions = config.Options{Command: "siaprapat-agent enroll", Env: map[string][]string{"token": envAPIToken}}

func (ef *enrollFlags) command() config.Command {
	return config.Command{Flags: ef.fs, Options: enrollOptions}
}

func enroll(args []string, stdout, stderr io.Writer) int {
	ef := newEnrollFlags(stderr)
	envFile, controller, token, site, room, brokerURL, out := ef.envFile, ef.controller, ef.token, ef.site, ef.room, ef.brokerURL, ef.out
	if !parse(ef.fs, args) {
		return exitNoCheck
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "siaprapat-agent enroll: %v\n", err)
		return exitNoCheck
	}
	explicitToken := false
	ef.fs.Visit(func(f *flag.Flag) { explicitToken = explicitToken || f.Name == "token" })
	if _, err := config.Resolve(ef.fs, "", enrollOptions); err != nil {
		return fail(err)
	}
	var e enrolment
	var err error
	switch {
	case (*envFile == "") == (*controller == ""):
		return fail(errors.New("give --env FILE (from the controller's 'agent add --out') or --controller URL, one of them"))
	case *envFile != "":
		if *site != "" || *room != "" || *brokerURL != "" || explicitToken {
			return fail(errors.New("--env FILE names the room, broker and credentials: --site, --room, --broker and --token go with --controller"))
		}
		e, err = readEnvFile(*envFile)
	default:
		e, err = askController(*controller, *token, *site, *room, *brokerURL)
	}
	if err != nil {
		return fail(err)
	}
	if err := writeEnrolment(*out, e); err != nil {
		return fail(err)
	}
	if runtime.GOOS == "windows" {
		fmt.Fprintf(stdout, "enrolled %s/%s: wrote %s (readable by SYSTEM and Administrators only)\n", e.Site, e.Room, *out)
		fmt.Fprintf(stdout, "next, as Administrator: siaprapat-agent service install --config %s\n", *out)
	} else {
		fmt.Fprintf(stdout, "enrolled %s/%s: wrote %s (mode 0600)\n", e.Site, e.Room, *out)
		fmt.Fprintf(stdout, "next: systemctl enable siaprapat-agent && systemctl restart siaprapat-agent (the Debian package's service),\n  or: siaprapat-agent run --config %s\n", *out)
	}
	return 0
}

var envKeys = map[string]func(*enrolment) *string{
	"SIAPRAPAT_SITE":          func(e *enrolment) *string { return &e.Site },
	"SIAPRAPAT_ROOM":          func(e *enrolment) *string { return &e.Room },
	"SIAPRAPAT_BROKER":        func(e *enrolment) *string { return &e.Broker },
	"SIAPRAPAT_MQTT_USERNAME": func(e *enrolment) *string { return &e.Username },
	"SIAPRAPAT_MQTT_PASSWORD": func(e *enrolment) *string { return &e.Password },
	"SIAPRAPAT_CONTROLLER":    func(e *enrolment) *string { return &e.Controller },
}

// readEnvFile reads the KEY=VALUE file the controller's "agent add" writes.
func readEnvFile(path string) (enrolment, error) {
	var e enrolment
	data, err := os.ReadFile(path)
	if err != nil {
		return e, fmt.Errorf("read the enrolment file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		k = strings.TrimSpace(k)
		field := envKeys[k]
		if !ok || field == nil {
			return e, fmt.Errorf("%s:%d: unknown key %q: want SIAPRAPAT_SITE, _ROOM, _BROKER, _MQTT_USERNAME, _MQTT_PASSWORD or _CONTROLLER=VALUE, as 'siaprapat-controller agent add --out' writes", path, n, k)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		*field(&e) = v
	}
	if err := e.check(); err != nil {
		return e, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

func (e enrolment) check() error {
	if err := wire.CheckName("site", e.Site); err != nil {
		return err
	}
	if err := wire.CheckName("room", e.Room); err != nil {
		return err
	}
	if _, err := wire.BrokerURL(e.Broker); err != nil {
		return err
	}
	if e.Username == "" || e.Password == "" {
		return errors.New("no MQTT user name or password: enrol the room again on the controller (siaprapat-controller agent add)")
	}
	if e.Controller != "" {
		if _, err := httpURL(e.Controller); err != nil {
			return err
		}
	}
	return nil
}

func httpURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("controller %q: want a URL such as http://siaprapat.example.go.id:9780", raw)
	}
	return u, nil
}

// askController enrols the room through the controller's API, as
// "siaprapat-controller agent add" does.
func askController(controller, token, site, room, brokerURL string) (enrolment, error) {
	ctl, err := httpURL(controller)
	if err != nil {
		return enrolment{}, err
	}
	if err := wire.CheckName("--site", site); err != nil {
		return enrolment{}, err
	}
	if err := wire.CheckName("--room", room); err != nil {
		return enrolment{}, err
	}
	body, _ := json.Marshal(map[string]string{"site": site, "room": room})
	req, err := http.NewRequest(http.MethodPost, ctl.JoinPath("api/v1/agents").String(), bytes.NewReader(body))
	if err != nil {
		return enrolment{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return enrolment{}, fmt.Errorf("could not reach the controller: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return enrolment{}, fmt.Errorf("reading the controller's answer: %w", err)
	}
	var a struct {
		Site     string `json:"site"`
		Room     string `json:"room"`
		Username string `json:"username"`
		Password string `json:"password"`
		Broker   string `json:"broker"`
		Error    string `json:"error"`
	}
	jsonErr := json.Unmarshal(data, &a)
	switch {
	case resp.StatusCode != http.StatusCreated && a.Error != "":
		return enrolment{}, fmt.Errorf("the controller refused: %s", a.Error)
	case resp.StatusCode != http.StatusCreated:
		return enrolment{}, fmt.Errorf("the controller answered %s", resp.Status)
	case jsonErr != nil:
		return enrolment{}, fmt.Errorf("the controller's answer: %w", jsonErr)
	}
	if brokerURL == "" {
		// The controller's broker port, at the controller's host as this PC reaches it.
		brokerURL = wire.BrokerAt(a.Broker, ctl.Hostname())
	}
	e := enrolment{Site: a.Site, Room: a.Room, Broker: brokerURL, Username: a.Username, Password: a.Password, Controller: ctl.String()}
	return e, e.check()
}

// writeEnrolment sets the enrolment's keys in the configuration file,
// keeping its other lines (comments too), and writes it atomically with
// mode 0600. A new file also gets the installed agent's spool directory.
func writeEnrolment(path string, e enrolment) error {
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		old = []byte(fmt.Sprintf("# siaprapat agent configuration: the keys are 'siaprapat-agent run' flags.\n# Written by siaprapat-agent enroll; keep it secret.\ndata: %s\n", yamlScalar(defaultDataDir())))
	} else if err != nil {
		return fmt.Errorf("read the configuration: %w", err)
	}
	settings := [][2]string{
		{"site", e.Site}, {"room", e.Room}, {"broker", e.Broker},
		{"username", e.Username}, {"password", e.Password},
	}
	if e.Controller != "" {
		settings = append(settings, [2]string{"probe-url", e.Controller})
	}
	data, err := setKeys(path, old, settings)
	if err != nil {
		return err
	}
	// The result must be a configuration run accepts, with these values.
	rf := newRunFlags(io.Discard)
	if err := rf.fs.Parse(nil); err != nil {
		return err
	}
	if _, err := config.ApplyBytes(rf.fs, path, data, runOptions()); err != nil {
		return fmt.Errorf("the configuration would not be valid, so it was left as it was:\n%w", err)
	}
	if *rf.site != e.Site || *rf.room != e.Room || *rf.username != e.Username || *rf.brokerURL != e.Broker {
		return fmt.Errorf("%s: the enrolment did not read back as written; it was left as it was", path)
	}
	return writeSecret(path, data)
}

// setKeys replaces each key's top-level line in a flat YAML file, or adds
// it at the end. A key whose value spans several lines is left to a person.
func setKeys(path string, data []byte, settings [][2]string) ([]byte, error) {
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for _, kv := range settings {
		line := kv[0] + ": " + yamlScalar(kv[1]) + "\n"
		re := regexp.MustCompile(`^` + regexp.QuoteMeta(kv[0]) + `\s*:(\s|$)`)
		found := -1
		for i, l := range lines {
			if re.MatchString(l) {
				found = i
				break
			}
		}
		if found < 0 {
			if n := len(lines); n > 0 && !strings.HasSuffix(lines[n-1], "\n") {
				lines[n-1] += "\n"
			}
			lines = append(lines, line)
			continue
		}
		if next := found + 1; next < len(lines) && continues(lines[next]) {
			return nil, fmt.Errorf("%s:%d: %s spans several lines: make it one line (key: value) and enrol again", path, found+1, kv[0])
		}
		lines[found] = line
	}
	return []byte(strings.Join(lines, "")), nil
}

// continues reports whether a line belongs to the value of the key above.
func continues(l string) bool {
	t := strings.TrimSpace(l)
	return t != "" && !strings.HasPrefix(t, "#") && (l[0] == ' ' || l[0] == '\t' || l[0] == '-')
}

func yamlScalar(v string) string {
	out, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%q", v)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// writeSecret replaces the file atomically with a copy only its owner (on
// Windows: SYSTEM and Administrators) may read.
func writeSecret(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return fmt.Errorf("write the configuration: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing left
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if err := restrictToAdministrators(tmp.Name()); err != nil {
		return fmt.Errorf("restrict access to %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write the configuration: %w", err)
	}
	return nil
}
