package config

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	gotoml "github.com/pelletier/go-toml/v2"
)

// tomlDocSeeds are documents that exercise the rules of decodeTOML: tables
// by header, dotted key and inline table, arrays of tables, every kind of
// value, and what TOML forbids.
var tomlDocSeeds = []string{
	"a = 1\nb = \"x\"\n[t]\nc = true\n",
	"[a.b.c]\nx = 1\n[a]\ny = 2\n",
	"[a]\nb.c = 1\nb.d = 2\n",
	"[a]\nb.c = 1\n[a.b]\nd = 2\n",
	"[a]\nb.c = 1\n[a.b.e]\nd = 2\n",
	"[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n",
	"[a.b]\nx = 1\n[a]\nb.y = 2\n",
	"[a]\n[a]\n",
	"a = 1\na = 2\n",
	"a = {b = 1}\n[a]\nc = 2\n",
	"a = {b = 1}\na.c = 2\n",
	"a = {b.c = 1, b.d = 2}\n",
	"a = {b.c = 1, b = 2}\n",
	"[[p]]\nx = 1\n[[p]]\nx = 2\n[p.q]\ny = 3\n",
	"[[p]]\n[p.q]\n[[p]]\n[p.q]\n",
	"p = []\n[[p]]\n",
	"[p]\n[[p]]\n",
	"[[p]]\n[p]\n",
	"a = [1, 2.5, \"s\", true, [3], {x = 4}]\n",
	"i = [0, -0, +17, 1_000, 0xDEAD_beef, 0o755, 0b1010, 9223372036854775807, -9223372036854775808]\n",
	"i = 9223372036854775808\n",
	"i = 0x8000000000000000\n",
	"f = [1.0, -2e10, 6.626e-34, 1_000.5, inf, -inf, +inf, nan, -nan, 1e400]\n",
	"f = 1e309\n",
	"d = [1979-05-27, 07:32:00, 07:32, 1979-05-27T07:32:00, 1979-05-27 07:32:00.999999, 1979-05-27T07:32:00Z, 1979-05-27t07:32:00-07:30]\n",
	"d = 1979-02-29\n",
	"d = 2000-02-29\n",
	"d = 1979-05-27T24:00:00\n",
	"d = 1979-05-27T07:32:00.1234567891234Z\n",
	"s = [\"tab\\tq\\\"\\u00e9\", 'lit\\', \"\"\"\nmulti\\\n  line\"\"\", '''raw\nraw''']\n",
	"\"quoted key\".'lit' = 1\n[\"a.b\"]\nc = 2\n",
	"[program.web]\ncommand = \"x\"\n[program.api]\ncommand = \"y\"\n[program.web.env]\nA = 1\n",
	"program.b.command = \"b\"\n[program.a]\ncommand = \"a\"\n",
	"[a\n",
	"a = \n",
	"a = 1 b = 2\n",
	"= 1\n",
}

func FuzzTOMLDocMatchesGoTOML(f *testing.F) {
	for _, s := range tomlDocSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstGoTOML(t, data)
	})
}

// TestTOMLDocMatchesGoTOML runs the seeds and the example configurations
// through decodeTOML and go-toml's decoder.
func TestTOMLDocMatchesGoTOML(t *testing.T) {
	for _, s := range tomlDocSeeds {
		checkAgainstGoTOML(t, []byte(s))
	}
	files, _ := filepath.Glob("../examples/*.toml")
	if len(files) == 0 {
		t.Fatal("no example configuration found in ../examples")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkAgainstGoTOML(t, b)
	}
}

// checkAgainstGoTOML fails t unless decodeTOML and go-toml's decoder both
// refuse data, or both read it to the same values.
func checkAgainstGoTOML(t *testing.T, data []byte) {
	t.Helper()
	doc, err := decodeTOML(data)
	var want map[string]any
	werr := gotoml.Unmarshal(data, &want)
	switch {
	case err != nil && werr != nil:
		return
	case err != nil:
		t.Fatalf("%q: decodeTOML: %v; go-toml reads it", data, err)
	case werr != nil:
		t.Fatalf("%q: decodeTOML reads it; go-toml: %v", data, werr)
	}
	if got, exp := canonical(doc.values()), canonical(want); !reflect.DeepEqual(got, exp) {
		t.Fatalf("%q:\ndecodeTOML %#v\ngo-toml    %#v", data, got, exp)
	}
}

// canonical rewrites a decoded value so that the two decoders' types
// compare: arrays as []any, dates and times as text, NaN as a string.
func canonical(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonical(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonical(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonical(e)
		}
		return out
	case float64:
		if math.IsNaN(x) {
			return "NaN"
		}
		return x
	case time.Time:
		return x.Format("2006-01-02 15:04:05.000000000 -07:00")
	case gotoml.LocalDate:
		return time.Date(x.Year, time.Month(x.Month), x.Day, 0, 0, 0, 0, time.UTC).Format("2006-01-02 15:04:05.000000000 -07:00")
	case gotoml.LocalTime:
		return time.Date(1, 1, 1, x.Hour, x.Minute, x.Second, x.Nanosecond, time.UTC).Format("2006-01-02 15:04:05.000000000 -07:00")
	case gotoml.LocalDateTime:
		return time.Date(x.Year, time.Month(x.Month), x.Day, x.Hour, x.Minute, x.Second, x.Nanosecond, time.UTC).Format("2006-01-02 15:04:05.000000000 -07:00")
	}
	return v
}

// TestTOMLDocKeepsOrderAndLines: the keys of each table come in the order
// they first appear, however they were defined, and each key path has the
// line of its first definition.
func TestTOMLDocKeepsOrderAndLines(t *testing.T) {
	data := strings.Join([]string{
		`[program.zeta]`,         // 1
		`command = "z"`,          // 2
		`program.alpha.cmd = 1`,  // 3: a dotted key at the top would be here, but
		`[program.mid]`,          // 4: this one is inside [program.zeta]
		`command = "m"`,          // 5
		`env = { A = 1, B = 2 }`, // 6
		`[group.g]`,              // 7
		`programs = ["zeta"]`,    // 8
		`[program.zeta.x]`,       // 9
	}, "\n")
	doc, err := decodeTOML([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := doc.keys("program"), []string{"zeta", "mid"}; !slices.Equal(got, want) {
		t.Errorf("program order %q, want %q", got, want)
	}
	if got, want := doc.keys(), []string{"program", "group"}; !slices.Equal(got, want) {
		t.Errorf("top-level order %q, want %q", got, want)
	}
	if got, want := doc.keys("program", "zeta"), []string{"command", "program", "x"}; !slices.Equal(got, want) {
		t.Errorf("program.zeta order %q, want %q", got, want)
	}
	for path, want := range map[string]int{
		"program":                             1,
		"program\x00zeta":                     1,
		"program\x00zeta\x00command":          2,
		"program\x00zeta\x00program\x00alpha": 3,
		"program\x00mid":                      4,
		"program\x00mid\x00env":               6,
		"group\x00g\x00programs":              8,
		"program\x00zeta\x00x":                9,
	} {
		if got := doc.line(strings.Split(path, "\x00")...); got != want {
			t.Errorf("line of %q = %d, want %d", strings.ReplaceAll(path, "\x00", "."), got, want)
		}
	}
	if doc.line("program", "mid", "env", "A") != 0 {
		t.Error("a key of an inline table has a line of its own")
	}
}

// TestTOMLDocErrorsNameTheLine: what TOML forbids is an error at the line
// of the key at fault.
func TestTOMLDocErrorsNameTheLine(t *testing.T) {
	for _, c := range []struct {
		data string
		line int
		msg  string
	}{
		{"[a]\nx = 1\n[a]\n", 3, "table a is defined twice"},
		{"a = 1\n\na = 2\n", 3, "key a is already defined"},
		{"[a]\nb.c = 1\n[a.b]\n", 3, "table a.b is already defined by a dotted key"},
		{"a = {b = 1}\n[a]\n", 2, "key a already has a value that is not a table"},
		{"p = []\n[[p]]\n", 2, "key p is already defined, and not as an array of tables"},
		{"i = 1\nj = 0x8000000000000000\n", 2, "integer 0x8000000000000000 is out of range"},
		{"d = 1979-02-29\n", 1, "impossible date 1979-02-29"},
		{"x = 1\n[\"a.b\"\n", 2, "expected ']'"},
	} {
		_, err := decodeTOML([]byte(c.data))
		te, ok := err.(*tomlError)
		if !ok {
			t.Errorf("%q: error %v (%T), want a tomlError", c.data, err, err)
			continue
		}
		if te.line != c.line || !strings.Contains(te.msg, c.msg) {
			t.Errorf("%q: line %d %q, want line %d with %q", c.data, te.line, te.msg, c.line, c.msg)
		}
	}
}

// BenchmarkDecodeTOML1000 reads a configuration of 1,000 programs, as
// corralbench writes it.
func BenchmarkDecodeTOML1000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[daemon]\nsocket = \"/run/corral.sock\"\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, "\n[program.p%05d]\ncommand = [\"/bin/sleep\", \"86400\"]\nrestart = \"always\"\nstdout = { file = \"AUTO\" }\nstderr = { redirect = true }\n", i)
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := decodeTOML(data); err != nil {
			b.Fatal(err)
		}
	}
}
