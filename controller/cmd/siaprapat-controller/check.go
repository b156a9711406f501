package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/siaprapat/siaprapat/controller/api"
	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/internal/config"
	"github.com/siaprapat/siaprapat/wire"
)

// Exit codes of check, for cron, systemd timers and Kubernetes CronJobs.
const (
	exitReady    = 0 // ready or degraded
	exitNotReady = 1 // not ready, agent offline, no answer in time, checks could not run
	exitNoCheck  = 2 // could not check: bad flags, unknown room, controller unreachable, still pending
)

type checkFlags struct {
	fs                              *flag.FlagSet
	room, server, only, lang, token *string
	wait                            *time.Duration
	asJSON                          *bool
}

func newCheckFlags(stderr io.Writer) *checkFlags {
	fs := flag.NewFlagSet("siaprapat-controller check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config.SetUsage(fs, tokenOptions(fs.Name()))
	return &checkFlags{
		fs:     fs,
		room:   fs.String("room", "", "the room to check, as SITE/ROOM (required)"),
		server: fs.String("server", "http://localhost:9780", "the controller's HTTP address"),
		wait:   fs.Duration("wait", 90*time.Second, "how long to wait for the verdict"),
		only:   fs.String("only", "", "comma-separated checks to run (default: all the agent runs)"),
		asJSON: fs.Bool("json", false, "print the check as JSON"),
		lang:   fs.String("lang", "en", "language of the causes printed under the verdict: en (English) or id (Bahasa Indonesia)"),
		token:  fs.String("token", "", "the controller's API token, when it has one (default: as root on the controller's machine, the packaged "+packagedConfig+"'s api-token)"),
	}
}

// tokenOptions: the CLI's --token may come from the environment.
func tokenOptions(command string) config.Options {
	return config.Options{Command: command, Env: map[string][]string{"token": envAPIToken}}
}

func (kf *checkFlags) command() config.Command {
	return config.Command{Flags: kf.fs, Options: tokenOptions(kf.fs.Name())}
}

// check asks a running controller to check a room now and waits for the verdict.
func check(args []string, stdout, stderr io.Writer) int {
	kf := newCheckFlags(stderr)
	fs, roomFlag, server, wait, only, asJSON, lang, token := kf.fs, kf.room, kf.server, kf.wait, kf.only, kf.asJSON, kf.lang, kf.token
	if err := fs.Parse(args); err != nil {
		return exitNoCheck
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "siaprapat-controller check: "+format+"\n", args...)
		return exitNoCheck
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0))
	}
	if _, err := config.Resolve(fs, "", tokenOptions(fs.Name())); err != nil {
		return fail("%v", err)
	}
	site, room, ok := strings.Cut(*roomFlag, "/")
	if !ok || !wire.ValidName(site) || !wire.ValidName(room) {
		return fail("--room %q: want SITE/ROOM, e.g. kalbar/pontianak-r1", *roomFlag)
	}
	if *lang != "en" && *lang != "id" {
		return fail("--lang %q: want en or id", *lang)
	}
	if *wait <= 0 || *wait > 10*time.Minute {
		return fail("--wait %v: want 1s to 10m", *wait)
	}
	base, err := url.Parse(*server)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fail("--server %q: want a URL such as http://localhost:9780", *server)
	}
	body := map[string]any{"timeout": wait.String()}
	var checks []string
	for _, c := range strings.Split(*only, ",") {
		if c = strings.TrimSpace(c); c != "" {
			checks = append(checks, c)
		}
	}
	if len(checks) > 0 {
		body["checks"] = checks
	}
	b, _ := json.Marshal(body)
	u := base.JoinPath("api/v1/rooms", site, room, "checks")
	// The agent has --wait to answer; the server waits a little longer, so
	// that an agent's silence comes back as a timeout, not as "pending".
	u.RawQuery = url.Values{"wait": {(*wait + 2*time.Second).String()}}.Encode()
	*token = apiToken(*token)
	req, err := http.NewRequest(http.MethodPost, u.String(), bytes.NewReader(b))
	if err != nil {
		return fail("%v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if *token != "" {
		req.Header.Set("Authorization", "Bearer "+*token)
	}
	client := &http.Client{Timeout: *wait + 15*time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fail("could not reach the controller: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fail("reading the controller's answer: %v", err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fail("%s", e.Error)
		}
		return fail("the controller answered %s", resp.Status)
	}
	var c api.CheckResult
	if err := json.Unmarshal(data, &c); err != nil {
		return fail("the controller's answer is not a check: %v", err)
	}
	if *asJSON {
		stdout.Write(data)
	} else {
		printCheck(stdout, c, *lang == "id")
	}
	switch {
	case c.Status == commands.Pending:
		fmt.Fprintf(stderr, "siaprapat-controller check: no verdict within %v (check %s is still pending)\n", *wait, c.ID)
		return exitNoCheck
	case c.Status == commands.Done && c.Verdict != wire.NotReady:
		return exitReady
	}
	return exitNotReady
}

// printCheck prints the verdict, then one line per cause (the
// controller's readiness causes, the same the alerts and the API give).
func printCheck(w io.Writer, c api.CheckResult, indonesian bool) {
	verdict := strings.ToUpper(string(c.Verdict))
	if c.Status == commands.Pending {
		verdict = "PENDING"
	}
	fmt.Fprintf(w, "%s/%s: %s (check %s, %s)\n", c.Site, c.Room, verdict, c.ID, c.Status)
	for _, cause := range c.Causes {
		text := cause.Text
		if indonesian {
			text = cause.TextID
		}
		fmt.Fprintf(w, "  %-5s %s\n", cause.Verdict, text)
	}
	if len(c.Causes) == 0 && c.Reason != "" {
		fmt.Fprintf(w, "  %s\n", c.Reason)
	}
}
