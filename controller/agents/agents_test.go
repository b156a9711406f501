package agents

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)

func TestStore_EnrolledSecretsLogInAndOnlyTheirHashIsKept(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, secret, err := s.Add("kalbar", "aula", t0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Username != "kalbar/aula" || len(secret) < 40 {
		t.Fatalf("enrolled %+v with a secret of %d characters", a, len(secret))
	}
	for _, c := range []struct {
		user, secret string
		want         bool
	}{
		{"kalbar/aula", secret, true},
		{"kalbar/aula", secret + "x", false},
		{"kalbar/aula", "", false},
		{"kalbar/other", secret, false},
	} {
		if got := s.Authenticate(c.user, c.secret); got != c.want {
			t.Errorf("Authenticate(%q, ...) = %v, want %v", c.user, got, c.want)
		}
	}
	if got, ok := s.ByToken(secret); !ok || got.Username != "kalbar/aula" {
		t.Errorf("ByToken = %+v, %v", got, ok)
	}
	s.Close()
	data, err := os.ReadFile(filepath.Join(dir, "agents.db"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), secret) {
		t.Error("the secret itself is stored")
	}
	// Reopened, the hash still logs the agent in.
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Authenticate("kalbar/aula", secret) || s.Len() != 1 {
		t.Error("after reopening, the enrolled agent cannot log in")
	}
}

func TestStore_EnrollingAgainReplacesTheSecretAndRemovingRevokesIt(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, old, _ := s.Add("kalbar", "aula", t0)
	_, fresh, _ := s.Add("kalbar", "aula", t0.Add(time.Hour))
	if old == fresh || s.Authenticate("kalbar/aula", old) || !s.Authenticate("kalbar/aula", fresh) {
		t.Error("enrolling again did not replace the secret")
	}
	if _, ok := s.ByToken(old); ok {
		t.Error("the old secret is still a probe token")
	}
	if err := s.Remove("kalbar", "aula"); err != nil {
		t.Fatal(err)
	}
	if s.Authenticate("kalbar/aula", fresh) || s.Enrolled("kalbar/aula") {
		t.Error("a removed agent still logs in")
	}
	if err := s.Remove("kalbar", "aula"); !errors.Is(err, ErrUnknown) {
		t.Errorf("removing again: %v, want ErrUnknown", err)
	}
}
