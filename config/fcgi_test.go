package config

import (
	"strings"
	"testing"
)

// [fcgi-program:x] is a program with a socket; supervisord's checks refuse
// a bad socket naming the file, line and key.
func TestFCGIProgram(t *testing.T) {
	cfg := mustINI(t, "[fcgi-program:app]\ncommand = app\nsocket = unix:///run/%(program_name)s.sock\nsocket_mode = 0660\nsocket_owner = www-data\nsocket_backlog = 16\nnumprocs = 2\nprocess_name = %(program_name)s_%(process_num)d\n")
	p := cfg.Programs[0]
	if s := p.Socket; s == nil || s.Network != "unix" || s.Address != "/run/app.sock" || s.Mode != 0o660 || s.Owner != "www-data" || s.Backlog != 16 {
		t.Errorf("Socket = %+v", p.Socket)
	}
	if p.Stdin != "" || p.NumProcs != 2 || len(cfg.Warnings) != 0 {
		t.Errorf("Stdin %q, NumProcs %d, warnings %q", p.Stdin, p.NumProcs, cfg.Warnings)
	}
	if s := mustINI(t, "[fcgi-program:app]\ncommand = app\nsocket = tcp://127.0.0.1:9000\n").Programs[0].Socket; s == nil || s.Network != "tcp" || s.Address != "127.0.0.1:9000" || s.Backlog != 0 {
		t.Errorf("tcp Socket = %+v", s)
	}
	if s := mustINI(t, "[fcgi-program:app]\ncommand = app\nuser = nobody\nsocket = unix:///run/a.sock\n").Programs[0].Socket; s.Owner != "nobody" || s.Mode != 0o700 {
		t.Errorf("a unix socket's owner defaults to the program's user, its mode to 0700: %+v", s)
	}
	for _, tc := range []struct{ src, want string }{
		{"command = app\n", `supervisord.conf:1: [fcgi-program:app]: section requires a "socket" line`},
		{"command = app\nsocket = unix://run/a.sock\n", `supervisord.conf:3: [fcgi-program:app]: key "socket": unix socket path run/a.sock is not an absolute path`},
		{"command = app\nsocket = tcp://127.0.0.1:9000\nsocket_mode = 0600\n", "socket_owner and socket_mode params should only be used with a Unix domain socket"},
		{"command = app\nsocket = tcp://nohost\n", "bad socket format tcp://nohost"},
		{"command = app\nsocket = /run/a.sock\n", "bad socket format /run/a.sock"},
		{"command = app\nsocket = unix:///a\nsocket_backlog = 0\n", `supervisord.conf:4: [fcgi-program:app]: key "socket_backlog": invalid socket_backlog value 0`},
		{"command = app\nsocket = unix:///a\nsocket_owner = a:\n", "invalid socket_owner value a:"},
	} {
		_, err := ParseINI("supervisord.conf", []byte("[fcgi-program:app]\n"+tc.src), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.src, err, tc.want)
		}
	}
	// The socket keys belong to [fcgi-program:x] only.
	if w := mustINI(t, "[program:a]\ncommand = a\nsocket = tcp://127.0.0.1:9000\n").Warnings; len(w) != 1 || !strings.Contains(w[0], `unknown key "socket"`) {
		t.Errorf("socket in [program:x]: warnings %q", w)
	}
}
