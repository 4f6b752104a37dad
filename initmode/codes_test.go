package initmode

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"
)

func TestWaitCodeRules(t *testing.T) {
	for _, c := range []struct {
		name string
		ws   syscall.WaitStatus // as wait4 reports it
		code int
	}{
		{"exit 0", 0 << 8, 0},
		{"exit 5", 5 << 8, 5},
		{"exit 255", 255 << 8, 255},
		{"SIGKILL", syscall.WaitStatus(syscall.SIGKILL), 137},
		{"SIGTERM, core dumped", syscall.WaitStatus(syscall.SIGTERM) | 0x80, 143},
	} {
		if got := waitCode(c.ws); got != c.code {
			t.Errorf("%s: waitCode %d, want %d", c.name, got, c.code)
		}
	}
}

func TestLookPathCodes(t *testing.T) {
	for _, c := range []struct {
		name string
		code int // 0: found
	}{
		{"sh", 0},
		{"/bin/sh", 0},
		{"no-such-command-corral", 127},
		{"/nonexistent/command", 127},
		{"/etc/passwd", 126},
		{"/etc", 126},
	} {
		_, err := lookPath(c.name)
		got := 0
		if err != nil {
			got = execFailureCode(err)
		}
		if got != c.code {
			t.Errorf("lookPath(%q): %v, code %d, want %d", c.name, err, got, c.code)
		}
	}
	if execFailureCode(&fs.PathError{Err: syscall.ENOENT}) != 127 || execFailureCode(errors.New("exec format error")) != 126 {
		t.Error("execFailureCode: ENOENT must give 127, anything else 126")
	}
}
