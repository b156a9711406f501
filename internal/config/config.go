// Package config reads a siaprapat program's configuration file: YAML whose
// keys are the names of the command's flags, with the same values the flags
// take, so that the flag table in the README is also the file's reference:
//
//	site: kalbar
//	interval: 60s
//	camera-device: [/dev/video0, /dev/video2]   # a repeatable flag: a list
//
// The file is strict: a key that is not a flag, a key given twice, a value
// of the wrong kind or one the flag refuses is an error naming the file, the
// line and the field. Precedence is the flags', then the environment's (for
// the flags that read a variable), then the file's, then the defaults.
//
// Both programs declare, for each command, its flags (built without
// parsing) and its Options, which name the environment variables of each
// flag and the secrets that are no flag, in one place; Resolve applies them
// after the command line is parsed, and Markdown writes the table of them
// that docs/flags.md is.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/siaprapat/siaprapat/internal/cli"
	"github.com/siaprapat/siaprapat/internal/yamlstrict"
)

// Options say how a command's flags meet its file.
type Options struct {
	// Command names the command in messages, e.g. "siaprapat-agent run".
	Command string
	// Skip names flags the file may not set (--config itself, --check-config).
	Skip []string
	// Others names keys the file may hold for another command that reads the
	// same file; they are accepted and left alone.
	Others []string
	// Env maps a flag, or a Secret's key, to the environment variables that
	// set it when the command line does not (the first one set, in order); a
	// variable that is set wins over the file.
	Env map[string][]string
	// Secrets are settings that are no flag, so that they never show on a
	// command line (ps): the environment or the file sets them.
	Secrets []Secret
}

// Secret is a setting that is no flag: its variables are Options.Env[Key].
type Secret struct {
	Key   string  // its key in the file
	Usage string  // what it is, for the docs
	Value *string // where it goes
}

func (o Options) secret(key string) *Secret {
	for i := range o.Secrets {
		if o.Secrets[i].Key == key {
			return &o.Secrets[i]
		}
	}
	return nil
}

// Check reports declarations that name no flag of fs: an environment
// variable for a key that is neither a flag nor a secret, a secret that is
// also a flag. It is a mistake in the program, not in its input.
func (o Options) Check(fs *flag.FlagSet) error {
	var errs []error
	for _, name := range sortedKeys(o.Env) {
		if fs.Lookup(name) == nil && o.secret(name) == nil {
			errs = append(errs, fmt.Errorf("%s: variables %s are declared for %q, which is neither a flag nor a secret", o.Command, strings.Join(o.Env[name], ", "), name))
		}
	}
	for _, s := range o.Secrets {
		if fs.Lookup(s.Key) != nil {
			errs = append(errs, fmt.Errorf("%s: secret %q is also a flag", o.Command, s.Key))
		}
	}
	return errors.Join(errs...)
}

// Resolve completes a parsed FlagSet, with precedence flag, then
// environment, then file, then default: each flag the command line did not
// set takes the value of the first of its environment variables that is set
// (not empty), else the file's at path (when path is not ""), else keeps its
// default. Secrets are set the same way. The File is nil when path is "".
func Resolve(fs *flag.FlagSet, path string, opts Options) (*File, error) {
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	var errs []error
	if err := opts.Check(fs); err != nil {
		return nil, err
	}
	for _, name := range sortedKeys(opts.Env) {
		v, variable := lookupEnv(opts.Env[name])
		if variable == "" {
			continue
		}
		if s := opts.secret(name); s != nil {
			*s.Value = v
			continue
		}
		f := fs.Lookup(name)
		if onCommandLine[name] {
			continue
		}
		if err := set(fs, f, []string{v}); err != nil {
			errs = append(errs, fmt.Errorf("%s (for --%s): %w", variable, name, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if path == "" {
		return nil, nil
	}
	return applyFile(fs, path, onCommandLine, opts)
}

// File is a configuration file that was applied: which flags it set, and
// on which line.
type File struct {
	Path   string
	lines  map[string]int    // flag name -> line of its key
	others map[string]string // Options.Others keys -> their (first) value
}

// A nil *File, Resolve's when there is no file, answers as an empty one.

// Other returns the value the file gives a key of Options.Others, or "".
func (f *File) Other(key string) string {
	if f == nil {
		return ""
	}
	return f.others[key]
}

// Settings is how many flags (and secrets) the file set.
func (f *File) Settings() int {
	if f == nil {
		return 0
	}
	return len(f.lines)
}

// Line returns the line that set a flag (or a secret), or 0 when the file
// did not set it.
func (f *File) Line(flagName string) int {
	if f == nil {
		return 0
	}
	return f.lines[flagName]
}

var flagRef = regexp.MustCompile(`--([a-z][a-z0-9-]*)`)

// Annotate adds to an error about flags where the file set them:
// "--interval 0s: must be positive" becomes "... (set in agent.yaml:4)".
// Errors about flags the file did not set are returned as they are.
func (f *File) Annotate(err error) error {
	if f == nil || err == nil {
		return err
	}
	var where []string
	seen := map[string]bool{}
	for _, m := range flagRef.FindAllStringSubmatch(err.Error(), -1) {
		if l := f.lines[m[1]]; l > 0 && !seen[m[1]] {
			seen[m[1]] = true
			where = append(where, fmt.Sprintf("%s:%d", f.Path, l))
		}
	}
	if len(where) == 0 {
		return err
	}
	return fmt.Errorf("%w (set in %s)", err, strings.Join(where, ", "))
}

func applyFile(fs *flag.FlagSet, path string, onCommandLine map[string]bool, opts Options) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the configuration: %w", err)
	}
	return applyBytes(fs, path, data, onCommandLine, opts)
}

// ApplyBytes sets each flag (and secret) of fs that a file's content names
// and that neither the command line (fs has been parsed) nor an environment
// variable set; name is used in messages. It is Resolve's file part, for a
// file that is not (yet) on disk.
func ApplyBytes(fs *flag.FlagSet, name string, data []byte, opts Options) (*File, error) {
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	return applyBytes(fs, name, data, onCommandLine, opts)
}

func applyBytes(fs *flag.FlagSet, name string, data []byte, onCommandLine map[string]bool, opts Options) (*File, error) {
	entries, err := decode(name, data)
	if err != nil {
		return nil, err
	}
	file := &File{Path: name, lines: map[string]int{}, others: map[string]string{}}
	first := map[string]int{}
	var errs []error
	for _, e := range entries {
		key, val := e.key, e.val
		bad := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf("%s:%d: field %s: %s", name, key.Line, key.Value, fmt.Sprintf(format, a...)))
		}
		if l, ok := first[key.Value]; ok {
			bad("given twice (first on line %d)", l)
			continue
		}
		first[key.Value] = key.Line
		if key.Kind != yaml.ScalarNode || key.Tag != "!!str" {
			errs = append(errs, fmt.Errorf("%s:%d: a key must be a flag name, not %q", name, key.Line, key.Value))
			continue
		}
		f := fs.Lookup(key.Value)
		secret := opts.secret(key.Value)
		switch {
		case f == nil && secret != nil:
			v, err := scalars(val, false)
			if err != nil {
				bad("%v", err)
			} else if !envSet(opts.Env[secret.Key]) {
				*secret.Value = v[0]
				file.lines[secret.Key] = key.Line
			}
			continue
		case slices.Contains(opts.Skip, key.Value):
			bad("set only on the command line")
			continue
		case f == nil && slices.Contains(opts.Others, key.Value):
			if v, err := scalars(val, true); err == nil && len(v) > 0 {
				file.others[key.Value] = v[0]
			}
			continue
		case f == nil:
			errs = append(errs, fmt.Errorf("%s:%d: unknown field %q: %s has no flag --%s", name, key.Line, key.Value, opts.Command, key.Value))
			continue
		}
		values, err := scalars(val, isList(f))
		if err != nil {
			bad("%v", err)
			continue
		}
		if onCommandLine[f.Name] || envSet(opts.Env[f.Name]) {
			continue // the command line, then the environment, win
		}
		if err := set(fs, f, values); err != nil {
			bad("%v", err)
			continue
		}
		file.lines[f.Name] = key.Line
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return file, nil
}

type entry struct{ key, val *yaml.Node }

// decode returns the top-level mapping's entries; a file of comments only is
// an empty configuration.
func decode(name string, data []byte) ([]entry, error) {
	if onlyComments(data) {
		return nil, nil
	}
	var doc yaml.Node
	if err := yamlstrict.Decode(name, data, &doc, nil); err != nil {
		return nil, err
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want flag names and their values (key: value), not a %s", name, root.Line, kindName(root))
	}
	var out []entry
	for i := 0; i+1 < len(root.Content); i += 2 {
		out = append(out, entry{root.Content[i], root.Content[i+1]})
	}
	return out, nil
}

func onlyComments(data []byte) bool {
	for _, l := range bytes.Split(data, []byte("\n")) {
		l = bytes.TrimSpace(l)
		if len(l) > 0 && l[0] != '#' && !bytes.Equal(l, []byte("---")) {
			return false
		}
	}
	return true
}

// scalars returns a value's text: one scalar, or for a repeatable flag a
// list of them (one scalar is a list of one).
func scalars(n *yaml.Node, list bool) ([]string, error) {
	switch {
	case n.Kind == yaml.AliasNode:
		return nil, errors.New("aliases are not supported here")
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return nil, errors.New("no value (remove the line, or comment it out, to keep the default)")
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}, nil
	case n.Kind == yaml.SequenceNode && list:
		var out []string
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
				return nil, fmt.Errorf("line %d: want a value in the list, not a %s", c.Line, kindName(c))
			}
			out = append(out, c.Value)
		}
		return out, nil
	case n.Kind == yaml.SequenceNode:
		return nil, errors.New("takes one value, not a list")
	}
	return nil, fmt.Errorf("want a value, not a %s", kindName(n))
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "value"
	}
	return "document"
}

func isList(f *flag.Flag) bool {
	_, ok := f.Value.(*cli.List)
	return ok
}

func envSet(vars []string) bool {
	_, variable := lookupEnv(vars)
	return variable != ""
}

// lookupEnv returns the value of the first variable that is set and not
// empty, and its name; "" when none is.
func lookupEnv(vars []string) (value, variable string) {
	for _, v := range vars {
		if s := os.Getenv(v); s != "" {
			return s, v
		}
	}
	return "", ""
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// set gives the flag its value(s), explaining a refusal by the flag's type.
// Through fs, so that fs.Visit counts the flag as given, as on the command
// line.
func set(fs *flag.FlagSet, f *flag.Flag, values []string) error {
	for _, v := range values {
		if err := fs.Set(f.Name, v); err != nil {
			return refusal(f, v, err)
		}
	}
	return nil
}

func refusal(f *flag.Flag, v string, err error) error {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return fmt.Errorf("%q: %v", v, err)
	}
	switch g.Get().(type) {
	case time.Duration:
		return fmt.Errorf("%q is not a duration (write e.g. 90s, 15m or 1h30m)", v)
	case bool:
		return fmt.Errorf("%q is not true or false", v)
	case int, int64, uint, uint64:
		return fmt.Errorf("%q is not a whole number", v)
	case float64:
		return fmt.Errorf("%q is not a number", v)
	}
	return fmt.Errorf("%q: %v", v, err)
}
