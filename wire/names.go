package wire

import (
	"strconv"
	"strings"
)

// The grammars of the names a report carries, checked byte by byte: Decode
// runs them on every name of every report, where regular expressions cost
// a tenth of the controller's ingest. Each says the pattern it implements;
// names_test.go holds them to it.

// validName implements ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ (site, room, report and command ids).
func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// validMeasurementName implements ^[a-z][a-z0-9_]{0,99}$ (check, rule and measurement names).
func validMeasurementName(s string) bool {
	if len(s) == 0 || len(s) > 100 || !isLower(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLower(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

// validUSBID implements ^[0-9a-f]{4}:[0-9a-f]{4}$.
func validUSBID(s string) bool {
	if len(s) != 9 || s[4] != ':' {
		return false
	}
	for i := range len(s) {
		if c := s[i]; i != 4 && !isDigit(c) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// schemaMajor implements ^siaprapat\.report/v([0-9]+)(\.[0-9]+)?$, returning
// the major version as strconv.Atoi reads the first group (clamped when it
// overflows), and false when s does not match.
func schemaMajor(s string) (int, bool) {
	rest, ok := strings.CutPrefix(s, "siaprapat.report/v")
	if !ok {
		return 0, false
	}
	major, minor, hasMinor := strings.Cut(rest, ".")
	if !allDigits(major) || hasMinor && !allDigits(minor) {
		return 0, false
	}
	n, _ := strconv.Atoi(major)
	return n, true
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isLower(c) || 'A' <= c && c <= 'Z' }
