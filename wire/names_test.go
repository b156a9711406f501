package wire

import (
	"regexp"
	"strconv"
	"testing"
)

// The patterns the hand-written name checks implement.
var (
	namePattern        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	measurementPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,99}$`)
	usbIDPattern       = regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{4}$`)
	schemaPattern      = regexp.MustCompile(`^siaprapat\.report/v([0-9]+)(\.[0-9]+)?$`)
)

// sameAsPatterns fails when a name check disagrees with its pattern on s.
func sameAsPatterns(t *testing.T, s string) {
	t.Helper()
	if got, want := validName(s), namePattern.MatchString(s); got != want {
		t.Errorf("validName(%q) = %v, pattern says %v", s, got, want)
	}
	if got, want := validMeasurementName(s), measurementPattern.MatchString(s); got != want {
		t.Errorf("validMeasurementName(%q) = %v, pattern says %v", s, got, want)
	}
	if got, want := validUSBID(s), usbIDPattern.MatchString(s); got != want {
		t.Errorf("validUSBID(%q) = %v, pattern says %v", s, got, want)
	}
	major, ok := schemaMajor(s)
	m := schemaPattern.FindStringSubmatch(s)
	wantMajor := 0
	if m != nil {
		wantMajor, _ = strconv.Atoi(m[1])
	}
	if ok != (m != nil) || major != wantMajor {
		t.Errorf("schemaMajor(%q) = %d, %v; pattern says %d, %v", s, major, ok, wantMajor, m != nil)
	}
}

var nameCases = []string{
	"", "a", "A", "0", "_", ".", "-", "a.b_c-d", "room-00001", "a b", "a/b", "+", "#", "é", "a\xff", "a\n", "\na",
	"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc",   // 63
	"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd",  // 64
	"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcde", // 65
	"host", "cpu_used_ratio", "Cpu", "1fps", "fps!", "a__", "a" + string(make([]byte, 99)),
	"046d:085e", "046D:085e", "046d-085e", "046d:085", "046d:085e0", "g46d:085e", ":046d085e",
	"siaprapat.report/v1", "siaprapat.report/v1.3", "siaprapat.report/v01", "siaprapat.report/v2", "siaprapat.report/v",
	"siaprapat.report/v1.", "siaprapat.report/v1.2.3", "siaprapat.report/v.1", "siaprapat.report/v1x", "siaprapatXreport/v1",
	"siaprapat.report/v99999999999999999999999", "siaprapat.report/v1\n", "other/v1", "siaprapat.report/v١",
}

func TestNameChecks_MatchTheirPatterns(t *testing.T) {
	for _, s := range nameCases {
		sameAsPatterns(t, s)
	}
	long := make([]byte, 101)
	for i := range long {
		long[i] = 'a'
	}
	for n := range len(long) + 1 {
		sameAsPatterns(t, string(long[:n]))
	}
}

func FuzzNameChecks(f *testing.F) {
	for _, s := range nameCases {
		f.Add(s)
	}
	f.Fuzz(sameAsPatterns)
}

// Every check and every measurement an agent reports has words for people
// in both languages, so a check added to the catalogue is explained in
// alerts without a line elsewhere. (The inventory's counts are worded by
// the controller's inventory causes.)
func TestCatalogue_EveryCheckAndMeasurementHasWords(t *testing.T) {
	for _, c := range append(Checks, CheckInventory) {
		if w := CheckWords[c]; w.EN == "" || w.ID == "" {
			t.Errorf("check %s has no words (CheckWords)", c)
		}
	}
	for _, m := range Measurements {
		if m.Check == CheckInventory {
			continue
		}
		if m.Words.EN == "" || m.Words.ID == "" {
			t.Errorf("measurement %s/%s has no words in both languages", m.Check, m.Name)
		}
	}
}
