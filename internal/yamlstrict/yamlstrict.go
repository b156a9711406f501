// Package yamlstrict decodes siaprapat's YAML data files strictly: an
// unknown field is an error, and every error reads "FILE:LINE: message".
package yamlstrict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	lineField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)
	lineMsg   = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
)

// Decode decodes one YAML document into v, rejecting unknown fields.
// typeNames turns Go type names in messages into words ("standard.Rule" ->
// "a rule"); it may be nil.
func Decode(file string, data []byte, v any, typeNames map[string]string) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: the file is empty", file)
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			if m := lineField.FindStringSubmatch(e); m != nil {
				t := m[3]
				if n, ok := typeNames[t]; ok {
					t = n
				}
				msgs = append(msgs, fmt.Sprintf("%s:%s: unknown field %q in %s", file, m[1], m[2], t))
			} else if m := lineMsg.FindStringSubmatch(e); m != nil {
				msgs = append(msgs, fmt.Sprintf("%s:%s: %s", file, m[1], m[2]))
			} else {
				msgs = append(msgs, fmt.Sprintf("%s: %s", file, e))
			}
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	if m := lineMsg.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s:%s: %s", file, m[1], m[2])
	}
	return fmt.Errorf("%s: %v", file, err)
}
