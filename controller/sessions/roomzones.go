package sessions

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketZones holds the time zones set through the API for rooms the rooms
// file does not give one: site/room -> IANA zone name.
var bucketZones = []byte("zones")

// loadZones reads the zones set through the API. Callers hold an open
// write transaction of Open.
func (s *Store) loadZones(tx *bolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists(bucketZones)
	if err != nil {
		return err
	}
	s.zones = map[string]*time.Location{}
	return b.ForEach(func(k, v []byte) error {
		loc, err := time.LoadLocation(string(v))
		if err != nil {
			return fmt.Errorf("zone of room %s: %w", k, err)
		}
		s.zones[string(k)] = loc
		return nil
	})
}

// SetZone sets the time zone of a room (an IANA name such as
// Asia/Makassar), in which its meetings' times are shown; "" clears it.
func (s *Store) SetZone(site, room, zone string) error {
	var loc *time.Location
	if zone != "" {
		var err error
		if loc, err = time.LoadLocation(zone); err != nil || zone == "Local" {
			return fmt.Errorf("zone %q is not a time zone; want an IANA name such as Asia/Jakarta (WIB), Asia/Makassar (WITA) or Asia/Jayapura (WIT)", zone)
		}
	}
	k := site + "/" + room
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketZones)
		if loc == nil {
			return b.Delete([]byte(k))
		}
		return b.Put([]byte(k), []byte(zone))
	})
	if err != nil {
		return fmt.Errorf("write session store: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if loc == nil {
		delete(s.zones, k)
	} else {
		s.zones[k] = loc
	}
	return nil
}

// Zone is the time zone set for a room through SetZone; nil when none is.
func (s *Store) Zone(site, room string) *time.Location {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.zones[site+"/"+room]
}
