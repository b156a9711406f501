package sessions

import (
	"strings"
	"testing"
	"time"
)

// TestExpand_TolerantWhereOtherReadersAre reads one meeting written in the
// odd ways feeds come: each must give the meeting, and say what it tolerated.
func TestExpand_TolerantWhereOtherReadersAre(t *testing.T) {
	ev := []string{"BEGIN:VEVENT", "UID:a", "SUMMARY:Rapat", "DTSTART:20261201T020000Z", "DTEND:20261201T030000Z", "END:VEVENT"}
	lines := func(l ...string) []string { return l }
	cal := func(body ...string) []string {
		return append(append(lines("BEGIN:VCALENDAR", "VERSION:2.0"), body...), "END:VCALENDAR")
	}
	for _, c := range []struct {
		name     string
		feed     string
		repaired string
	}{
		{"CRLF", strings.Join(cal(ev...), "\r\n") + "\r\n", ""},
		{"LF and no final line end", strings.Join(cal(ev...), "\n"), ""},
		{"lone CR", strings.Join(cal(ev...), "\r"), ""},
		{"a byte order mark", "\xef\xbb\xbf" + strings.Join(cal(ev...), "\r\n"), ""},
		{"lowercase names", "begin:vcalendar\r\nbegin:vevent\r\nuid:a\r\nsummary:Rapat\r\ndtstart:20261201T020000Z\r\ndtend:20261201T030000Z\r\nend:vevent\r\nend:vcalendar\r\n", ""},
		{"blank lines and folded lines", "BEGIN:VCALENDAR\r\n\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Ra\r\n pat\r\nDTSTART:2026120\r\n\t1T020000Z\r\nDTEND:20261201T030000Z\r\nEND:VEVENT\r\n\r\nEND:VCALENDAR\r\n", ""},
		{"END:VCALENDARD last", strings.Join(cal(ev...), "\r\n")[:len(strings.Join(cal(ev...), "\r\n"))] + "D\r\n", "line 9: END:VCALENDARD closes the VCALENDAR opened at line 1"},
		{"junk after END:VCALENDAR", strings.Join(cal(ev...), "\r\n") + "\r\n<!-- served by cache -->\r\n\x00\x00", "line 10: text after END:VCALENDAR is left out"},
		{"a malformed line in the event", strings.Join(cal(append(lines(ev[0], `X-BROKEN;P="unterminated:x`), ev[1:]...)...), "\r\n"), `line 4: parameter P: unterminated quoted value; the line is left out`},
		{"an END that skips one", strings.Join(cal(append(ev[:5:5], "BEGIN:VALARM", "TRIGGER:-PT15M", "END:VEVENT")...), "\r\n"), "line 10: END:VEVENT also closes the VALARM opened at line 8"},
		{"two VCALENDARs", strings.Join(append(cal(), cal(ev...)...), "\r\n"), "line 4: another VCALENDAR; its components are read with the first's"},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := expandAll(t, c.feed)
			if len(x.Sessions) != 1 || x.Sessions[0].Title != "Rapat" || !x.Sessions[0].Start.Equal(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)) {
				t.Errorf("sessions %+v", x.Sessions)
			}
			if got := strings.Join(x.Repaired, "; "); got != c.repaired {
				t.Errorf("repaired %q, want %q", got, c.repaired)
			}
		})
	}
}

func TestParseContentLine_QuotedParametersAndValues(t *testing.T) {
	p, err := parseContentLine(`dtstart;tzid="(UTC+07:00) Bangkok, Hanoi, Jakarta";x-a=1,"b;c":20261201T090000`)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "DTSTART" || p.Params.Get("TZID") != "(UTC+07:00) Bangkok, Hanoi, Jakarta" ||
		strings.Join(p.Params["X-A"], "|") != "1|b;c" || p.Value != "20261201T090000" {
		t.Errorf("%+v", p)
	}
	for line, want := range map[string]string{
		"NOCOLON":        `no colon in "NOCOLON"`,
		"BAD NAME:x":     `"BAD NAME" is not a property name`,
		"X;P:v":          `parameter "P:v" has no '='`,
		`X;P=a"b:v`:      "parameter P: a quote inside an unquoted value",
		`X;P="a"b:v`:     "parameter P: want ';' or ':' after its value",
		`SUMMARY;P=1`:    "parameter P: no ':' before the value",
		`;P=1:v`:         `"" is not a property name`,
		"SUMMARY:ok:too": "",
	} {
		_, err := parseContentLine(line)
		if got := ""; err != nil {
			got = err.Error()
			if got != want {
				t.Errorf("%q: %q, want %q", line, got, want)
			}
		} else if want != "" {
			t.Errorf("%q: no error, want %q", line, want)
		}
	}
}
