package monitor

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeSnippetIsExample: the README's library snippet is the body of
// Example_readme, which compiles and runs, so the snippet does too.
func TestReadmeSnippetIsExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "The snippet below is `monitor.Example_readme`:\n\n```go\n")
	if !ok {
		t.Fatal("README: no snippet after the Example_readme line")
	}
	snippet, _, ok := strings.Cut(rest, "```\n")
	if !ok {
		t.Fatal("README: snippet not closed")
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "func Example_readme() {\n")
	if !ok {
		t.Fatal("example_test.go: no Example_readme")
	}
	var lines []string
	for _, l := range strings.SplitAfter(body, "\n") {
		if strings.HasPrefix(l, "\tinfo, _ := m.Process") {
			break
		}
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	if got := strings.Join(lines, ""); got != snippet {
		t.Errorf("README snippet differs from Example_readme:\nREADME:\n%s\nexample:\n%s", snippet, got)
	}
}
