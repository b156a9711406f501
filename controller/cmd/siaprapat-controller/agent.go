package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/siaprapat/siaprapat/controller/agents"
	"github.com/siaprapat/siaprapat/controller/api"
	"github.com/siaprapat/siaprapat/internal/config"
	"github.com/siaprapat/siaprapat/wire"
)

const agentUsage = `usage: siaprapat-controller agent <add|remove|list> [flags] [SITE/ROOM]

  add SITE/ROOM      enrol the room's agent: make its credentials and print its configuration
  remove SITE/ROOM   revoke them: the agent is disconnected and the room leaves the metrics
  list               the enrolled agents

flags:
  --server URL       the controller's HTTP address (default http://localhost:9780)
  --token TOKEN      the controller's admin API token (or set SIAPRAPAT_API_TOKEN; as root on
                     the controller's machine, the packaged /etc/siaprapat/controller.yaml's);
                     without one, the controller takes enrolments from its own machine only
  --broker URL       (add) the broker URL the agent should use, as the room PC reaches it
                     (default: the scheme and port the controller gives for its
                     broker, at the --controller host; mqtt://HOST:1883 when
                     it gives none)
  --controller URL   (add) the controller's HTTP address as the room PC reaches it, for the
                     network test (default: --server)
  --out FILE         (add) also write the agent's environment file there, mode 0600
`

type agentFlags struct {
	fs                                        *flag.FlagSet
	server, token, brokerURL, out, controller *string
}

// newAgentFlags builds the flags of agent add, remove or list (verb); add
// alone uses --broker, --out and --controller.
func newAgentFlags(verb string, stderr io.Writer) *agentFlags {
	fs := flag.NewFlagSet("siaprapat-controller agent "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, agentUsage) }
	return &agentFlags{
		fs:         fs,
		server:     fs.String("server", "http://localhost:9780", "the controller's HTTP address"),
		token:      fs.String("token", "", "the controller's admin API token (default: as root on the controller's machine, the packaged "+packagedConfig+"'s api-token); without one, the controller takes enrolments from its own machine only"),
		brokerURL:  fs.String("broker", "", "(add) broker URL for the agent; default: the scheme and port the controller gives for its broker, at the --controller host (mqtt://HOST:1883 when it gives none)"),
		out:        fs.String("out", "", "(add) write the agent's environment file here (mode 0600)"),
		controller: fs.String("controller", "", "(add) the controller's HTTP address as the room PC reaches it; default --server"),
	}
}

func (af *agentFlags) command() config.Command {
	return config.Command{Flags: af.fs, Options: tokenOptions(af.fs.Name())}
}

// agentCmd enrols, revokes and lists agents through a running controller.
func agentCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, agentUsage)
		return 2
	}
	verb := args[0]
	af := newAgentFlags(verb, stderr)
	fs, server, token, brokerURL, out, controllerURL := af.fs, af.server, af.token, af.brokerURL, af.out, af.controller
	// The room may come before or after the flags.
	var rest []string
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		rest, args = args[1:2], append([]string{args[0]}, args[2:]...)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	rest = append(rest, fs.Args()...)
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "siaprapat-controller agent %s: "+format+"\n", append([]any{verb}, a...)...)
		return 1
	}
	if _, err := config.Resolve(fs, "", tokenOptions(fs.Name())); err != nil {
		return fail("%v", err)
	}
	base, err := url.Parse(*server)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fail("--server %q: want a URL such as http://localhost:9780", *server)
	}
	*token = apiToken(*token)
	c := apiClient{base: base, token: *token}
	var site, room string
	if verb == "add" || verb == "remove" {
		if len(rest) != 1 {
			return fail("want one SITE/ROOM, e.g. kalbar/pontianak-r1")
		}
		var ok bool
		site, room, ok = strings.Cut(rest[0], "/")
		if !ok || !wire.ValidName(site) || !wire.ValidName(room) {
			return fail("%q: want SITE/ROOM, e.g. kalbar/pontianak-r1 (letters, digits, '.', '_' or '-')", rest[0])
		}
	} else if len(rest) > 0 {
		return fail("unexpected argument %q", rest[0])
	}
	switch verb {
	case "add":
		var e api.Enrolment
		if err := c.do(http.MethodPost, "api/v1/agents", map[string]string{"site": site, "room": room}, http.StatusCreated, &e); err != nil {
			return fail("%v", err)
		}
		ctl := base
		if *controllerURL != "" {
			if ctl, err = url.Parse(*controllerURL); err != nil || (ctl.Scheme != "http" && ctl.Scheme != "https") || ctl.Host == "" {
				return fail("--controller %q: want a URL such as http://siaprapat.example.go.id:9780", *controllerURL)
			}
		}
		b := *brokerURL
		if b == "" {
			b = wire.BrokerAt(e.Broker, ctl.Hostname())
		}
		if bu, err := url.Parse(b); err == nil && isLocal(bu.Hostname()) || isLocal(ctl.Hostname()) {
			fmt.Fprintf(stderr, "warning: the agent's file points at %s and %s, which on the room PC is the room PC itself; give --controller and --broker as the room PC reaches this server\n", b, ctl)
		}
		env := agentEnv(e, b, ctl.String())
		if *out != "" {
			if err := os.WriteFile(*out, []byte(env), 0o600); err != nil {
				return fail("write %s: %v (the credentials are printed below; enrol again to replace them)", *out, err)
			}
			fmt.Fprintf(stderr, "wrote %s (mode 0600): copy it to the room PC\n", *out)
		}
		fmt.Fprint(stdout, env)
		fmt.Fprintf(stdout, "\n# on the room PC, with these variables set:\n#   siaprapat-agent run --broker \"$SIAPRAPAT_BROKER\" --site %s --room %s --username \"$SIAPRAPAT_MQTT_USERNAME\"\n", e.Site, e.Room)
		return 0
	case "remove":
		if err := c.do(http.MethodDelete, "api/v1/agents/"+site+"/"+room, nil, http.StatusNoContent, nil); err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(stdout, "revoked %s/%s: its agent is disconnected and the room has left the fleet\n", site, room)
		return 0
	case "list":
		var l struct {
			Agents []agents.Agent `json:"agents"`
		}
		if err := c.do(http.MethodGet, "api/v1/agents", nil, http.StatusOK, &l); err != nil {
			return fail("%v", err)
		}
		for _, a := range l.Agents {
			fmt.Fprintf(stdout, "%-40s enrolled %s\n", a.Username, a.Enrolled.Format(time.RFC3339))
		}
		if len(l.Agents) == 0 {
			fmt.Fprintln(stdout, "no agent is enrolled")
		}
		return 0
	}
	fmt.Fprintf(stderr, "siaprapat-controller agent: unknown command %q\n\n%s", verb, agentUsage)
	return 2
}

func isLocal(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// agentEnv is the agent's environment file: what a technician copies to the
// room PC.
func agentEnv(e api.Enrolment, brokerURL, controllerURL string) string {
	return fmt.Sprintf(`# siaprapat agent credentials for %s, enrolled %s. Keep this file secret (mode 0600).
SIAPRAPAT_SITE=%s
SIAPRAPAT_ROOM=%s
SIAPRAPAT_BROKER=%s
SIAPRAPAT_MQTT_USERNAME=%s
SIAPRAPAT_MQTT_PASSWORD=%s
SIAPRAPAT_CONTROLLER=%s
`, e.Username, e.Enrolled.Format(time.RFC3339), e.Site, e.Room, brokerURL, e.Username, e.Password, controllerURL)
}

type apiClient struct {
	base  *url.URL
	token string
}

// do sends a JSON request and decodes the answer; an unexpected status is an
// error carrying the controller's message.
func (c apiClient) do(method, path string, body any, want int, into any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base.JoinPath(path).String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("could not reach the controller: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("reading the controller's answer: %v", err)
	}
	if resp.StatusCode != want {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s", e.Error)
		}
		return fmt.Errorf("the controller answered %s", resp.Status)
	}
	if into != nil {
		if err := json.Unmarshal(data, into); err != nil {
			return fmt.Errorf("the controller's answer: %v", err)
		}
	}
	return nil
}
