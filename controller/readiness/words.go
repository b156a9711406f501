package readiness

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// words is one phrase in English and in Bahasa Indonesia.
type words struct{ en, id string }

// checkNames, measurementNames and flagNames are the catalogue's words
// (wire.CheckWords, wire.Measurement.Words): a check added there is worded
// here without a line of its own. A measurement without words is shown by
// its name; flagNames say what a yes/no measurement means when it is the
// wrong way.
var checkNames, measurementNames, flagNames = catalogueWords()

func catalogueWords() (checks, measurements, flags map[string]words) {
	checks, measurements, flags = map[string]words{}, map[string]words{}, map[string]words{}
	for c, w := range wire.CheckWords {
		checks[c] = words{w.EN, w.ID}
	}
	for _, m := range wire.Measurements {
		if m.Words == (wire.Words{}) {
			continue
		}
		into := measurements
		if m.Flag {
			into = flags
		}
		if _, ok := into[m.Name]; !ok {
			into[m.Name] = words{m.Words.EN, m.Words.ID}
		}
	}
	return checks, measurements, flags
}

// codeWords say what a check's code means, by check where it matters.
func codeWords(check, code string) (words, bool) {
	device := map[string]words{
		wire.CheckCamera: {"camera", "kamera"},
		wire.CheckAudio:  {"microphone", "mikrofon"},
	}[check]
	if device.en == "" {
		device = words{"device", "perangkat"}
	}
	switch code {
	case wire.CodeNoDevice:
		return words{"no " + device.en + " found", "tidak ada " + device.id + " terdeteksi"}, true
	case wire.CodeDeviceMissing:
		return words{"the " + device.en + " asked for is not there", device.id + " yang diminta tidak ada"}, true
	case wire.CodeTimeout:
		return words{"the check did not finish in time", "pemeriksaan tidak selesai tepat waktu"}, true
	case wire.CodeNotChecked:
		return words{"not checked: the agent did not run this check", "tidak diperiksa: agen tidak menjalankan pemeriksaan ini"}, true
	case wire.CodeNoSoundServer:
		return words{"no sound server to record with", "tidak ada server suara untuk merekam"}, true
	case wire.CodeNotConfigured:
		return words{"nothing to test against (no probe configured)", "tidak ada titik uji (probe belum diatur)"}, true
	case wire.CodeInUse:
		return words{"in use by another program", "sedang dipakai program lain"}, true
	case wire.CodeHeldBack:
		return words{"held back by a meeting in the room", "ditahan karena ada rapat di ruang"}, true
	case wire.CodeLinkBusy:
		return words{"not tested: the link was busy", "tidak diuji: jaringan sedang sibuk"}, true
	}
	return words{}, false
}

// checkWords words a check that decided its verdict itself: "Camera: no
// camera found". A check without a code the controller knows keeps the
// agent's own reason.
func checkWords(c *wire.CheckResult) (en, id string) {
	name := subject(c.Check, c.Target)
	if w, ok := codeWords(c.Check, c.Code); ok {
		detail := w
		if c.Code == wire.CodeDeviceMissing {
			detail = words{w.en + ": " + c.Target, w.id + ": " + c.Target}
		}
		return name.en + ": " + detail.en, name.id + ": " + detail.id
	}
	reason := c.Reason
	switch c.Verdict {
	case wire.Error:
		if reason == "" {
			reason = "could not check"
		}
		return name.en + ": could not check: " + reason, name.id + ": tidak dapat diperiksa: " + reason
	case wire.Warn:
		return name.en + ": warning: " + reason, name.id + ": peringatan: " + reason
	}
	if reason == "" {
		reason = "failed"
	}
	return name.en + ": " + reason, name.id + ": gagal: " + reason
}

// subject names a check's target for people: the check's name, with the
// target where it tells one device from another.
func subject(check, target string) words {
	w, ok := checkNames[check]
	if !ok {
		w = words{check, check}
	}
	switch check {
	case wire.CheckHost, wire.CheckNetwork:
		return w // the PC's name and the probe's address add nothing
	}
	if target == "" || target == check || target == "camera" || target == "microphone" {
		return w
	}
	return words{w.en + " " + target, w.id + " " + target}
}

// ruleWords words a rule that did not pass: "Upload 1.9 Mbit/s, at least
// 3.2" and "Unggah 1,9 Mbit/s, minimal 3,2". The limit quoted is the one
// the value crossed in std (the controller's standard); a rule std does not
// have keeps the agent's reason and wanted range.
func ruleWords(c *wire.CheckResult, r *wire.RuleResult, std *standard.Standard) (en, id string) {
	var rule standard.Rule
	known := false
	if std != nil {
		rule, known = std.Rule(r.Rule)
		known = known && rule.Check == c.Check
	}
	if c.Check == wire.CheckInventory {
		return inventoryWords(c, r)
	}
	if !known {
		// A rule of another standard (the agent's own): its reason and
		// wanted range as the agent gave them.
		name := subject(c.Check, c.Target)
		if r.Observed == nil && r.Reason == "" {
			return name.en + ": " + r.Rule + " not measured", name.id + ": " + r.Rule + " tidak terukur"
		}
		detail := r.Reason
		if detail == "" {
			detail = string(r.Verdict)
		}
		en, id = name.en+": "+r.Rule+": "+detail, name.id+": "+r.Rule+": "+detail
		if r.Want != "" {
			en, id = en+" (want "+r.Want+")", id+" (seharusnya "+decimalComma(r.Want)+")"
		}
		return en, id
	}
	m := rule.Measurement
	label, ok := measurementNames[m]
	if !ok {
		label = words{m, m}
	}
	if t := subject(c.Check, c.Target); t != checkNames[c.Check] && c.Check != wire.CheckInventory {
		label = words{label.en + " (" + c.Target + ")", label.id + " (" + c.Target + ")"}
	}
	if r.Observed == nil {
		if r.Verdict != wire.Error && r.Reason != "" {
			return label.en + ": " + r.Reason, label.id + ": " + r.Reason
		}
		return label.en + ": not measured", label.id + ": tidak terukur"
	}
	v := *r.Observed
	if wire.IsFlag(m) {
		if f, ok := flagNames[m]; ok {
			return f.en, f.id
		}
		yes := words{"yes", "ya"}
		if v == 0 {
			yes = words{"no", "tidak"}
		}
		return label.en + ": " + yes.en, label.id + ": " + yes.id
	}
	value := standard.Format(m, v)
	limit, below, ok := crossed(rule, r.Verdict, v)
	if !ok {
		return label.en + " " + value + " (want " + r.Want + ")", label.id + " " + decimalComma(value) + " (seharusnya " + decimalComma(r.Want) + ")"
	}
	lim := standard.Format(m, limit)
	if unit := unitOf(value); unit != "" && unitOf(lim) == unit {
		lim = strings.TrimSuffix(lim, unit)
	}
	if below {
		return label.en + " " + value + ", at least " + lim, label.id + " " + decimalComma(value) + ", minimal " + decimalComma(lim)
	}
	return label.en + " " + value + ", at most " + lim, label.id + " " + decimalComma(value) + ", maksimal " + decimalComma(lim)
}

// inventoryWords words an expected device that is missing or wrong.
func inventoryWords(c *wire.CheckResult, r *wire.RuleResult) (en, id string) {
	want, have := c.Measurements["devices_expected"], c.Measurements["devices_present"]
	en = "Devices: " + r.Reason
	id = fmt.Sprintf("Perangkat: %s: diharapkan %s, ditemukan %s", c.Target,
		strconv.FormatFloat(want, 'f', -1, 64), strconv.FormatFloat(have, 'f', -1, 64))
	if have == 0 {
		id += " (tercabut?)"
	}
	return en, id
}

// crossed returns the limit of rule that v crossed for the verdict, and
// whether it is a lower limit.
func crossed(rule standard.Rule, v wire.Verdict, x float64) (limit float64, below, ok bool) {
	lower, upper := rule.FailBelow, rule.FailAbove
	if v == wire.Warn {
		lower, upper = rule.WarnBelow, rule.WarnAbove
	}
	switch {
	case lower != nil && x < *lower:
		return *lower, true, true
	case upper != nil && x > *upper:
		return *upper, false, true
	}
	// The agent judged by another standard: quote this one's limits.
	for _, l := range []*float64{rule.FailBelow, rule.WarnBelow} {
		if l != nil {
			return *l, true, true
		}
	}
	for _, l := range []*float64{rule.FailAbove, rule.WarnAbove} {
		if l != nil {
			return *l, false, true
		}
	}
	return 0, false, false
}

// unitOf returns a formatted value's unit with its space (" Mbit/s").
func unitOf(s string) string {
	if i := strings.LastIndexByte(s, ' '); i >= 0 {
		return s[i:]
	}
	return ""
}

// WantID words a rule's wanted range (standard.Rule.Want, as reports carry
// it), or a measured value as standard.Format writes it, in Bahasa
// Indonesia: ">= 10 Mbit/s (fail below 4 Mbit/s)" is ">= 10 Mbit/s (gagal
// di bawah 4 Mbit/s)", "17.2 GB" is "17,2 GB", "yes" is "ya".
func WantID(want string) string {
	switch want {
	case "yes":
		return "ya"
	case "no":
		return "tidak"
	}
	return decimalComma(wantID.Replace(want))
}

var wantID = strings.NewReplacer(" to ", " sampai ", "fail below ", "gagal di bawah ", "fail above ", "gagal di atas ")

// decimalComma writes numbers the Indonesian way: a decimal comma.
func decimalComma(s string) string {
	b := []byte(s)
	for i := 1; i+1 < len(b); i++ {
		if b[i] == '.' && isDigit(b[i-1]) && isDigit(b[i+1]) {
			b[i] = ','
		}
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

var (
	daysID   = [...]string{"Minggu", "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu"}
	monthsID = [...]string{"Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"}
)

// Location is where times are shown when a room has no zone: Indonesia's
// western zone (WIB).
var Location = loadLocation("Asia/Jakarta", "WIB", 7)

func loadLocation(name, abbr string, hours int) *time.Location {
	if l, err := time.LoadLocation(name); err == nil {
		return l
	}
	return time.FixedZone(abbr, hours*3600)
}

// When writes a moment in full, in loc (WIB when nil): "Tue 24 Nov 2026
// 09:00 WITA" and "Selasa, 24 Nov 2026 09.00 WITA".
func When(t time.Time, loc *time.Location) (en, id string) {
	if loc == nil {
		loc = Location
	}
	t = t.In(loc)
	return t.Format("Mon 2 Jan 2006 15:04 MST"),
		fmt.Sprintf("%s, %d %s %d %s", daysID[t.Weekday()], t.Day(), monthsID[t.Month()-1], t.Year(), t.Format("15.04 MST"))
}

// Clock writes a moment briefly in the context's zone, as causes do:
// "10:02 WITA" and "10.02 WITA", with the date when it is not the
// context's today.
func Clock(t time.Time, at Context) (en, id string) { return clock(t, at) }

// Date writes a day in loc (WIB when nil): "Tue 24 Nov 2026" and "Selasa,
// 24 Nov 2026".
func Date(t time.Time, loc *time.Location) (en, id string) {
	if loc == nil {
		loc = Location
	}
	t = t.In(loc)
	return t.Format("Mon 2 Jan 2006"), fmt.Sprintf("%s, %d %s %d", daysID[t.Weekday()], t.Day(), monthsID[t.Month()-1], t.Year())
}

// CheckName names a check for people, as causes do: "Camera" and "Kamera".
func CheckName(check string) (en, id string) {
	if w, ok := checkNames[check]; ok {
		return w.en, w.id
	}
	return check, check
}

// clock writes a moment briefly, in the context's zone: "10:02 WITA", with
// the date when it is not today's.
func clock(t time.Time, at Context) (en, id string) {
	loc := at.Loc
	if loc == nil {
		loc = Location
	}
	t = t.In(loc)
	if n := at.Now.In(loc); !at.Now.IsZero() && n.YearDay() == t.YearDay() && n.Year() == t.Year() {
		return t.Format("15:04 MST"), t.Format("15.04 MST")
	}
	return t.Format("2 Jan 15:04 MST"), fmt.Sprintf("%d %s %s", t.Day(), monthsID[t.Month()-1], t.Format("15.04 MST"))
}

func durationEN(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.Itoa(int(d/time.Minute)) + " min"
	}
	return d.String()
}

func durationID(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.Itoa(int(d/time.Minute)) + " menit"
	}
	return strconv.Itoa(int(d.Round(time.Second)/time.Second)) + " detik"
}
