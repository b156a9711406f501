package broker

import "testing"

func TestACL_AgentReadsOnlyItsOwnRoomsTopics(t *testing.T) {
	for _, tc := range []struct {
		topic string
		write bool
		want  bool
	}{
		{"siaprapat/v1/kalbar/r1/report", true, true},
		{"siaprapat/v1/kalbar/r1/status", true, true},
		{"siaprapat/v1/kalbar/r1/result", true, true},
		{"siaprapat/v1/kalbar/r1/cmd", false, true},
		{"siaprapat/v1/kalbar/r1/ack", false, true},
		{"siaprapat/v1/kalbar/r1/schedule", false, true},
		{"siaprapat/v1/kalbar/r1/schedule", true, false}, // only the controller says when a room meets
		{"siaprapat/v1/kalbar/r2/schedule", false, false},
		{"siaprapat/v1/jatim/r1/schedule", false, false},
		{"siaprapat/v1/+/+/schedule", false, false},
		{"siaprapat/v1/kalbar/+/schedule", false, false},
		{"siaprapat/v1/kalbar/r1/#", false, false},
	} {
		if got := allowed("kalbar/r1", tc.topic, tc.write); got != tc.want {
			t.Errorf("kalbar/r1 %s (write %v): allowed %v, want %v", tc.topic, tc.write, got, tc.want)
		}
	}
}
