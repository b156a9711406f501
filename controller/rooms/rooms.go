// Package rooms reads the rooms file: per room, the devices it should have,
// its meeting calendar, its time zone and its pre-meeting lead times.
package rooms

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/siaprapat/siaprapat/internal/yamlstrict"
	"github.com/siaprapat/siaprapat/wire"
)

// Schema is the schema identifier of a rooms file.
const Schema = "siaprapat.rooms/v1"

// DefaultZone is where times without a zone are read: Indonesia's western
// zone (WIB), where most rooms are.
const DefaultZone = "Asia/Jakarta"

// Config is the rooms file.
type Config struct {
	Schema string `yaml:"schema"`
	Rooms  []Room `yaml:"rooms"`

	byRoom map[string]*Room
}

// Room is one room's configuration.
type Room struct {
	Site    string   `yaml:"site"`
	Room    string   `yaml:"room"`
	Devices []Expect `yaml:"devices"`
	// Calendar is an iCalendar feed of the room's meetings: an http(s) or
	// webcal URL polled on an interval, or a path to a regular file.
	Calendar string `yaml:"calendar"`
	// CalendarAuth authenticates the controller to a calendar URL, with
	// secrets read from files (never written in the rooms file).
	CalendarAuth *CalendarAuth `yaml:"calendar_auth"`
	// Zone is the IANA zone for calendar times without one (Asia/Jakarta,
	// Asia/Pontianak, Asia/Makassar, Asia/Jayapura); DefaultZone when empty.
	Zone string `yaml:"zone"`
	// LeadTimes override the controller's --lead-times for this room.
	LeadTimes []time.Duration `yaml:"lead_times"`

	location *time.Location
}

// CalendarAuth is HTTP basic authentication (Username and PasswordFile) or a
// bearer token (BearerTokenFile). The files are read at every poll, so a
// rotated secret needs no restart; relative paths are from the rooms file's
// folder.
type CalendarAuth struct {
	Username        string `yaml:"username"`
	PasswordFile    string `yaml:"password_file"`
	BearerTokenFile string `yaml:"bearer_token_file"`
}

// MaxSecretBytes bounds a password or token file.
const MaxSecretBytes = 4 << 10

// Apply sets the request's Authorization header from the secret files. Its
// errors name the file and the field, never the secret.
func (a *CalendarAuth) Apply(req *http.Request) error {
	if a == nil {
		return nil
	}
	if a.BearerTokenFile != "" {
		token, err := ReadSecret(a.BearerTokenFile)
		if err != nil {
			return fmt.Errorf("calendar_auth.bearer_token_file: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
	password, err := ReadSecret(a.PasswordFile)
	if err != nil {
		return fmt.Errorf("calendar_auth.password_file: %w", err)
	}
	req.SetBasicAuth(a.Username, password)
	return nil
}

// ReadSecret reads a password or token file: a regular file that others
// cannot read, one line (a final line end is dropped), at most
// MaxSecretBytes.
func ReadSecret(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	switch {
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	case fi.Mode().Perm()&0o004 != 0:
		return "", fmt.Errorf("%s can be read by every user (mode %#o): chmod o-r it", path, fi.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSecretBytes+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxSecretBytes {
		return "", fmt.Errorf("%s is larger than %d bytes: is it the secret?", path, MaxSecretBytes)
	}
	secret := strings.TrimRight(string(data), "\r\n")
	switch {
	case secret == "":
		return "", fmt.Errorf("%s is empty", path)
	case strings.ContainsAny(secret, "\r\n\x00"):
		return "", fmt.Errorf("%s holds more than one line", path)
	}
	return secret, nil
}

// Expect is one kind of device a room should have: any model of the kind,
// or one model (the hardware profile's model name).
type Expect struct {
	Kind  string `yaml:"kind"`
	Model string `yaml:"model"`
	Count int    `yaml:"count"` // default 1
}

// Location is the room's time zone.
func (r *Room) Location() *time.Location { return r.location }

// Load reads and validates a rooms file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rooms file: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a rooms file's content; path names it in
// messages (and files it names are relative to its folder).
func Parse(path string, data []byte) (*Config, error) {
	var c Config
	if err := yamlstrict.Decode(path, data, &c, map[string]string{
		"rooms.Config": "the rooms file", "rooms.Room": "a room", "rooms.Expect": "a device", "rooms.CalendarAuth": "calendar_auth",
	}); err != nil {
		return nil, err
	}
	if err := c.validate(path); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) validate(file string) error {
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s: field %s: %s", file, field, fmt.Sprintf(format, args...)))
	}
	if c.Schema != Schema {
		bad("schema", "%q is not supported; want %s", c.Schema, Schema)
	}
	c.byRoom = map[string]*Room{}
	for i := range c.Rooms {
		r := &c.Rooms[i]
		at := fmt.Sprintf("rooms[%d]", i)
		if err := wire.CheckName("site", r.Site); err != nil {
			bad(at+".site", "%v", err)
		}
		if err := wire.CheckName("room", r.Room); err != nil {
			bad(at+".room", "%v", err)
		}
		k := r.Site + "/" + r.Room
		if _, dup := c.byRoom[k]; dup {
			bad(at, "room %s is listed twice", k)
		}
		for j := range r.Devices {
			d := &r.Devices[j]
			dat := fmt.Sprintf("%s.devices[%d]", at, j)
			if !slices.Contains(wire.DeviceKinds, d.Kind) {
				bad(dat+".kind", "%q is not a kind; want one of %s", d.Kind, strings.Join(wire.DeviceKinds, ", "))
			}
			if d.Count == 0 {
				d.Count = 1
			}
			if d.Count < 1 || d.Count > 16 {
				bad(dat+".count", "%d is out of range; want 1 to 16", d.Count)
			}
		}
		isURL := false
		if r.Calendar != "" {
			u, err := url.Parse(r.Calendar)
			switch {
			case err == nil && u.Scheme != "" && !slices.Contains([]string{"http", "https", "webcal", "webcals"}, strings.ToLower(u.Scheme)):
				bad(at+".calendar", "%q: want an http(s) or webcal URL or a file path", r.Calendar)
			case err == nil && u.Scheme != "":
				isURL = true
				if u.User != nil {
					bad(at+".calendar", "has a user or password in the URL; put them in calendar_auth (username, password_file)")
				}
				if u.Host == "" {
					bad(at+".calendar", "%q has no host", r.Calendar)
				}
			default:
				if fi, err := os.Stat(r.Calendar); err == nil && !fi.Mode().IsRegular() {
					bad(at+".calendar", "%s is not a regular file (%s)", r.Calendar, fi.Mode().Type())
				}
			}
		}
		if a := r.CalendarAuth; a != nil {
			fat := at + ".calendar_auth"
			resolve := func(p *string) {
				if *p != "" && !filepath.IsAbs(*p) {
					*p = filepath.Join(filepath.Dir(file), *p)
				}
			}
			resolve(&a.PasswordFile)
			resolve(&a.BearerTokenFile)
			basic := a.Username != "" || a.PasswordFile != ""
			switch {
			case !isURL:
				bad(fat, "is only for a calendar URL")
			case strings.HasPrefix(strings.ToLower(r.Calendar), "http://"):
				bad(fat, "would send the secret in clear over http://; use https")
			case basic && a.BearerTokenFile != "":
				bad(fat, "has both username/password_file and bearer_token_file; want one")
			case a.BearerTokenFile != "":
				if _, err := ReadSecret(a.BearerTokenFile); err != nil {
					bad(fat+".bearer_token_file", "%v", err)
				}
			case a.Username == "" || a.PasswordFile == "":
				bad(fat, "want username and password_file (HTTP basic authentication), or bearer_token_file")
			case strings.Contains(a.Username, ":"):
				bad(fat+".username", "%q: a user name for HTTP basic authentication cannot hold ':'", a.Username)
			default:
				if _, err := ReadSecret(a.PasswordFile); err != nil {
					bad(fat+".password_file", "%v", err)
				}
			}
		}
		zone := r.Zone
		if zone == "" {
			zone = DefaultZone
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			bad(at+".zone", "%q is not a time zone (e.g. Asia/Jakarta, Asia/Makassar, Asia/Jayapura)", r.Zone)
		}
		r.location = loc
		for j, d := range r.LeadTimes {
			if d <= 0 || d > 24*time.Hour {
				bad(fmt.Sprintf("%s.lead_times[%d]", at, j), "%v: want 1s to 24h", d)
			}
		}
		c.byRoom[k] = r
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// Only returns the rooms of the sites keep says yes to (a controller's
// shard); nil for a nil Config.
func (c *Config) Only(keep func(site string) bool) *Config {
	if c == nil {
		return nil
	}
	out := &Config{Schema: c.Schema, byRoom: map[string]*Room{}}
	for _, r := range c.Rooms {
		if keep(r.Site) {
			out.Rooms = append(out.Rooms, r)
		}
	}
	for i := range out.Rooms {
		r := &out.Rooms[i]
		out.byRoom[r.Site+"/"+r.Room] = r
	}
	return out
}

// Get returns a room's configuration; nil when the file does not list it.
func (c *Config) Get(site, room string) *Room {
	if c == nil {
		return nil
	}
	return c.byRoom[site+"/"+room]
}

// For returns what a room should have; nil when the file does not list it.
func (c *Config) For(site, room string) []Expect {
	if r := c.Get(site, room); r != nil {
		return r.Devices
	}
	return nil
}

// LeadTimes returns a room's lead times, or def when it has none of its own.
func (c *Config) LeadTimes(site, room string, def []time.Duration) []time.Duration {
	if r := c.Get(site, room); r != nil && len(r.LeadTimes) > 0 {
		return r.LeadTimes
	}
	return def
}
