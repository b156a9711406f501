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
	// Title heads the command's table when it is not the FlagSet's name
	// (commands that share one FlagSet).
	Title string
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
		title := c.Title
		if title == "" {
			title = "`" + c.Flags.Name() + "`"
		}
		fmt.Fprintf(w, "### %s\n\n", title)
		n := 0
		c.Flags.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 && len(c.Secrets) == 0 {
			fmt.Fprint(w, "No flags.\n\n")
			continue
		}
		// row writes a setting; the file column is there for the commands
		// that read a configuration file.
		row := func(key, name, def, env, usage string) {
			file := ""
			switch {
			case !c.File:
			case slices.Contains(c.Skip, key):
				file = " no |"
			default:
				file = " yes |"
			}
			fmt.Fprintf(w, "| %s | %s | %s |%s %s |\n", name, def, env, file, cell(usage))
		}
		if c.File {
			fmt.Fprint(w, "| flag | default | environment | file | usage |\n|---|---|---|---|---|\n")
		} else {
			fmt.Fprint(w, "This command reads no configuration file.\n\n| flag | default | environment | usage |\n|---|---|---|---|\n")
		}
		c.Flags.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && !(isList(f) && f.DefValue == "[]") {
				def = code(f.DefValue)
			}
			row(f.Name, "`--"+f.Name+"`", def, vars(c.Env[f.Name]), usage(f))
		})
		for _, s := range c.Secrets {
			row(s.Key, "`"+s.Key+"` (no flag)", "", vars(c.Env[s.Key]), s.Usage)
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

// SetUsage makes fs's -h text name, after the flags, the environment
// variables that set them, as the docs' table does.
func SetUsage(fs *flag.FlagSet, opts Options) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage of %s:\n", fs.Name())
		fs.PrintDefaults()
		if len(opts.Env) == 0 {
			return
		}
		fmt.Fprint(w, "\nEnvironment (the flags win over it, it wins over the configuration file):\n")
		for _, key := range sortedKeys(opts.Env) {
			what := "--" + key
			if fs.Lookup(key) == nil {
				what = key + " (no flag)"
			}
			fmt.Fprintf(w, "  %s\n    \tsets %s\n", strings.Join(opts.Env[key], " or "), what)
		}
	}
}
