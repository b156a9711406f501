// Package shard says which sites a controller owns when several
// controllers share one MQTT broker, each carrying part of a province.
//
// A shard is a list of site patterns: exact site names ("kalbar-pontianak")
// or names with '*' standing for any run of characters ("kalbar-*"). MQTT
// topic filters cannot match part of a level, so a shard of exact names
// subscribes to those sites' topics alone, and a shard with a pattern
// subscribes to every site and drops the others' messages on arrival.
package shard

import (
	"fmt"
	"path"
	"strings"

	"github.com/siaprapat/siaprapat/wire"
)

// Set is a shard: the sites a controller owns. A nil *Set owns every site.
type Set struct {
	patterns []string
	exact    bool // no pattern has a '*'
}

// Parse reads a comma-separated list of site patterns. An empty list is
// nil: every site.
func Parse(list string) (*Set, error) {
	s := &Set{exact: true}
	seen := map[string]bool{}
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if p == "*" {
			return nil, fmt.Errorf("shard %q: '*' alone is every site; leave --shard out instead", list)
		}
		// A pattern is a site name in which '*' may stand for any run of
		// characters: with each '*' made a letter it must be a valid name.
		if strings.Contains(p, "/") {
			return nil, fmt.Errorf("shard %q: %q looks like an MQTT topic filter; give site names or patterns instead (siaprapat/v1/kalbar-# is kalbar-*)", list, p)
		}
		if !wire.ValidName(strings.ReplaceAll(p, "*", "x")) || strings.ContainsAny(p, "?[]\\") {
			return nil, fmt.Errorf("shard %q: %q is not a site name or pattern: use letters, digits, '.', '_', '-' and '*' for any run of them (e.g. kalbar-*)", list, p)
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		if strings.Contains(p, "*") {
			s.exact = false
		}
		s.patterns = append(s.patterns, p)
	}
	if len(s.patterns) == 0 {
		return nil, nil
	}
	return s, nil
}

// Owns reports whether site belongs to the shard.
func (s *Set) Owns(site string) bool {
	if s == nil {
		return true
	}
	for _, p := range s.patterns {
		if p == site {
			return true
		}
		if !s.exact {
			// Patterns were checked in Parse: Match cannot fail.
			if ok, _ := path.Match(p, site); ok {
				return true
			}
		}
	}
	return false
}

// Filters returns the MQTT subscription filters for the kinds of message,
// for the shard's sites only when every pattern is an exact name.
func (s *Set) Filters(kinds ...string) []string {
	var out []string
	for _, k := range kinds {
		if s == nil || !s.exact {
			out = append(out, wire.Filter(k))
			continue
		}
		for _, site := range s.patterns {
			out = append(out, wire.Root+"/"+site+"/+/"+k)
		}
	}
	return out
}

// Exact reports whether the shard's subscriptions carry only its own sites
// (every pattern is a site name), so nothing arrives for other shards.
func (s *Set) Exact() bool { return s == nil || s.exact }

// String is the shard as given to Parse, normalised; "" for every site.
func (s *Set) String() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.patterns, ",")
}
