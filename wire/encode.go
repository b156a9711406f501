package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// Encode validates the report and returns its JSON. A NaN or infinite
// measurement, or a report over MaxBytes, is an error naming what is wrong.
func (r *Report) Encode() ([]byte, error) {
	for i, c := range r.Checks {
		for name, v := range c.Measurements {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("encode report: checks[%d] (%s) measurement %s is %v", i, c.Check, name, v)
			}
		}
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "want": ">= 7.5 GB", not "\u003e= 7.5 GB"
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > MaxBytes {
		return nil, fmt.Errorf("encode report: %d bytes is over the %d byte limit", len(b), MaxBytes)
	}
	return b, nil
}
