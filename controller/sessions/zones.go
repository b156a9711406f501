package sessions

//go:generate go run windowszones_gen.go -cldr-core 48.2.0

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Jakarta, Asia/Pontianak, Asia/Makassar, Asia/Jayapura on any machine

	"github.com/emersion/go-ical"
)

// zones resolves the TZIDs of one feed, each once, in this order:
//  1. the feed's own VTIMEZONE of that TZID (RFC 5545, 3.6.5), whatever its
//     name: its STANDARD and DAYLIGHT observances (DTSTART, TZOFFSETFROM,
//     TZOFFSETTO, RRULE, RDATE) become a time.Location;
//  2. an IANA name, also inside a prefix ("/mozilla.org/20070129_1/Europe/London");
//  3. a Windows zone id ("SE Asia Standard Time"), through CLDR's windowsZones;
//  4. a Windows display name ("(UTC+08:00) Kuala Lumpur, Singapore",
//     "(GMT+07.00) Bangkok / Hanoi / Jakarta"): a city in it that names an IANA
//     zone with the offset it shows.
//
// A VTIMEZONE's location is built to be right from two years before the
// window to a year after it, which is all Expand asks of it.
type zones struct {
	defs     map[string]*ical.Component
	from, to time.Time
	cache    map[string]resolvedZone
}

type resolvedZone struct {
	loc *time.Location
	err error
}

func newZones(cal *ical.Calendar, from, to time.Time) *zones {
	z := &zones{defs: map[string]*ical.Component{}, from: from, to: to, cache: map[string]resolvedZone{}}
	for _, c := range cal.Children {
		if c.Name != ical.CompTimezone {
			continue
		}
		if id, err := c.Props.Text(ical.PropTimezoneID); err == nil && id != "" {
			if _, dup := z.defs[id]; !dup {
				z.defs[id] = c
			}
		}
	}
	return z
}

// resolve returns the location a TZID names.
func (z *zones) resolve(tzid string) (*time.Location, error) {
	if r, ok := z.cache[tzid]; ok {
		return r.loc, r.err
	}
	if len(z.cache) >= maxZonesPerFeed {
		return nil, fmt.Errorf("unknown time zone %q: the feed names more than %d zones", tzid, maxZonesPerFeed)
	}
	loc, err := z.lookup(tzid)
	z.cache[tzid] = resolvedZone{loc, err}
	return loc, err
}

func (z *zones) lookup(tzid string) (*time.Location, error) {
	var defErr error
	if def := z.defs[tzid]; def != nil {
		loc, err := vtimezoneLocation(tzid, def, z.from.AddDate(-2, 0, 0), z.to.AddDate(1, 0, 0))
		if err == nil {
			return loc, nil
		}
		defErr = err
	}
	if loc := ianaLocation(tzid); loc != nil {
		return loc, nil
	}
	if loc := windowsLocation(tzid); loc != nil {
		return loc, nil
	}
	if loc := displayNameLocation(tzid, z.from); loc != nil {
		return loc, nil
	}
	if defErr != nil {
		return nil, fmt.Errorf("unknown time zone %q: its VTIMEZONE: %w", tzid, defErr)
	}
	return nil, fmt.Errorf("unknown time zone %q: no VTIMEZONE of that TZID in the feed, and no IANA, Windows (CLDR %s) or display name", tzid, cldrVersion)
}

// ianaLocation loads an IANA zone named by tzid or by a part of it after a
// '/' ("/freeassociation.sourceforge.net/Tzfile/Europe/London"); never the
// controller's own zone ("Local").
func ianaLocation(tzid string) *time.Location {
	name := strings.TrimSpace(tzid)
	for name != "" {
		if name != "Local" && !strings.ContainsAny(name, " ,()") {
			if loc, err := time.LoadLocation(name); err == nil {
				return loc
			}
		}
		i := strings.IndexByte(name, '/')
		if i < 0 {
			return nil
		}
		name = name[i+1:]
		if !strings.Contains(name, "/") {
			return nil
		}
	}
	return nil
}

// windowsLocation maps a Windows zone id through CLDR's windowsZones.
func windowsLocation(tzid string) *time.Location {
	name := strings.TrimSpace(tzid)
	iana, ok := windowsZones[name]
	if !ok {
		for id, zone := range windowsZones {
			if strings.EqualFold(id, name) {
				iana, ok = zone, true
				break
			}
		}
	}
	if !ok {
		return nil
	}
	loc, err := time.LoadLocation(iana)
	if err != nil {
		return nil
	}
	return loc
}

// displayNameLocation reads a Windows display name: "(UTC+08:00) Kuala Lumpur,
// Singapore", "(GMT+07.00) Bangkok / Hanoi / Jakarta" (Zimbra), "Canberra,
// Melbourne, Sydney" (Outlook 2003). The first city that names an IANA zone
// whose standard or daylight offset at the window is the one shown wins.
func displayNameLocation(tzid string, at time.Time) *time.Location {
	name := strings.TrimSpace(tzid)
	offset, hasOffset := 0, false
	if strings.HasPrefix(name, "(") {
		end := strings.IndexByte(name, ')')
		if end < 0 {
			return nil
		}
		prefix := strings.TrimSpace(name[1:end])
		name = name[end+1:]
		rest, ok := strings.CutPrefix(prefix, "UTC")
		if !ok {
			if rest, ok = strings.CutPrefix(prefix, "GMT"); !ok {
				return nil
			}
		}
		if rest != "" {
			sign := 1
			switch rest[0] {
			case '+':
			case '-':
				sign = -1
			default:
				return nil
			}
			hh, mm, _ := strings.Cut(rest[1:], ":")
			if !strings.Contains(rest, ":") {
				hh, mm, _ = strings.Cut(rest[1:], ".")
			}
			h, err1 := strconv.Atoi(hh)
			m := 0
			var err2 error
			if mm != "" {
				m, err2 = strconv.Atoi(mm)
			}
			if err1 != nil || err2 != nil || h > 14 || m > 59 {
				return nil
			}
			offset = sign * (h*3600 + m*60)
		}
		hasOffset = true
	}
	fields := strings.FieldsFunc(name, func(r rune) bool { return r == ',' || r == '/' || r == '&' || r == ';' })
	for _, f := range fields {
		city := strings.ToLower(strings.Join(strings.Fields(strings.ReplaceAll(f, " and ", " ")), " "))
		iana, ok := zoneCities[city]
		if !ok {
			continue
		}
		loc, err := time.LoadLocation(iana)
		if err != nil {
			continue
		}
		if !hasOffset {
			return loc
		}
		y := at.Year()
		_, jan := time.Date(y, 1, 1, 0, 0, 0, 0, loc).Zone()
		_, jul := time.Date(y, 7, 1, 0, 0, 0, 0, loc).Zone()
		if offset == jan || offset == jul {
			return loc
		}
	}
	return nil
}

// Bounds on one feed's zones, and on one VTIMEZONE: its observances and
// transitions.
const (
	maxZonesPerFeed = 200
	maxObservances  = 400
	maxTransitions  = 2000
)

type transition struct {
	at       time.Time // the instant it takes effect
	from, to int       // UTC offsets, seconds
	dst      bool
	name     string
}

// vtimezoneLocation builds a time.Location from a VTIMEZONE, right for
// [lo, hi]: the onsets of each observance (its DTSTART, RDATEs and the
// instances of its RRULE, local times in its TZOFFSETFROM) are transitions to
// its TZOFFSETTO.
func vtimezoneLocation(tzid string, vtz *ical.Component, lo, hi time.Time) (*time.Location, error) {
	var all []transition
	n := 0
	budget := maxRuleWalk
	for _, obs := range vtz.Children {
		if obs.Name != ical.CompTimezoneStandard && obs.Name != ical.CompTimezoneDaylight {
			continue
		}
		if n++; n > maxObservances {
			return nil, fmt.Errorf("more than %d observances", maxObservances)
		}
		ts, err := observance(obs, lo, hi, &budget)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", obs.Name, err)
		}
		all = append(all, ts...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no STANDARD or DAYLIGHT observance")
	}
	// At one instant, a STANDARD observance wins (Exchange writes both, at
	// 1601, for zones without daylight saving time).
	slices.SortStableFunc(all, func(a, b transition) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		switch {
		case a.dst == b.dst:
			return 0
		case a.dst:
			return 1
		}
		return -1
	})
	all = slices.CompactFunc(all, func(a, b transition) bool { return a.at.Equal(b.at) })
	// Keep the transitions in [lo, hi]; before the first of them the zone
	// is at its TZOFFSETFROM, or, with none in range, at the offset the last
	// one before set.
	first := slices.IndexFunc(all, func(t transition) bool { return !t.at.Before(lo) })
	var kept []transition
	if first >= 0 {
		for _, t := range all[first:] {
			if t.at.After(hi) {
				break
			}
			kept = append(kept, t)
		}
	}
	var initial int
	switch {
	case len(kept) > 0:
		initial = kept[0].from
	case first < 0:
		initial = all[len(all)-1].to
	case first > 0:
		initial = all[first-1].to
	default:
		initial = all[0].from
	}
	if len(kept) > maxTransitions {
		return nil, fmt.Errorf("more than %d transitions in the years around the window", maxTransitions)
	}
	return time.LoadLocationFromTZData(tzid, tzif(initial, kept))
}

// observance returns the onsets of a STANDARD or DAYLIGHT component.
func observance(obs *ical.Component, lo, hi time.Time, budget *int) ([]transition, error) {
	from, err := offsetProp(obs, ical.PropTimezoneOffsetFrom)
	if err != nil {
		return nil, err
	}
	to, err := offsetProp(obs, ical.PropTimezoneOffsetTo)
	if err != nil {
		return nil, err
	}
	name := ""
	if p := obs.Props.Get(ical.PropTimezoneName); p != nil {
		name = p.Value
	}
	dst := obs.Name == ical.CompTimezoneDaylight
	p := obs.Props.Get(ical.PropDateTimeStart)
	if p == nil {
		return nil, fmt.Errorf("no DTSTART")
	}
	start, err := wallTime(p.Value)
	if err != nil {
		return nil, fmt.Errorf("DTSTART: %w", err)
	}
	// Onsets are local times in the offset before them; rules are walked on
	// that wall clock, kept in UTC.
	onset := func(wall time.Time) transition {
		return transition{at: wall.Add(-time.Duration(from) * time.Second), from: from, to: to, dst: dst, name: name}
	}
	out := []transition{onset(start)}
	for _, rd := range obs.Props.Values(ical.PropRecurrenceDates) {
		for _, v := range strings.Split(rd.Value, ",") {
			v, _, _ = strings.Cut(strings.TrimSpace(v), "/") // a PERIOD's start
			t, err := wallTime(v)
			if err != nil {
				return nil, fmt.Errorf("RDATE: %w", err)
			}
			out = append(out, onset(t))
		}
	}
	if rr := obs.Props.Get(ical.PropRecurrenceRule); rr != nil {
		o, err := parseRule(rr.Value, start)
		if err != nil {
			return nil, err
		}
		// UNTIL in UTC (as RFC 5545 asks) becomes a wall time too.
		if !o.Until.IsZero() && strings.Contains(strings.ToUpper(rr.Value), "Z") {
			o.Until = o.Until.Add(time.Duration(from) * time.Second)
		}
		wallLo := lo.Add(time.Duration(from) * time.Second)
		wallHi := hi.Add(time.Duration(from) * time.Second)
		starts, more, err := ruleStarts(o, start, wallLo, wallHi, maxTransitions, budget)
		if err != nil {
			return nil, err
		}
		if more {
			return nil, fmt.Errorf("RRULE: more than %d onsets in the years around the window", maxTransitions)
		}
		for _, t := range starts {
			out = append(out, onset(t))
		}
	}
	return out, nil
}

// wallTime reads a DATE-TIME (or DATE) as a wall clock, kept in UTC; a
// trailing Z is ignored (observances' times are local).
func wallTime(v string) (time.Time, error) {
	v = strings.TrimSuffix(strings.TrimSpace(v), "Z")
	if len(v) == len("20060102") {
		return time.Parse("20060102", v)
	}
	return time.Parse("20060102T150405", v)
}

// offsetProp reads a UTC offset: +0700, -0530, +000115 (seconds), +07:00.
func offsetProp(obs *ical.Component, name string) (int, error) {
	p := obs.Props.Get(name)
	if p == nil {
		return 0, fmt.Errorf("no %s", name)
	}
	v := strings.ReplaceAll(strings.TrimSpace(p.Value), ":", "")
	if len(v) != 5 && len(v) != 7 || (v[0] != '+' && v[0] != '-') {
		return 0, fmt.Errorf("%s %q: want +HHMM or +HHMMSS", name, clip(p.Value, 20))
	}
	var parts [3]int
	for i := 0; 1+2*i < len(v); i++ {
		n, err := strconv.Atoi(v[1+2*i : 3+2*i])
		if err != nil {
			return 0, fmt.Errorf("%s %q: want +HHMM or +HHMMSS", name, clip(p.Value, 20))
		}
		parts[i] = n
	}
	if parts[0] > 23 || parts[1] > 59 || parts[2] > 59 {
		return 0, fmt.Errorf("%s %q: out of range", name, p.Value)
	}
	off := parts[0]*3600 + parts[1]*60 + parts[2]
	if v[0] == '-' {
		off = -off
	}
	return off, nil
}

// tzif writes TZif version 2 data (RFC 8536) for time.LoadLocationFromTZData:
// an empty version 1 block, then the transitions. Local time type 0 is the
// initial offset and no transition uses it, so Go takes it for every time
// before the first transition; after the last, the last one's offset holds.
func tzif(initial int, ts []transition) []byte {
	type ltt struct {
		off  int
		dst  bool
		name string
	}
	abbrev := func(off int, name string) string {
		ok := name != "" && len(name) <= 10
		for _, r := range name {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-') {
				ok = false
			}
		}
		if ok && len(name) >= 3 {
			return name
		}
		sign := '+'
		if off < 0 {
			sign, off = '-', -off
		}
		if off%3600 == 0 {
			return fmt.Sprintf("%c%02d", sign, off/3600)
		}
		return fmt.Sprintf("%c%02d%02d", sign, off/3600, off%3600/60)
	}
	types := []ltt{{initial, false, abbrev(initial, "")}}
	index := map[ltt]int{}
	var idx []byte
	for _, t := range ts {
		k := ltt{t.to, t.dst, abbrev(t.to, t.name)}
		i, ok := index[k]
		if !ok && len(types) < 255 {
			i = len(types)
			index[k] = i
			types = append(types, k)
		}
		idx = append(idx, byte(i))
	}
	var chars []byte
	nameAt := map[string]int{}
	for _, t := range types {
		if _, ok := nameAt[t.name]; !ok {
			nameAt[t.name] = len(chars)
			chars = append(append(chars, t.name...), 0)
		}
	}
	header := func(b []byte, timecnt, typecnt, charcnt int) []byte {
		b = append(b, "TZif2"...)
		b = append(b, make([]byte, 15)...)
		for _, n := range []int{0, 0, 0, timecnt, typecnt, charcnt} { // isut, isstd, leap, time, type, char
			b = binary.BigEndian.AppendUint32(b, uint32(n))
		}
		return b
	}
	b := header(nil, 0, 1, 1)
	b = append(b, 0, 0, 0, 0, 0, 0, 0) // one type (UTC), one NUL
	b = header(b, len(ts), len(types), len(chars))
	for _, t := range ts {
		b = binary.BigEndian.AppendUint64(b, uint64(t.at.Unix()))
	}
	b = append(b, idx...)
	for _, t := range types {
		b = binary.BigEndian.AppendUint32(b, uint32(int32(t.off)))
		dst := byte(0)
		if t.dst {
			dst = 1
		}
		b = append(b, dst, byte(nameAt[t.name]))
	}
	b = append(b, chars...)
	return append(b, '\n', '\n')
}
