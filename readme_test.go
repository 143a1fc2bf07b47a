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
