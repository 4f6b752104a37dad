package config

import (
	"errors"
	"os"
	"testing"
)

// checkParsed is what both fuzz targets require of any input: an error with
// a message, or a configuration whose programs validate and expand.
func checkParsed(t *testing.T, cfg *Config, err error) {
	if err != nil {
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("error %q is not a *config.Error", err)
		}
		return
	}
	for i := range cfg.Programs {
		p := &cfg.Programs[i]
		if err := p.Validate(); err != nil {
			t.Fatalf("parsed program does not validate: %v", err)
		}
		if n := len(p.Processes()); n != p.NumProcs {
			t.Fatalf("program %q: %d processes, want %d", p.Name, n, p.NumProcs)
		}
	}
}

func FuzzParseINI(f *testing.F) {
	for _, s := range []string{
		"[program:web]\ncommand = python3 -m http.server\n",
		"[program:w]\ncommand = sleep %(process_num)d\nnumprocs = 2\nprocess_name = %(program_name)s_%(process_num)02d\n",
		"[group:g]\nprograms = a\n[program:a]\ncommand = a ; comment\n  continued\n",
		"[supervisord]\nlogfile = %(here)s/x.log\n[unix_http_server]\nfile = /tmp/s\n",
		"[program:e]\ncommand = x\nenvironment = A=\"1,2\",B='x'\n",
	} {
		f.Add([]byte(s))
	}
	// Includes would read the real file system; the fuzzer sees none.
	noFiles := func(string) ([]string, error) { return nil, nil }
	noRead := func(string) ([]byte, error) { return nil, os.ErrNotExist }
	f.Fuzz(func(t *testing.T, data []byte) {
		ip := &iniParser{env: []string{"HOME=/root", "N=3"}, readFile: noRead, glob: noFiles}
		cfg, err := ip.parse("fuzz.conf", data)
		checkParsed(t, cfg, err)
	})
}

func FuzzParseTOML(f *testing.F) {
	for _, s := range []string{
		"[program.web]\ncommand = \"python3 -m http.server\"\n",
		"[daemon]\nsocket = \"x\"\n[program.w]\ncommand = [\"a\", \"b\"]\nnumprocs = 3\nbackoff = { initial = \"1s\" }\n",
		"[group.g]\nprograms = [\"a\"]\n[program.a]\ncommand = \"a\"\nstdout = { file = \"AUTO\", max_bytes = \"1MB\" }\n",
		"[program.x]\ncommand = \"x\"\nstop_signal = \"TERMX\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseTOML("fuzz.toml", data)
		checkParsed(t, cfg, err)
	})
}
