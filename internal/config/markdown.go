package config

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Command is one command's configuration as its program declares it: its
// flags, built but not parsed, and how the environment and a file set them.
type Command struct {
	Flags *flag.FlagSet // named for the command, e.g. "siaprapat-agent run"
	// File says the command reads a configuration file (--config) whose
	// keys are these flags' names.
	File bool
	Options
}

// Markdown writes, for each command, a table of its flags and secrets:
// default, environment variables, whether the file may set it, usage.
func Markdown(w io.Writer, cmds []Command) error {
	for _, c := range cmds {
		if err := c.Options.Check(c.Flags); err != nil {
			return err
		}
		fmt.Fprintf(w, "### `%s`\n\n", c.Flags.Name())
		n := 0
		c.Flags.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 && len(c.Secrets) == 0 {
			fmt.Fprint(w, "No flags.\n\n")
			continue
		}
		fmt.Fprint(w, "| flag | default | environment | file | usage |\n|---|---|---|---|---|\n")
		fileCol := func(key string) string {
			switch {
			case !c.File:
				return ""
			case slices.Contains(c.Skip, key):
				return "no"
			}
			return "yes"
		}
		c.Flags.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && !(isList(f) && f.DefValue == "[]") {
				def = code(f.DefValue)
			}
			fmt.Fprintf(w, "| `--%s` | %s | %s | %s | %s |\n", f.Name, def, vars(c.Env[f.Name]), fileCol(f.Name), cell(usage(f)))
		})
		for _, s := range c.Secrets {
			fmt.Fprintf(w, "| `%s` (no flag) |  | %s | %s | %s |\n", s.Key, vars(c.Env[s.Key]), fileCol(s.Key), cell(s.Usage))
		}
		fmt.Fprintln(w)
	}
	return nil
}

// usage is the flag's usage text, with "(repeatable)" for a list.
func usage(f *flag.Flag) string {
	u := f.Usage
	if isList(f) && !strings.Contains(u, "repeatable") {
		u += " (repeatable)"
	}
	return u
}

func vars(vs []string) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = "`" + v + "`"
	}
	return strings.Join(out, ", ")
}

func code(s string) string {
	if strings.Contains(s, "`") {
		return cell(s)
	}
	return "`" + cell(s) + "`"
}

// cell escapes what would end a table cell or a line.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
