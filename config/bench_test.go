package config

import (
	"fmt"
	"strings"
	"testing"
)

// benchTOML is corralbench's configuration of n programs (logs on,
// restart always).
func benchTOML(n int) []byte {
	var b strings.Builder
	b.WriteString("[daemon]\nsocket = \"/tmp/x/corral.sock\"\nstate_dir = \"/tmp/x/state\"\nlog_dir = \"/tmp/x/logs\"\n\n")
	for i := range n {
		fmt.Fprintf(&b, "[program.p%05d]\ncommand = [\"/bin/sleep\", \"3600\"]\nrestart = \"always\"\nstdout = { file = \"AUTO\" }\nstderr = { redirect = true }\n\n", i)
	}
	return []byte(b.String())
}

// BenchmarkParseTOML1000 parses corralbench's configuration of 1,000
// programs: the part of a daemon's start before anything else
// (docs/BENCHMARKS.md).
func BenchmarkParseTOML1000(b *testing.B) {
	data := benchTOML(1000)
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := ParseTOML("corral.toml", data)
		if err != nil {
			b.Fatal(err)
		}
		if len(cfg.Programs) != 1000 {
			b.Fatalf("%d programs", len(cfg.Programs))
		}
	}
}
