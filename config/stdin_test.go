package config

import (
	"strings"
	"testing"
)

// stdin = "null" | "pipe" in TOML (default null); anything else is refused
// naming the file, line and key. A supervisord configuration's programs
// get a pipe, as supervisord gives them.
func TestStdinKey(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", ""},
		{`stdin = "null"`, StdinNull},
		{`stdin = "pipe"`, StdinPipe},
	} {
		cfg := mustTOML(t, "[program.a]\ncommand = [\"cat\"]\n"+tc.src+"\n")
		if got := cfg.Programs[0].Stdin; got != tc.want {
			t.Errorf("%q: Stdin = %q, want %q", tc.src, got, tc.want)
		}
	}
	_, err := ParseTOML("corral.toml", []byte("[program.a]\ncommand = [\"cat\"]\nstdin = \"tty\"\n"))
	if err == nil || !strings.Contains(err.Error(), "corral.toml:3") || !strings.Contains(err.Error(), `"stdin"`) || !strings.Contains(err.Error(), `"pipe"`) {
		t.Errorf("stdin = \"tty\": %v, want an error naming corral.toml:3, the key and the choices", err)
	}
	if got := mustINI(t, "[program:a]\ncommand = cat\n").Programs[0].Stdin; got != StdinPipe {
		t.Errorf("supervisord program: Stdin = %q, want %q", got, StdinPipe)
	}
}
