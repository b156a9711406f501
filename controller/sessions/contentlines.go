package sessions

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/emersion/go-ical"
)

// maxNesting bounds how deep components nest (a calendar's go
// VCALENDAR > VEVENT > VALARM).
const maxNesting = 8

// ReadError is a feed that cannot be read: the line and the reason.
type ReadError struct {
	Line   int // 1-based; 0 when the whole feed is at fault
	Reason string
}

func (e *ReadError) Error() string {
	if e.Line == 0 {
		return "read calendar: " + e.Reason
	}
	return fmt.Sprintf("read calendar: line %d: %s", e.Line, e.Reason)
}

// readCalendar reads an iCalendar stream (RFC 5545, section 3) into go-ical's
// component tree, as tolerant as the readers calendar users rely on (python
// icalendar, libical): a byte order mark, LF or lone CR line ends, a missing
// final line end, lowercase names, blank lines, a malformed line inside a
// component (dropped), an END naming the wrong component (it closes the one
// open, as python icalendar does), several VCALENDAR objects (merged) and text
// after the last END:VCALENDAR. lines has the line of each component's
// BEGIN. What it tolerated is returned in repaired,
// one line each. A feed is refused only when it is no calendar at all or ends
// inside a component (truncated), naming the line.
//
// go-ical's own decoder is not used: it stops at the first odd line without
// saying where, panics on some inputs and decodes parameters in quadratic
// time. Its data model and value decoding (dates, durations, text) are.
func readCalendar(data []byte) (cal *ical.Calendar, lines map[*ical.Component]int, repaired []string, err error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	begins := map[*ical.Component]int{}
	logical := unfold(data)
	type open struct {
		comp *ical.Component
		line int
	}
	var (
		stack  []open
		merged *ical.Component
		after  int // the line of the first text after a closed VCALENDAR
	)
	for _, l := range logical {
		if len(strings.TrimSpace(l.text)) == 0 {
			continue
		}
		prop, perr := parseContentLine(l.text)
		if len(stack) == 0 {
			switch {
			case perr == nil && prop.Name == "BEGIN" && strings.EqualFold(strings.TrimSpace(prop.Value), ical.CompCalendar):
				c := ical.NewComponent(ical.CompCalendar)
				stack = append(stack, open{c, l.n})
				if merged != nil {
					repaired = append(repaired, fmt.Sprintf("line %d: another VCALENDAR; its components are read with the first's", l.n))
				}
			case merged == nil:
				return nil, nil, nil, &ReadError{l.n, fmt.Sprintf("want BEGIN:VCALENDAR, got %q: is this an iCalendar file?", clip(l.text, 40))}
			case after == 0:
				after = l.n
			}
			continue
		}
		top := stack[len(stack)-1].comp
		if perr != nil {
			repaired = append(repaired, fmt.Sprintf("line %d: %v; the line is left out", l.n, perr))
			continue
		}
		switch prop.Name {
		case "BEGIN":
			if len(stack) >= maxNesting {
				return nil, nil, nil, &ReadError{l.n, fmt.Sprintf("components nested deeper than %d", maxNesting)}
			}
			c := ical.NewComponent(strings.ToUpper(strings.TrimSpace(prop.Value)))
			top.Children = append(top.Children, c)
			stack = append(stack, open{c, l.n})
			begins[c] = l.n
		case "END":
			// END closes the component it names, and any left open inside
			// it; one naming nothing open closes the innermost (as python
			// icalendar does with END:VCALENDARD).
			name := strings.ToUpper(strings.TrimSpace(prop.Value))
			closes := len(stack) - 1
			for closes >= 0 && stack[closes].comp.Name != name {
				closes--
			}
			switch {
			case closes < 0:
				closes = len(stack) - 1
				repaired = append(repaired, fmt.Sprintf("line %d: END:%s closes the %s opened at line %d", l.n, clip(name, 20), top.Name, stack[closes].line))
			case closes < len(stack)-1:
				repaired = append(repaired, fmt.Sprintf("line %d: END:%s also closes the %s opened at line %d", l.n, name, top.Name, stack[len(stack)-1].line))
			}
			top = stack[closes].comp
			stack = stack[:closes]
			if len(stack) == 0 {
				if merged == nil {
					merged = top
				} else {
					merged.Children = append(merged.Children, top.Children...)
					for name, props := range top.Props {
						if merged.Props[name] == nil {
							merged.Props[name] = props
						}
					}
				}
			}
		default:
			top.Props[prop.Name] = append(top.Props[prop.Name], *prop)
		}
	}
	if len(stack) > 0 {
		o := stack[len(stack)-1]
		return nil, nil, nil, &ReadError{logical[len(logical)-1].n, fmt.Sprintf("the feed ends inside the %s opened at line %d: truncated?", o.comp.Name, o.line)}
	}
	if merged == nil {
		return nil, nil, nil, &ReadError{0, "no BEGIN:VCALENDAR: is this an iCalendar file?"}
	}
	if after > 0 {
		repaired = append(repaired, fmt.Sprintf("line %d: text after END:VCALENDAR is left out", after))
	}
	return &ical.Calendar{Component: merged}, begins, repaired, nil
}

type logicalLine struct {
	n    int // the physical line it starts on, 1-based
	text string
}

// unfold splits data into logical lines: CRLF, LF or a lone CR end a line,
// and a line that starts with a space or a tab continues the one before it
// (RFC 5545, 3.1).
func unfold(data []byte) []logicalLine {
	var out []logicalLine
	var cur strings.Builder
	start, n := 0, 0
	flush := func() {
		if n > 0 {
			out = append(out, logicalLine{start, cur.String()})
		}
		cur.Reset()
	}
	for len(data) > 0 {
		i := bytes.IndexAny(data, "\r\n")
		var line []byte
		if i < 0 {
			line, data = data, nil
		} else {
			line = data[:i]
			if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
				data = data[i+2:]
			} else {
				data = data[i+1:]
			}
		}
		n++
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && cur.Len() > 0 {
			cur.Write(line[1:])
			continue
		}
		flush()
		start = n
		cur.Write(line)
	}
	flush()
	return out
}

// parseContentLine splits "NAME;PARAM=V1,"V2":value" (RFC 5545, 3.1).
// Names are upper-cased; quoted parameter values lose their quotes; the
// value is kept raw (go-ical unescapes text values on demand).
func parseContentLine(s string) (*ical.Prop, error) {
	i := strings.IndexAny(s, ";:")
	if i < 0 {
		return nil, fmt.Errorf("no colon in %q", clip(s, 40))
	}
	name := strings.ToUpper(strings.TrimSpace(s[:i]))
	if !isName(name) {
		return nil, fmt.Errorf("%q is not a property name", clip(s[:i], 40))
	}
	prop := &ical.Prop{Name: name, Params: ical.Params{}}
	s = s[i:]
	for len(s) > 0 && s[0] == ';' {
		s = s[1:]
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return nil, fmt.Errorf("parameter %q has no '='", clip(s, 40))
		}
		pname := strings.ToUpper(strings.TrimSpace(s[:eq]))
		if !isName(pname) {
			return nil, fmt.Errorf("%q is not a parameter name", clip(s[:eq], 40))
		}
		s = s[eq+1:]
		for {
			var v string
			if len(s) > 0 && s[0] == '"' {
				end := strings.IndexByte(s[1:], '"')
				if end < 0 {
					return nil, fmt.Errorf("parameter %s: unterminated quoted value", pname)
				}
				v, s = s[1:1+end], s[2+end:]
			} else {
				end := strings.IndexAny(s, ",;:")
				if end < 0 {
					return nil, fmt.Errorf("parameter %s: no ':' before the value", pname)
				}
				v, s = s[:end], s[end:]
				if strings.ContainsRune(v, '"') {
					return nil, fmt.Errorf("parameter %s: a quote inside an unquoted value", pname)
				}
			}
			prop.Params[pname] = append(prop.Params[pname], v)
			if len(s) == 0 || s[0] != ',' {
				break
			}
			s = s[1:]
		}
		if len(s) == 0 || (s[0] != ';' && s[0] != ':') {
			return nil, fmt.Errorf("parameter %s: want ';' or ':' after its value", pname)
		}
	}
	if len(s) == 0 || s[0] != ':' {
		return nil, fmt.Errorf("no ':' before the value of %s", name)
	}
	prop.Value = s[1:]
	return prop, nil
}

// isName reports whether s is an iana-token or x-name: letters, digits, '-'.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// clip shortens s to n bytes for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
