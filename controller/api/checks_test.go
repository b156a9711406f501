package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/broker"
	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/wire"
)

// checkServer is the API with a dispatcher that publishes through the
// controller's session in an embedded broker. Room sulsel/aula has an agent,
// an MQTT client of that broker, which answers every command with a not
// ready report (no camera) and keeps the commands it got; sulsel/sepi's agent
// is online but never answers; sulsel/mati's is offline.
func checkServer(t *testing.T) (*Server, *broker.Inline, func() []*wire.Command) {
	t.Helper()
	s, f := server(t)
	b, err := broker.Start(broker.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	session := b.Inline(nil)
	t.Cleanup(session.Close)
	if s.Commands, err = commands.New(session, f, prometheus.NewPedanticRegistry(), s.Now); err != nil {
		t.Fatal(err)
	}
	f.ApplyStatus("sulsel", "aula", wire.StatusOnline, t0)
	f.ApplyStatus("sulsel", "sepi", wire.StatusOnline, t0)
	f.ApplyStatus("sulsel", "mati", wire.StatusOffline, t0)

	var mu sync.Mutex
	var got []*wire.Command
	agent := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("sulsel/aula"))
	if tok := agent.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("agent connect: %v", tok.Error())
	}
	t.Cleanup(func() { agent.Disconnect(0) })
	tok := agent.Subscribe(wire.Topic("sulsel", "aula", wire.KindCmd), 1, func(_ paho.Client, m paho.Message) {
		cmd, err := wire.DecodeCommand(m.Payload())
		if err != nil {
			t.Errorf("the agent got an undecodable command: %v", err)
			return
		}
		mu.Lock()
		got = append(got, cmd)
		mu.Unlock()
		s.Commands.Resolve("sulsel", "aula", &wire.Result{Schema: wire.CommandSchema, CommandID: cmd.ID, Report: &wire.Report{
			Schema: wire.Schema, ID: "rep-" + cmd.ID, Site: "sulsel", Room: "aula", MeasuredAt: t0, Verdict: wire.NotReady,
			Checks: []wire.CheckResult{{Check: "camera", Target: "camera", Verdict: wire.Fail, Reason: "no camera found", Code: wire.CodeNoDevice}}}})
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("agent subscribe: %v", tok.Error())
	}
	return s, session, func() []*wire.Command {
		mu.Lock()
		defer mu.Unlock()
		return append([]*wire.Command(nil), got...)
	}
}

// A check answers 200 with the verdict and its causes once it has ended
// (the agent answered within ?wait=, or the agent is offline), 202 while it
// is pending; GET /api/v1/checks/{id} tells the same.
func TestAPI_CheckAnswersItsVerdictOnceEndedAndIsAcceptedWhilePending(t *testing.T) {
	for _, c := range []struct {
		name, path, body string
		code             int
		status, verdict  string
		deadline         time.Duration
		cause            string // the first cause's text; "" for none
	}{
		{"agent answers within wait", "/api/v1/rooms/sulsel/aula/checks?wait=1m", `{"checks":["camera"],"timeout":"30s"}`,
			http.StatusOK, "done", "not_ready", 30 * time.Second, "Camera: no camera found"},
		{"no wait", "/api/v1/rooms/sulsel/sepi/checks", "", http.StatusAccepted, "pending", "", commands.DefaultTimeout, ""},
		{"wait=0s is no wait", "/api/v1/rooms/sulsel/sepi/checks?wait=0s", `{}`, http.StatusAccepted, "pending", "", commands.DefaultTimeout, ""},
		{"wait passes unanswered", "/api/v1/rooms/sulsel/sepi/checks?wait=20ms", `{"timeout":"5m"}`,
			http.StatusAccepted, "pending", "", 5 * time.Minute, ""},
		{"offline agent", "/api/v1/rooms/sulsel/mati/checks", "", http.StatusOK, "offline", "not_ready", commands.DefaultTimeout,
			"the room's agent is offline: the check was not sent"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _, _ := checkServer(t)
			h := s.Handler()
			verify := func(how string, code int, out map[string]any) {
				t.Helper()
				verdict, _ := out["verdict"].(string)
				causes, isList := out["causes"].([]any)
				if code != c.code || out["status"] != c.status || verdict != c.verdict || !isList ||
					out["issued_at"] != t0.Format(time.RFC3339) || out["deadline"] != t0.Add(c.deadline).Format(time.RFC3339) {
					t.Fatalf("%s: %d %v", how, code, out)
				}
				if c.cause == "" && len(causes) != 0 || c.cause != "" && (len(causes) == 0 || causes[0].(map[string]any)["text"] != c.cause) {
					t.Errorf("%s: causes %v, want first %q", how, causes, c.cause)
				}
			}
			code, out := call(t, h, "POST", c.path, c.body)
			verify("POST", code, out)
			id, _ := out["id"].(string)
			code, out = call(t, h, "GET", "/api/v1/checks/"+id, "")
			verify("GET", code, out)
		})
	}
}

// The agent gets the checks and the timeout the request asked for.
func TestAPI_CheckSendsTheAgentTheChecksAndTimeoutAsked(t *testing.T) {
	s, _, sent := checkServer(t)
	code, out := call(t, s.Handler(), "POST", "/api/v1/rooms/sulsel/aula/checks?wait=1m", `{"checks":["camera","host"],"timeout":"90s"}`)
	if code != http.StatusOK {
		t.Fatalf("%d %v", code, out)
	}
	cmds := sent()
	if len(cmds) != 1 {
		t.Fatalf("the agent got %d commands", len(cmds))
	}
	if c := cmds[0]; c.ID != out["id"] || c.Kind != wire.CommandCheck || strings.Join(c.Checks, ",") != "camera,host" ||
		c.TimeoutSeconds != 90 || !c.Deadline.Equal(t0.Add(90*time.Second)) {
		t.Errorf("command %+v", c)
	}
}

// Each bad request is refused with what was wrong, and nothing is sent.
func TestAPI_CheckRequestsRefused(t *testing.T) {
	s, _, sent := checkServer(t)
	h := s.Handler()
	for _, c := range []struct {
		name, method, path, body string
		code                     int
		says                     string
	}{
		{"wait not a duration", "POST", "/api/v1/rooms/sulsel/aula/checks?wait=soon", "", 400, `wait="soon": want a duration from 0s to 11m0s`},
		{"negative wait", "POST", "/api/v1/rooms/sulsel/aula/checks?wait=-1s", "", 400, `wait="-1s"`},
		{"wait over the limit", "POST", "/api/v1/rooms/sulsel/aula/checks?wait=12m", "", 400, `wait="12m"`},
		{"timeout not a duration", "POST", "/api/v1/rooms/sulsel/aula/checks", `{"timeout":"soon"}`, 400, `timeout "soon": want a duration from 1s to 10m0s`},
		{"zero timeout", "POST", "/api/v1/rooms/sulsel/aula/checks", `{"timeout":"0s"}`, 400, `timeout "0s"`},
		{"timeout under a second", "POST", "/api/v1/rooms/sulsel/aula/checks", `{"timeout":"1ns"}`, 400, `timeout "1ns": want a duration from 1s`},
		{"something after the object", "POST", "/api/v1/rooms/sulsel/aula/checks", `{} garbage`, 400, "request body: more after the JSON object"},
		{"timeout over the limit", "POST", "/api/v1/rooms/sulsel/aula/checks", `{"timeout":"11m"}`, 400, `timeout "11m"`},
		{"not JSON", "POST", "/api/v1/rooms/sulsel/aula/checks", `{"checks":`, 400, "request body: "},
		{"unknown field", "POST", "/api/v1/rooms/sulsel/aula/checks", `{"check":["host"]}`, 400, `json: unknown field "check"`},
		{"checks not a list", "POST", "/api/v1/rooms/sulsel/aula/checks", `{"checks":"host"}`, 400, "request body: "},
		{"bad check name", "POST", "/api/v1/rooms/sulsel/aula/checks", `{"checks":["Host"]}`, 400, `"Host" is not a check name`},
		{"no such check", "POST", "/api/v1/rooms/sulsel/aula/checks", `{"checks":["radar"]}`, 400, `"radar" is not a check; want some of`},
		{"bad room name", "POST", "/api/v1/rooms/sulsel/au%20la/checks", "", 400, `room "au la" is not a valid name`},
		{"unknown room", "POST", "/api/v1/rooms/sulsel/gudang/checks", "", 404, "unknown room sulsel/gudang: no agent has reported for it"},
		{"unknown check id", "GET", "/api/v1/checks/nope", "", 404, `no check "nope"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out := call(t, h, c.method, c.path, c.body)
			msg, _ := out["error"].(string)
			if code != c.code || !strings.Contains(msg, c.says) {
				t.Errorf("%s %s %s: %d %q, want %d saying %q", c.method, c.path, c.body, code, msg, c.code, c.says)
			}
		})
	}
	if n := len(sent()); n != 0 {
		t.Errorf("the agent got %d commands from refused requests", n)
	}
}

// A room with MaxPendingPerRoom checks waiting for its agent takes no more
// (429); other rooms still do.
func TestAPI_BusyRoomIsTooManyRequests(t *testing.T) {
	s, _, _ := checkServer(t)
	h := s.Handler()
	for i := range commands.MaxPendingPerRoom {
		if code, out := call(t, h, "POST", "/api/v1/rooms/sulsel/sepi/checks", ""); code != http.StatusAccepted {
			t.Fatalf("check %d: %d %v", i+1, code, out)
		}
	}
	code, out := call(t, h, "POST", "/api/v1/rooms/sulsel/sepi/checks", "")
	if msg, _ := out["error"].(string); code != http.StatusTooManyRequests || msg != "too many checks pending: sulsel/sepi already has 4 checks waiting for its agent" {
		t.Errorf("past the limit: %d %v", code, out)
	}
	if code, out := call(t, h, "POST", "/api/v1/rooms/sulsel/aula/checks?wait=1m", ""); code != http.StatusOK || out["status"] != "done" {
		t.Errorf("another room: %d %v", code, out)
	}
}

// When the controller's MQTT session is gone, a check cannot be sent: 503.
func TestAPI_CheckWithoutTheBrokerIsUnavailable(t *testing.T) {
	s, session, sent := checkServer(t)
	session.Close()
	code, out := call(t, s.Handler(), "POST", "/api/v1/rooms/sulsel/aula/checks", "")
	if msg, _ := out["error"].(string); code != http.StatusServiceUnavailable || !strings.HasPrefix(msg, "could not send the command to the agent: ") {
		t.Errorf("%d %v", code, out)
	}
	if n := len(sent()); n != 0 {
		t.Errorf("the agent got %d commands", n)
	}
}

// An empty body sent chunked (no Content-Length, as some HTTP clients send
// a POST without one) asks for the default checks, as no body does.
func TestAPI_CheckWithAnEmptyChunkedBody(t *testing.T) {
	s, _, _ := checkServer(t)
	req := httptest.NewRequest("POST", "/api/v1/rooms/sulsel/sepi/checks", strings.NewReader(""))
	req.ContentLength = -1
	req.RemoteAddr = "127.0.0.1:5000"
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusAccepted {
		t.Errorf("%d %s; want 202, the check sent", w.Code, w.Body)
	}
}
