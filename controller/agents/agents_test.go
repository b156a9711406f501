package agents

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
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

// TestStore_KeepsAHashThatIsNoCredential: what agents.db holds for a room
// is the SHA-256 of its secret; neither the secret nor its bytes are in the
// file, and the stored hash, presented as a secret or a probe token, does
// not log in (a copy of the file is no key).
func TestStore_KeepsAHashThatIsNoCredential(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := s.Add("kalbar", "aula", t0)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(filepath.Join(dir, "agents.db"), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var stored record
	err = db.View(func(tx *bolt.Tx) error {
		return json.Unmarshal(tx.Bucket(bucketAgents).Get([]byte("kalbar/aula")), &stored)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(secret))
	if stored.Hash != hex.EncodeToString(sum[:]) || stored.Hash == secret {
		t.Errorf("stored %q, want the SHA-256 of the secret", stored.Hash)
	}
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) != secretBytes {
		t.Fatalf("secret %q: %d random bytes (%v), want %d", secret, len(raw), err, secretBytes)
	}
	data, err := os.ReadFile(filepath.Join(dir, "agents.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(secret)) || bytes.Contains(data, raw) {
		t.Error("agents.db holds the secret")
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Authenticate("kalbar/aula", stored.Hash) {
		t.Error("the stored hash logs in as the secret")
	}
	if _, ok := s.ByToken(stored.Hash); ok {
		t.Error("the stored hash is taken as a probe token")
	}
}

// TestStore_OnlyTheExactSecretOfTheRoomLogsIn: near misses of every kind
// fail, and one room's secret does not open another room. (The comparison
// is of two SHA-256 digests of the same length with crypto/subtle, so how
// near a miss is does not show in the time it takes; an unknown user name
// costs a hash and a comparison too.)
func TestStore_OnlyTheExactSecretOfTheRoomLogsIn(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, aula, err := s.Add("kalbar", "aula", t0)
	if err != nil {
		t.Fatal(err)
	}
	_, lobi, err := s.Add("kalbar", "lobi", t0)
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(aula)
	flipped[len(flipped)-1] ^= 1
	for _, c := range []struct {
		name, user, secret string
	}{
		{"empty", "kalbar/aula", ""},
		{"a prefix", "kalbar/aula", aula[:len(aula)-1]},
		{"one more character", "kalbar/aula", aula + "A"},
		{"the last character changed", "kalbar/aula", string(flipped)},
		{"upper case", "kalbar/aula", strings.ToUpper(aula)},
		{"another room's secret", "kalbar/aula", lobi},
		{"an unknown user", "kalbar/gudang", aula},
		{"the user name in another case", "KALBAR/AULA", aula},
	} {
		if s.Authenticate(c.user, c.secret) {
			t.Errorf("%s: Authenticate(%q, ...) = true", c.name, c.user)
		}
	}
	if !s.Authenticate("kalbar/aula", aula) || !s.Authenticate("kalbar/lobi", lobi) {
		t.Error("an enrolled secret does not log in")
	}
	if got, ok := s.ByToken(lobi); !ok || got.Room != "lobi" {
		t.Errorf("ByToken(lobi's secret) = %+v, %v", got, ok)
	}
}

// TestStore_RevokedStaysRevokedAfterReopening: a removed agent is gone from
// the file, not only from memory.
func TestStore_RevokedStaysRevokedAfterReopening(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := s.Add("kalbar", "aula", t0)
	_, kept, _ := s.Add("kalbar", "lobi", t0)
	if err := s.Remove("kalbar", "aula"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Authenticate("kalbar/aula", secret) || s.Enrolled("kalbar/aula") {
		t.Error("after reopening, the revoked agent logs in")
	}
	if _, ok := s.ByToken(secret); ok {
		t.Error("after reopening, the revoked secret is a probe token")
	}
	if list := s.List(); len(list) != 1 || list[0].Username != "kalbar/lobi" || !s.Authenticate("kalbar/lobi", kept) {
		t.Errorf("after reopening: %+v; want kalbar/lobi alone, still logging in", list)
	}
}
