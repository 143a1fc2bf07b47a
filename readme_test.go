package membership_test

import (
	"os"
	"strings"
	"testing"
)

// README's quick start is examples/quickstart/main.go, to the byte: the
// file is compiled and run by its own test, so what README shows works
// when pasted.
func TestReadmeShowsTheQuickStart(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("examples/quickstart/main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## Quick start")
	if !ok {
		t.Fatal("README has no quick start section")
	}
	_, block, ok := strings.Cut(after, "```go\n")
	if !ok {
		t.Fatal("README's quick start has no Go block")
	}
	block, _, ok = strings.Cut(block, "```\n")
	if !ok {
		t.Fatal("README's quick start block is not closed")
	}
	if block != string(src) {
		t.Errorf("README's quick start differs from examples/quickstart/main.go; paste the file into README")
	}
}

// Every other Go block of README is a snippet that readme_snippets_test.go
// holds one tab deeper, in a function that gives it the names its text
// assumes, so each compiles with the package as shown: a block changed in
// one place and not the other, or a new block with no function, fails.
func TestReadmeGoBlocksCompile(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	snippets, err := os.ReadFile("readme_snippets_test.go")
	if err != nil {
		t.Fatal(err)
	}
	quick, err := os.ReadFile("examples/quickstart/main.go")
	if err != nil {
		t.Fatal(err)
	}
	rest, blocks := string(readme), 0
	for {
		var block string
		var ok bool
		if _, rest, ok = strings.Cut(rest, "```go\n"); !ok {
			break
		}
		if block, rest, ok = strings.Cut(rest, "```\n"); !ok {
			t.Fatal("a Go block of README is not closed")
		}
		blocks++
		if block == string(quick) {
			continue
		}
		var indented strings.Builder
		for _, line := range strings.SplitAfter(block, "\n") {
			if line != "\n" && line != "" {
				indented.WriteString("\t")
			}
			indented.WriteString(line)
		}
		if !strings.Contains(string(snippets), indented.String()) {
			first, _, _ := strings.Cut(block, "\n")
			t.Errorf("README's Go block %d (%q) is not in readme_snippets_test.go; paste it there, one tab deeper, in a function that compiles it", blocks, first)
		}
	}
	if blocks < 4 {
		t.Errorf("README has %d Go blocks, want at least 4 (the quick start and three snippets)", blocks)
	}
}
