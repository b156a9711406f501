// Package agents keeps the credentials of the enrolled agents: one per room,
// named "SITE/ROOM", with a random secret of which only a hash is stored.
// The embedded broker checks MQTT logins against it, and the network probe
// takes the same secret as its bearer token.
package agents

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siaprapat/siaprapat/internal/boltfile"
	"github.com/siaprapat/siaprapat/wire"
)

// The secret is 256 random bits, so a plain SHA-256 of it cannot be
// reversed or guessed; a slow password hash (bcrypt, PBKDF2) only matters
// for secrets people choose.
const secretBytes = 32

var bucketAgents = []byte("agents")

// ErrUnknown is returned for a room that has no enrolled agent.
var ErrUnknown = errors.New("no agent is enrolled for this room")

// Agent is one enrolled agent, without its secret.
type Agent struct {
	Site     string    `json:"site"`
	Room     string    `json:"room"`
	Username string    `json:"username"` // SITE/ROOM: MQTT user name, and %u in Mosquitto ACL patterns
	Enrolled time.Time `json:"enrolled"`
}

type record struct {
	Agent
	Hash string `json:"sha256"` // hex SHA-256 of the secret
}

// Store is the set of enrolled agents, persisted in agents.db. It is safe
// for concurrent use.
type Store struct {
	db *bolt.DB

	mu     sync.RWMutex
	byUser map[string]record
	byHash map[string]string // hash -> username
}

// Open opens (or creates) dir/agents.db and loads every enrolled agent.
func Open(dir string) (*Store, error) {
	db, err := boltfile.Open(dir, "agents.db", "agent credentials", "controller")
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, byUser: map[string]record{}, byHash: map[string]string{}}
	err = boltfile.Load(db, "agent credentials", func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketAgents)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("agent %q: undecodable record: %v", k, err)
			}
			s.byUser[r.Username] = r
			s.byHash[r.Hash] = r.Username
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, err // a *boltfile.DamagedError naming the file
	}
	return s, nil
}

// Username is the MQTT user name of a room's agent.
func Username(site, room string) string { return site + "/" + room }

func hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Add enrols the agent of a room and returns its new secret, shown this
// once. Enrolling a room again replaces its secret (the old one stops
// working).
func (s *Store) Add(site, room string, now time.Time) (Agent, string, error) {
	if err := wire.CheckName("site", site); err != nil {
		return Agent{}, "", err
	}
	if err := wire.CheckName("room", room); err != nil {
		return Agent{}, "", err
	}
	var b [secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Agent{}, "", fmt.Errorf("make a secret: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	r := record{Agent: Agent{Site: site, Room: room, Username: Username(site, room), Enrolled: now.UTC()}, Hash: hash(secret)}
	v, err := json.Marshal(r)
	if err != nil {
		return Agent{}, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAgents).Put([]byte(r.Username), v)
	}); err != nil {
		return Agent{}, "", fmt.Errorf("store the credentials of %s: %w", r.Username, err)
	}
	if old, ok := s.byUser[r.Username]; ok {
		delete(s.byHash, old.Hash)
	}
	s.byUser[r.Username] = r
	s.byHash[r.Hash] = r.Username
	return r.Agent, secret, nil
}

// Remove revokes the credentials of a room's agent.
func (s *Store) Remove(site, room string) error {
	user := Username(site, room)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.byUser[user]
	if !ok {
		return fmt.Errorf("%s: %w", user, ErrUnknown)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAgents).Delete([]byte(user))
	}); err != nil {
		return fmt.Errorf("remove the credentials of %s: %w", user, err)
	}
	delete(s.byUser, user)
	delete(s.byHash, old.Hash)
	return nil
}

// Authenticate reports whether the secret is the agent's.
func (s *Store) Authenticate(username, secret string) bool {
	s.mu.RLock()
	r, ok := s.byUser[username]
	s.mu.RUnlock()
	if !ok {
		// Spend the same time as a wrong secret for a known user.
		subtle.ConstantTimeCompare([]byte(hash(secret)), []byte(hash("")))
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hash(secret)), []byte(r.Hash)) == 1
}

// Enrolled reports whether the user name is an enrolled agent's.
func (s *Store) Enrolled(username string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.byUser[username]
	return ok
}

// ByToken finds the agent whose secret the token is (the probe's bearer
// token). The lookup is by hash, so it says nothing about near misses.
func (s *Store) ByToken(token string) (Agent, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	user, ok := s.byHash[hash(token)]
	if !ok {
		return Agent{}, false
	}
	return s.byUser[user].Agent, true
}

// List returns the enrolled agents by user name.
func (s *Store) List() []Agent {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Agent, 0, len(s.byUser))
	for _, r := range s.byUser {
		out = append(out, r.Agent)
	}
	slices.SortFunc(out, func(a, b Agent) int { return strings.Compare(a.Username, b.Username) })
	return out
}

// Len is the number of enrolled agents.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byUser)
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }
