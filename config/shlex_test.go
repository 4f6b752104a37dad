package config

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"unicode/utf8"
)

// pyShlexScript reads one JSON string a line and answers with the words
// Python's shlex.split gives, or its error.
const pyShlexScript = `
import json, shlex, sys
for line in sys.stdin:
    try:
        out = {"words": shlex.split(json.loads(line))}
    except ValueError as e:
        out = {"error": str(e)}
    print(json.dumps(out), flush=True)
`

// pyShlex is one python3 process answering shlex.split questions, shared
// by the tests of this package (starting Python per input would make the
// fuzzer crawl).
type pyShlex struct {
	mu  sync.Mutex
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startPyShlex(tb testing.TB) *pyShlex {
	tb.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		tb.Fatalf("python3 is needed to compare with shlex.split: %v", err)
	}
	cmd := exec.Command(py, "-c", pyShlexScript)
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		in.Close() // python ends at EOF
		cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	return &pyShlex{cmd: cmd, in: in, out: sc}
}

// split returns Python's words, or its error message.
func (p *pyShlex) split(tb testing.TB, s string) ([]string, string) {
	tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	q, _ := json.Marshal(s)
	if _, err := p.in.Write(append(q, '\n')); err != nil {
		tb.Fatalf("python3: %v", err)
	}
	if !p.out.Scan() {
		tb.Fatalf("python3 gave no answer for %q: %v", s, p.out.Err())
	}
	var r struct {
		Words []string `json:"words"`
		Error string   `json:"error"`
	}
	if err := json.Unmarshal(p.out.Bytes(), &r); err != nil {
		tb.Fatalf("python3 answer %q: %v", p.out.Bytes(), err)
	}
	return r.Words, r.Error
}

// shlexErrors maps Python's shlex errors to SplitCommand's.
var shlexErrors = map[string]error{
	"No closing quotation": ErrUnterminatedQuote,
	"No escaped character": ErrTrailingBackslash,
}

func checkSplitLikePython(t *testing.T, py *pyShlex, s string) {
	t.Helper()
	want, pyErr := py.split(t, s)
	got, err := SplitCommand(s)
	if pyErr != "" {
		wantErr, known := shlexErrors[pyErr]
		if !known {
			t.Fatalf("shlex.split(%q): unexpected Python error %q", s, pyErr)
		}
		if !errors.Is(err, wantErr) {
			t.Errorf("SplitCommand(%q) = %q, %v; shlex.split: %s", s, got, err, pyErr)
		}
		return
	}
	if err != nil || !slices.Equal(got, want) || (got == nil) != (len(want) == 0) {
		t.Errorf("SplitCommand(%q) = %q, %v; shlex.split = %q", s, got, err, want)
	}
}

// shlexCases are command lines where shells and splitters disagree.
var shlexCases = []string{
	`sleep 10`,
	"  a   b\tc \r\n d ",
	`echo "x\$HOME"`,
	`echo "a \"b\" \\ \n \t \a \` + "`" + `"`,
	`echo 'a \" b' 'it''s'`,
	`a\ b c\\d \'e\"`,
	"a\\\nb",
	"\"a\\\nb\"",
	`x "" '' ""''`,
	`pre'fix'"ed"post`,
	`echo $HOME * ~ # not a comment ; & | > <`,
	`sh -c 'echo hi; exit 1'`,
	`python3 -c "import sys; print(sys.argv)" "a b" 'c d'`,
	`héllo "wörld" 'ünïcode'`,
	`""`,
	``,
	`   `,
	`echo 'unterminated`,
	`echo "unterminated`,
	`echo "a\`,
	`echo \`,
	`echo "\\"`,
	`'\'`,
}

func TestSplitCommandMatchesPythonShlex(t *testing.T) {
	py := startPyShlex(t)
	for _, s := range shlexCases {
		checkSplitLikePython(t, py, s)
	}
}

// FuzzSplitCommand compares SplitCommand with Python's shlex.split on
// every input (valid UTF-8: Python works on text). Its seeds are
// shlexCases and testdata/fuzz/FuzzSplitCommand.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range shlexCases {
		f.Add(s)
	}
	py := startPyShlex(f)
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		checkSplitLikePython(t, py, s)
	})
}
