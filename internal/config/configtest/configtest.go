// Package configtest checks a program's configuration declarations: that
// every setting a variable or the file may set resolves with precedence
// flag, then environment, then file, then default.
package configtest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/siaprapat/siaprapat/internal/config"
)

type source struct{ flag, env, file bool }

type precedenceCase struct {
	name string
	set  source
	want string // "default": the flag's default
}

// Precedence runs, for every command of declare and every flag or secret
// that has environment variables, a table of which source wins. declare
// must build new, unparsed FlagSets at each call.
func Precedence(t *testing.T, declare func() []config.Command) {
	t.Helper()
	for i, c := range declare() {
		for _, key := range keys(c.Env) {
			vars := c.Env[key]
			isFlag := c.Flags.Lookup(key) != nil
			inFile := c.File && !slices.Contains(c.Skip, key)
			cases := []precedenceCase{
				{"default", source{}, "default"},
				{"environment over default", source{env: true}, "env:" + vars[0]},
			}
			if isFlag {
				cases = append(cases, precedenceCase{"flag over environment", source{flag: true, env: true}, "flag"})
			}
			if inFile {
				cases = append(cases,
					precedenceCase{"file over default", source{file: true}, "file"},
					precedenceCase{"environment over file", source{env: true, file: true}, "env:" + vars[0]})
			}
			if inFile && isFlag {
				cases = append(cases, precedenceCase{"flag over environment and file", source{flag: true, env: true, file: true}, "flag"})
			}
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s/%s/%s", c.Flags.Name(), key, tc.name), func(t *testing.T) {
					for _, v := range allVars(c.Env) {
						t.Setenv(v, "")
					}
					c := declare()[i]
					if tc.set.env {
						// Every variable of the setting is set: the first wins.
						for _, v := range vars {
							t.Setenv(v, "env:"+v)
						}
					}
					var args []string
					if tc.set.flag {
						args = []string{"--" + key, "flag"}
					}
					if err := c.Flags.Parse(args); err != nil {
						t.Fatal(err)
					}
					path := ""
					if c.File {
						path = filepath.Join(t.TempDir(), "config.yaml")
						content := "# nothing\n"
						if tc.set.file {
							content = key + ": file\n"
						}
						if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
							t.Fatal(err)
						}
					}
					if _, err := config.Resolve(c.Flags, path, c.Options); err != nil {
						t.Fatal(err)
					}
					if got := value(c, key); got != tc.want && (tc.want != "default" || got != defValue(c, key)) {
						t.Errorf("%s = %q, want %q", key, got, tc.want)
					}
				})
			}
		}
	}
}

func value(c config.Command, key string) string {
	if f := c.Flags.Lookup(key); f != nil {
		s := f.Value.String()
		if s == "[]" || s == "" {
			return ""
		}
		return s
	}
	for _, s := range c.Secrets {
		if s.Key == key {
			return *s.Value
		}
	}
	return "?"
}

func defValue(c config.Command, key string) string {
	if f := c.Flags.Lookup(key); f != nil && f.DefValue != "[]" {
		return f.DefValue
	}
	return ""
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func allVars(m map[string][]string) []string {
	var out []string
	for _, vs := range m {
		out = append(out, vs...)
	}
	return out
}
