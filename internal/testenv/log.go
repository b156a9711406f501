package testenv

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
)

// Log keeps what a program or a daemon under test writes to its log, for
// the test to read while it still writes.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Records decodes each line of a JSON log (slog's JSONHandler) into a T,
// a struct of the fields the test reads or map[string]any; a line that is
// not JSON fails the test.
func Records[T any](t testing.TB, l *Log) []T {
	t.Helper()
	var out []T
	for _, line := range bytes.Split([]byte(l.String()), []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r T
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}
