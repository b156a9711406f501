package api

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/controller/history"
	"github.com/siaprapat/siaprapat/controller/shard"
	"github.com/siaprapat/siaprapat/wire"
)

// historyServer is the API with a report history in a temp dir holding
// three reports of sulsel/aula, measured a minute apart before t0.
func historyServer(t *testing.T) *Server {
	t.Helper()
	s, f := server(t)
	h, err := history.Open(t.TempDir(), history.Options{Now: s.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	s.History = h
	for i := range 3 {
		rep := &wire.Report{Schema: wire.Schema, ID: fmt.Sprintf("r%d", i+1), Site: "sulsel", Room: "aula",
			MeasuredAt: t0.Add(time.Duration(i-3) * time.Minute), Verdict: wire.Ready}
		if _, err := h.Add(rep); err != nil {
			t.Fatal(err)
		}
		f.ApplyReport(rep, rep.MeasuredAt)
	}
	return s
}

func reportIDs(out map[string]any) string {
	l, _ := out["reports"].([]any)
	var ids []string
	for _, r := range l {
		ids = append(ids, r.(map[string]any)["id"].(string))
	}
	return strings.Join(ids, " ")
}

// A room's history pages oldest first: following next gives every report
// once; since starts it later.
func TestAPI_ReportHistoryPagesOldestFirst(t *testing.T) {
	h := historyServer(t).Handler()
	code, out := call(t, h, "GET", "/api/v1/rooms/sulsel/aula/reports?limit=2", "")
	next, _ := out["next"].(string)
	if code != 200 || reportIDs(out) != "r1 r2" || out["more"] != true || next == "" || out["site"] != "sulsel" || out["room"] != "aula" {
		t.Fatalf("first page: %d %v", code, out)
	}
	code, out = call(t, h, "GET", "/api/v1/rooms/sulsel/aula/reports?limit=2&after="+url.QueryEscape(next), "")
	if code != 200 || reportIDs(out) != "r3" || out["more"] != false || out["next"] != nil {
		t.Errorf("second page: %d %v", code, out)
	}
	since := url.QueryEscape(t0.Add(-90 * time.Second).Format(time.RFC3339))
	if code, out := call(t, h, "GET", "/api/v1/rooms/sulsel/aula/reports?since="+since, ""); code != 200 || reportIDs(out) != "r3" {
		t.Errorf("since %s: %d %v", since, code, out)
	}
	if code, out := call(t, h, "GET", "/api/v1/rooms/sulsel/aula/reports?since="+url.QueryEscape(t0.Format(time.RFC3339)), ""); code != 200 || out["reports"] == nil || reportIDs(out) != "" {
		t.Errorf("since now: %d %v, want an empty list", code, out)
	}
}

// Bad queries, unknown rooms, bad names, other shards' sites and a
// controller without a history or zones are refused with what was wrong.
func TestAPI_RoomRequestsRefused(t *testing.T) {
	s := historyServer(t)
	s.Shard, _ = shard.Parse("sulsel,kalbar")
	h := s.Handler()
	noHistory := *s
	noHistory.History, noHistory.Zones = nil, nil
	for _, c := range []struct {
		name, method, path, body string
		code                     int
		says                     string
		noHistory                bool
	}{
		{"since not RFC 3339", "GET", "/api/v1/rooms/sulsel/aula/reports?since=yesterday", "", 400, `since "yesterday": want an RFC 3339 time`, false},
		{"limit zero", "GET", "/api/v1/rooms/sulsel/aula/reports?limit=0", "", 400, `limit "0": want a whole number from 1 to 1000`, false},
		{"limit over the most", "GET", "/api/v1/rooms/sulsel/aula/reports?limit=1001", "", 400, `limit "1001"`, false},
		{"limit not a number", "GET", "/api/v1/rooms/sulsel/aula/reports?limit=all", "", 400, `limit "all"`, false},
		{"after not a cursor", "GET", "/api/v1/rooms/sulsel/aula/reports?after=xyz", "", 400, "not a cursor of this room's history: give the next of the page before", false},
		{"reports of an unknown room", "GET", "/api/v1/rooms/sulsel/gudang/reports", "", 404, "room sulsel/gudang is not known: no agent has reported for it", false},
		{"unknown room", "GET", "/api/v1/rooms/sulsel/gudang", "", 404, "room sulsel/gudang is not known: no agent has reported for it", false},
		{"no history", "GET", "/api/v1/rooms/sulsel/aula/reports", "", 404, "this controller keeps no report history", true},
		{"no zones to set", "PUT", "/api/v1/rooms/sulsel/aula/zone", `{"zone":"Asia/Makassar"}`, 404, "this controller keeps no room zones", true},
		{"bad site name", "GET", "/api/v1/rooms/sul_sel!/aula", "", 400, `site "sul_sel!" is not a valid name`, false},
		{"bad room name in reports", "GET", "/api/v1/rooms/sulsel/a%20b/reports", "", 400, `room "a b" is not a valid name`, false},
		{"bad room name in zone", "PUT", "/api/v1/rooms/sulsel/a%20b/zone", `{"zone":"Asia/Makassar"}`, 400, `room "a b" is not a valid name`, false},
		{"room of another shard", "GET", "/api/v1/rooms/papua/aula", "", 421, "site papua belongs to another shard: this controller owns sites sulsel,kalbar", false},
		{"reports of another shard", "GET", "/api/v1/rooms/papua/aula/reports", "", 421, "site papua belongs to another shard", false},
		{"zone of another shard", "GET", "/api/v1/rooms/papua/aula/zone", "", 421, "site papua belongs to another shard", false},
		{"set zone of another shard", "PUT", "/api/v1/rooms/papua/aula/zone", `{"zone":"Asia/Jayapura"}`, 421, "site papua belongs to another shard", false},
		{"check of another shard", "POST", "/api/v1/rooms/papua/aula/checks", "", 421, "site papua belongs to another shard", false},
		{"meeting of another shard", "POST", "/api/v1/rooms/papua/aula/sessions", `{"title":"x"}`, 421, "site papua belongs to another shard", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := h
			if c.noHistory {
				srv = noHistory.Handler()
			}
			code, out := call(t, srv, c.method, c.path, c.body)
			msg, _ := out["error"].(string)
			if code != c.code || !strings.Contains(msg, c.says) {
				t.Errorf("%s %s: %d %q, want %d saying %q", c.method, c.path, code, msg, c.code, c.says)
			}
		})
	}
}

// fileZones gives sulsel/aula the zone of a rooms file, which the API may
// not change, and the other rooms' zones as storeZones does.
type fileZones struct{ storeZones }

func (z fileZones) Zone(site, room string) (*time.Location, string) {
	if site == "sulsel" && room == "aula" {
		l, _ := time.LoadLocation("Asia/Makassar")
		return l, "rooms_file"
	}
	return z.storeZones.Zone(site, room)
}

func (z fileZones) SetZone(site, room, zone string) error {
	if site == "sulsel" && room == "aula" {
		return fmt.Errorf("%w: the rooms file gives sulsel/aula the zone Asia/Makassar; change it there", ErrZoneFromFile)
	}
	return z.storeZones.SetZone(site, room, zone)
}

// A room's zone set by the rooms file is shown with the room and cannot be
// changed through the API (409); without zones, rooms are in WIB.
func TestAPI_ZoneFromTheRoomsFileIsNotTheAPIs(t *testing.T) {
	s := historyServer(t)
	s.Zones = fileZones{s.Zones.(storeZones)}
	h := s.Handler()
	if code, out := call(t, h, "PUT", "/api/v1/rooms/sulsel/aula/zone", `{"zone":"Asia/Jakarta"}`); code != 409 ||
		out["error"] != "the room's zone comes from the rooms file: the rooms file gives sulsel/aula the zone Asia/Makassar; change it there" {
		t.Errorf("PUT: %d %v", code, out)
	}
	if code, out := call(t, h, "GET", "/api/v1/rooms/sulsel/aula/zone", ""); code != 200 || out["zone"] != "Asia/Makassar" || out["source"] != "rooms_file" {
		t.Errorf("GET zone: %d %v", code, out)
	}
	if code, out := call(t, h, "GET", "/api/v1/rooms/sulsel/aula", ""); code != 200 || out["zone"] != "Asia/Makassar" {
		t.Errorf("GET room: %d %v", code, out)
	}

	s.Zones = nil
	h = s.Handler()
	if code, out := call(t, h, "GET", "/api/v1/rooms/sulsel/aula/zone", ""); code != 200 || out["zone"] != "Asia/Jakarta" || out["source"] != "default" {
		t.Errorf("GET zone without zones: %d %v", code, out)
	}
	if code, out := call(t, h, "GET", "/api/v1/rooms/sulsel/aula", ""); code != 200 || out["zone"] != "Asia/Jakarta" {
		t.Errorf("GET room without zones: %d %v", code, out)
	}
}

// TestAPI_ReportHistoryOfARoomTheFleetLost: a room the fleet no longer knows
// (its store moved aside by --repair) still has its history, which the API
// serves; a room with neither is unknown.
func TestAPI_ReportHistoryOfARoomTheFleetLost(t *testing.T) {
	s := historyServer(t)
	if !s.Fleet.Remove("sulsel", "aula") {
		t.Fatal("sulsel/aula was not in the fleet")
	}
	h := s.Handler()
	if code, out := call(t, h, "GET", "/api/v1/rooms/sulsel/aula/reports", ""); code != 200 || reportIDs(out) != "r1 r2 r3" {
		t.Errorf("history of a room the fleet lost: %d %v, want r1 r2 r3", code, out)
	}
	if code, _ := call(t, h, "GET", "/api/v1/rooms/sulsel/gudang/reports", ""); code != 404 {
		t.Errorf("history of a room never seen: %d, want 404", code)
	}
}
