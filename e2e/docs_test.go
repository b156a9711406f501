package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A snippet in the docs that is a file of its own is marked, on the line
// before its fence, with <!-- file: PATH --> (PATH from the checkout's
// root); the block must then be that file, byte for byte. A YAML block
// quoting part of a file is marked <!-- excerpt: PATH -->.
const (
	fileMark    = "<!-- file: "
	excerptMark = "<!-- excerpt: "
)

// snippet is a fenced block of a Markdown file.
type snippet struct {
	doc  string // the Markdown file, from the checkout's root
	line int    // of the opening fence
	lang string // after the fence: yaml, sh, ...
	mark string // the line before the fence
	text string
}

// docSnippets reads every fenced block of README.md and docs/*.md.
func docSnippets(t *testing.T) []snippet {
	t.Helper()
	docs, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, "../README.md")
	var out []snippet
	for _, doc := range docs {
		f, err := os.Open(doc)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		var prev string
		var cur *snippet
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			switch {
			case cur == nil && strings.HasPrefix(line, "```"):
				cur = &snippet{doc: strings.TrimPrefix(doc, "../"), line: n, lang: strings.TrimPrefix(line, "```"), mark: prev}
			case cur != nil && line == "```":
				out = append(out, *cur)
				cur = nil
			case cur != nil:
				cur.text += line + "\n"
			}
			prev = line
		}
		f.Close()
		if cur != nil {
			t.Errorf("%s:%d: a fenced block that never ends", cur.doc, cur.line)
		}
	}
	return out
}

// markedPath is the PATH of a <!-- file: PATH --> or <!-- excerpt: PATH -->
// line, from the checkout's root.
func markedPath(mark, prefix string) (string, bool) {
	if !strings.HasPrefix(mark, prefix) || !strings.HasSuffix(mark, " -->") {
		return "", false
	}
	return strings.TrimSuffix(strings.TrimPrefix(mark, prefix), " -->"), true
}

// TestDocs_SnippetsAreTheExampleFiles keeps the docs' copies of the example
// files equal to the files the other tests run (a drift in either fails
// here), and every YAML sample in the docs one of those files or a part of
// one.
func TestDocs_SnippetsAreTheExampleFiles(t *testing.T) {
	quoted := map[string]bool{}
	for _, s := range docSnippets(t) {
		if path, ok := markedPath(s.mark, fileMark); ok {
			data, err := os.ReadFile(filepath.Join("..", path))
			if err != nil {
				t.Errorf("%s:%d: %v", s.doc, s.line, err)
				continue
			}
			if string(data) != s.text {
				t.Errorf("%s:%d: the block is not %s as it is: copy the file into the block again", s.doc, s.line, path)
			}
			quoted[path] = true
			continue
		}
		if path, ok := markedPath(s.mark, excerptMark); ok {
			data, err := os.ReadFile(filepath.Join("..", path))
			if err != nil {
				t.Errorf("%s:%d: %v", s.doc, s.line, err)
			} else if !strings.Contains(string(data), s.text) {
				t.Errorf("%s:%d: the block is no longer a part of %s", s.doc, s.line, path)
			}
			continue
		}
		if s.lang == "yaml" {
			t.Errorf("%s:%d: a YAML sample that is not a tested file: put it under docs/examples/ and mark the block %sPATH -->", s.doc, s.line, fileMark)
		}
	}
	// And each example file is in the docs.
	examples, err := exampleFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range examples {
		if !quoted[path] && !strings.HasSuffix(path, ".py") {
			t.Errorf("%s is in no doc: quote it (a block marked %s%s -->) or remove it", path, fileMark, path)
		}
	}
}

// exampleFiles lists docs/examples/, from the checkout's root.
func exampleFiles() ([]string, error) {
	var out []string
	err := filepath.WalkDir("../docs/examples", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, strings.TrimPrefix(path, "../"))
		}
		return err
	})
	return out, err
}

// TestDocs_YAMLSamplesPassCheckConfig runs each YAML sample of the docs and
// the packages through the programs' --check-config, as the docs say to
// use it: a key, a value or a file that drifted from the code fails here.
func TestDocs_YAMLSamplesPassCheckConfig(t *testing.T) {
	agent, ctl := binaries(t)
	// How each file is used. A new YAML file under docs/examples/ or
	// packaging/etc/ must be added here.
	uses := map[string]func(t *testing.T, file string) (string, []string){
		"docs/examples/agent-mosquitto.yaml": func(_ *testing.T, f string) (string, []string) {
			return agent, []string{"run", "--config", f, "--check-config"}
		},
		"docs/examples/controller-mosquitto.yaml": func(_ *testing.T, f string) (string, []string) {
			return ctl, []string{"serve", "--config", f, "--check-config"}
		},
		// Its calendar_auth names a password file beside it, which must
		// exist and be readable by its owner only: a copy with one.
		"docs/examples/rooms.yaml": func(t *testing.T, f string) (string, []string) {
			dir := t.TempDir()
			copyFile(t, f, filepath.Join(dir, "rooms.yaml"), 0o644)
			if err := os.WriteFile(filepath.Join(dir, "pontianak-r1.pw"), []byte("secret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return ctl, []string{"serve", "--rooms", filepath.Join(dir, "rooms.yaml"), "--check-config"}
		},
		"docs/examples/walkthrough/rooms.yaml": func(_ *testing.T, f string) (string, []string) {
			return ctl, []string{"serve", "--rooms", f, "--check-config"}
		},
		"packaging/etc/controller.yaml": func(_ *testing.T, f string) (string, []string) {
			return ctl, []string{"serve", "--config", f, "--check-config"}
		},
		// As enrolment leaves it: the room named.
		"packaging/etc/agent.yaml": func(_ *testing.T, f string) (string, []string) {
			return agent, []string{"run", "--config", f, "--site", "kalbar", "--room", "pontianak-r1", "--check-config"}
		},
	}
	files, err := exampleFiles()
	if err != nil {
		t.Fatal(err)
	}
	packaged, _ := filepath.Glob("../packaging/etc/*.yaml")
	for _, p := range packaged {
		files = append(files, strings.TrimPrefix(p, "../"))
	}
	var yamls []string
	for _, f := range files {
		if strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml") {
			yamls = append(yamls, f)
		}
	}
	for f := range uses {
		if !slices.Contains(yamls, f) {
			t.Errorf("%s is gone: remove it from this test", f)
		}
	}
	for _, f := range yamls {
		t.Run(f, func(t *testing.T) {
			use, ok := uses[f]
			if !ok {
				t.Fatalf("%s: a YAML sample this test does not check: add how it is used to the test", f)
			}
			bin, args := use(t, filepath.Join("..", f))
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
			}
			if !strings.Contains(string(out), "configuration ok") {
				t.Errorf("%s %s said:\n%s", filepath.Base(bin), strings.Join(args, " "), out)
			}
		})
	}
}

// generatedDocs are made by go generate from the code; until they exist a
// link to them is only logged.
var generatedDocs = []string{"docs/flags.md", "docs/metrics.md"}

// TestDocs_LinksResolve follows every relative link of README.md,
// dashboards/README.md and docs/*.md: the file must exist and, for a
// Markdown file, the #anchor must be one of its headings (as GitHub makes
// them), so a moved or renamed section breaks here, not for a reader.
func TestDocs_LinksResolve(t *testing.T) {
	docs, _ := filepath.Glob("../docs/*.md")
	docs = append(docs, "../README.md", "../dashboards/README.md")
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	fence := regexp.MustCompile("(?s)```.*?```")
	for _, doc := range docs {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		text := fence.ReplaceAllString(string(data), "")
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			file := doc
			if path != "" {
				file = filepath.Join(filepath.Dir(doc), path)
			}
			name := strings.TrimPrefix(doc, "../")
			if _, err := os.Stat(file); err != nil {
				if rel, _ := filepath.Rel("..", file); slices.Contains(generatedDocs, rel) {
					t.Logf("%s: %s is not generated yet", name, rel)
					continue
				}
				t.Errorf("%s: link %s: %v", name, target, err)
				continue
			}
			if anchor != "" && strings.HasSuffix(file, ".md") && !slices.Contains(headingAnchors(t, file), anchor) {
				t.Errorf("%s: link %s: no such heading in %s", name, target, filepath.Base(file))
			}
		}
	}
}

// headingAnchors are the anchors GitHub gives a Markdown file's headings:
// lower case, punctuation dropped, spaces as hyphens.
func headingAnchors(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^\p{L}\p{N}\- _]`)
	text := regexp.MustCompile("(?s)```.*?```").ReplaceAllString(string(data), "")
	var out []string
	for _, line := range strings.Split(text, "\n") {
		h := strings.TrimLeft(line, "#")
		if h == line || !strings.HasPrefix(h, " ") {
			continue
		}
		a := strings.ToLower(strings.TrimSpace(h))
		a = drop.ReplaceAllString(a, "")
		out = append(out, strings.ReplaceAll(a, " ", "-"))
	}
	return out
}

// TestDocs_READMEIsAFrontDoor keeps README.md short enough to read first:
// what siaprapat is, the two commands, the walkthrough and the links; the
// rest belongs in docs/.
func TestDocs_READMEIsAFrontDoor(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n > 300 {
		t.Errorf("README.md has %d lines, over 300: move the detail into docs/ and link to it", n)
	}
}
