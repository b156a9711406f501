package wire

import (
	"encoding/json"
	"fmt"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Schemas of commands and results.
const (
	CommandSchema = "siaprapat.command/v1"
	ResultSchema  = "siaprapat.result/v1"
)

// Per-room topics for commands.
const (
	KindCmd    = "cmd"    // Command, controller -> agent, QoS 1
	KindResult = "result" // Result, agent -> controller, QoS 1
)

// CommandCheck asks the agent to run its checks now.
const CommandCheck = "check"

// Command is what the controller asks of an agent.
type Command struct {
	Schema   string    `json:"schema"`
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`             // "check"
	Checks   []string  `json:"checks,omitempty"` // which checks; empty means all the agent runs
	Deadline time.Time `json:"deadline"`         // answer before this, or not at all (controller's clock)
	// TimeoutSeconds is the same deadline as a span from receipt, which the
	// agent uses so that a PC whose clock is wrong still answers in time.
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty"`
}

// DeadlineFrom returns when the agent must have answered, counted on its own
// clock from when it received the command.
func (c *Command) DeadlineFrom(received time.Time) time.Time {
	if c.TimeoutSeconds > 0 {
		return received.Add(time.Duration(c.TimeoutSeconds * float64(time.Second)))
	}
	return c.Deadline
}

// Result is an agent's answer to a command: the report of the checks it
// ran, or why it could not run them.
type Result struct {
	Schema    string  `json:"schema"`
	CommandID string  `json:"command_id"`
	Report    *Report `json:"report,omitempty"`
	Error     string  `json:"error,omitempty"`

	// ReportJSON is the report's JSON as DecodeResult read it, so that the
	// controller stores it as it came instead of encoding the decoded
	// report again. It is never sent.
	ReportJSON []byte `json:"-"`
}

// Encode returns the command's JSON.
func (c *Command) Encode() ([]byte, error) { return json.Marshal(c) }

// DecodeCommand parses and validates a command.
func DecodeCommand(data []byte) (*Command, error) {
	if len(data) > MaxBytes {
		return nil, &DecodeError{Reason: ReasonOversized, Msg: fmt.Sprintf("payload is %d bytes, the limit is %d", len(data), MaxBytes)}
	}
	var c Command
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, malformed(err)
	}
	switch {
	case c.Schema != CommandSchema:
		return nil, &DecodeError{Reason: ReasonSchema, Field: "schema", Msg: fmt.Sprintf("%q; want %s", truncate(c.Schema), CommandSchema)}
	case !validName(c.ID):
		return nil, invalid("id", "%q is not a valid id", truncate(c.ID))
	case c.Kind != CommandCheck:
		return nil, invalid("kind", "%q is not a command this agent knows (check)", truncate(c.Kind))
	case c.Deadline.IsZero():
		return nil, invalid("deadline", "missing")
	case c.TimeoutSeconds < 0 || c.TimeoutSeconds > 24*3600:
		return nil, invalid("timeout_seconds", "%v is out of range; want 0 to 86400", c.TimeoutSeconds)
	case len(c.Checks) > MaxChecks:
		return nil, invalid("checks", "%d checks; at most %d", len(c.Checks), MaxChecks)
	}
	for i, name := range c.Checks {
		if err := CheckCheckName(name); err != nil {
			return nil, invalid(fmt.Sprintf("checks[%d]", i), "%v", err)
		}
	}
	return &c, nil
}

// Encode validates the result and returns its JSON.
func (r *Result) Encode() ([]byte, error) {
	if r.Report != nil {
		b, err := r.Report.Encode() // validates, and keeps ">" unescaped
		if err != nil {
			return nil, err
		}
		out, err := json.Marshal(struct {
			Schema    string          `json:"schema"`
			CommandID string          `json:"command_id"`
			Report    json.RawMessage `json:"report"`
			Error     string          `json:"error,omitempty"`
		}{r.Schema, r.CommandID, b, r.Error})
		return out, err
	}
	return json.Marshal(r)
}

// DecodeResult parses and validates a result, its report included.
func DecodeResult(data []byte) (*Result, error) {
	if len(data) > MaxBytes {
		return nil, &DecodeError{Reason: ReasonOversized, Msg: fmt.Sprintf("payload is %d bytes, the limit is %d", len(data), MaxBytes)}
	}
	var raw struct {
		Schema    string            `json:"schema"`
		CommandID string            `json:"command_id"`
		Report    jsonv1.RawMessage `json:"report"`
		Error     string            `json:"error"`
	}
	if err := jsonv1.Unmarshal(data, &raw); err != nil {
		return nil, malformed(err)
	}
	if raw.Schema != ResultSchema {
		return nil, &DecodeError{Reason: ReasonSchema, Field: "schema", Msg: fmt.Sprintf("%q; want %s", truncate(raw.Schema), ResultSchema)}
	}
	if !validName(raw.CommandID) {
		return nil, invalid("command_id", "%q is not a valid id", truncate(raw.CommandID))
	}
	if len(raw.Error) > 1024 {
		return nil, invalid("error", "longer than 1024 bytes")
	}
	r := &Result{Schema: raw.Schema, CommandID: raw.CommandID, Error: raw.Error}
	if len(raw.Report) > 0 && string(raw.Report) != "null" {
		rep, err := Decode(raw.Report)
		if err != nil {
			if de, ok := err.(*DecodeError); ok && de.Field != "" {
				de.Field = "report." + de.Field
			}
			return nil, err
		}
		r.Report, r.ReportJSON = rep, raw.Report
	}
	if r.Report == nil && r.Error == "" {
		return nil, invalid("report", "missing, and no error says why")
	}
	return r, nil
}

// CheckCheckName reports an error when name cannot be a check's name.
func CheckCheckName(name string) error {
	if !validMeasurementName(name) {
		return fmt.Errorf("%q is not a check name (lower case letters, digits and '_', e.g. host)", truncate(name))
	}
	return nil
}
