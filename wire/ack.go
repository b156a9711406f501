package wire

import (
	"encoding/json"
	"fmt"
	"time"
)

// AckSchema is the schema of acknowledgements.
const AckSchema = "siaprapat.ack/v1"

// KindAck is the per-room topic on which the controller acknowledges the
// reports it has stored (controller -> agent, QoS 1). The agent keeps each
// report in its spool until it is acknowledged, so that a broker or a
// controller that dies between taking a report and storing it loses nothing:
// the agent sends it again, and the controller stores each id once.
const KindAck = "ack"

// MaxAckIDs bounds the ids in one acknowledgement.
const MaxAckIDs = 1000

// Ack lists the ids of reports the controller has stored, and when (by the
// controller's clock) it sent them: the agent measures its own clock's
// offset from it (host check, clock_offset_seconds).
type Ack struct {
	Schema string    `json:"schema"`
	IDs    []string  `json:"ids"`
	At     time.Time `json:"at,omitzero"`
}

// Encode returns the acknowledgement's JSON.
func (a *Ack) Encode() ([]byte, error) { return json.Marshal(a) }

// DecodeAck parses and validates an acknowledgement.
func DecodeAck(data []byte) (*Ack, error) {
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("ack is %d bytes, the limit is %d", len(data), MaxBytes)
	}
	var a Ack
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("ack: %v", err)
	}
	if a.Schema != AckSchema {
		return nil, fmt.Errorf("ack schema %q, want %q", a.Schema, AckSchema)
	}
	if len(a.IDs) > MaxAckIDs {
		return nil, fmt.Errorf("ack lists %d ids, at most %d", len(a.IDs), MaxAckIDs)
	}
	return &a, nil
}
