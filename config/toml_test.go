package config

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func mustTOML(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := ParseTOML("corral.toml", []byte(src))
	if err != nil {
		t.Fatalf("ParseTOML: %v", err)
	}
	return cfg
}

func TestTOMLDefaults(t *testing.T) {
	cfg := mustTOML(t, "[program.web]\ncommand = \"python3 -m http.server 8080\"\n")
	want := Program{
		Name:         "web",
		Command:      []string{"python3", "-m", "http.server", "8080"},
		ProcessName:  "web",
		NumProcs:     1,
		Autostart:    true,
		Restart:      RestartOnFailure,
		ExitCodes:    []int{0},
		StartPeriod:  time.Second,
		StartRetries: 3,
		Backoff:      Backoff{Initial: 100 * time.Millisecond, Max: time.Minute, Factor: 2, ResetAfter: 10 * time.Second},
		StopSignal:   syscall.SIGTERM,
		StopTimeout:  10 * time.Second,
		StopAsGroup:  true,
		KillAsGroup:  true,
		Priority:     999,
		Stdout:       LogSpec{File: "AUTO", MaxBytes: 50 << 20, Backups: 10},
		Stderr:       LogSpec{File: "AUTO", MaxBytes: 50 << 20, Backups: 10},
		Group:        "web",
		Source:       Position{"corral.toml", 1},
	}
	if len(cfg.Programs) != 1 || !reflect.DeepEqual(cfg.Programs[0], want) {
		t.Errorf("got\n%+v\nwant\n%+v", cfg.Programs, want)
	}
	def := DefaultDaemon()
	abs, _ := filepath.Abs("corral.toml")
	def.StateDir, def.SharedStateDir = KeyedStateDir(def.StateDir, abs), def.StateDir
	if !reflect.DeepEqual(cfg.Daemon, def) {
		t.Errorf("daemon = %+v, want the defaults %+v", cfg.Daemon, def)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
}

func TestDefaultDaemon(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	root := defaultDaemon(0, env(nil))
	if root.Socket != "/run/corral/corral.sock" || root.StateDir != "/var/lib/corral" || root.LogDir != "/var/log/corral" {
		t.Errorf("root defaults = %+v", root)
	}
	user := defaultDaemon(1000, env(map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000", "XDG_STATE_HOME": "/home/u/.state"}))
	if user.Socket != "/run/user/1000/corral.sock" || user.StateDir != "/home/u/.state/corral" || user.LogDir != "/home/u/.state/corral/log" {
		t.Errorf("user defaults = %+v", user)
	}
	home := defaultDaemon(1000, env(map[string]string{"HOME": "/home/u"}))
	if home.StateDir != "/home/u/.local/state/corral" || !strings.HasSuffix(home.Socket, "corral-1000/corral.sock") {
		t.Errorf("defaults without XDG = %+v", home)
	}
}

func TestTOMLKeys(t *testing.T) {
	u := uint32(0o27)
	tests := []struct {
		name string
		src  string // lines of [program.p], after command
		want func(p *Program)
	}{
		{"command array", `command = ["sh", "-c", "echo a b"]`, func(p *Program) { p.Command = []string{"sh", "-c", "echo a b"} }},
		{"process name", "numprocs = 3\nnumprocs_start = 1\nprocess_name = \"p_%(process_num)02d\"", func(p *Program) {
			p.NumProcs, p.NumProcsStart, p.ProcessName = 3, 1, "p_%(process_num)02d"
		}},
		{"numprocs default name", "numprocs = 2", func(p *Program) { p.NumProcs, p.ProcessName = 2, "%(process_num)d" }},
		{"directory", `directory = "/srv"`, func(p *Program) { p.Directory = "/srv" }},
		{"environment", `environment = { PORT = "8080", B = 1, A = true }`, func(p *Program) { p.Environment = []string{"A=true", "B=1", "PORT=8080"} }},
		{"user", `user = "www-data"`, func(p *Program) { p.User = "www-data" }},
		{"umask string", `umask = "027"`, func(p *Program) { p.Umask = &u }},
		{"umask int", `umask = 0o027`, func(p *Program) { p.Umask = &u }},
		{"autostart", `autostart = false`, func(p *Program) { p.Autostart = false }},
		{"restart always", `restart = "always"`, func(p *Program) { p.Restart = RestartAlways }},
		{"restart on-failure:N", `restart = "on-failure:4"`, func(p *Program) { p.Restart, p.RestartLimit = RestartOnFailure, 4 }},
		{"restart unless-stopped", `restart = "unless-stopped"`, func(p *Program) { p.Restart = RestartUnlessStopped }},
		{"restart unexpected", `restart = "unexpected"`, func(p *Program) { p.Restart = RestartUnexpected }},
		{"restart no", `restart = "no"`, func(p *Program) { p.Restart = RestartNo }},
		{"exit codes", `exit_codes = [0, 2]`, func(p *Program) { p.ExitCodes = []int{0, 2} }},
		{"start secs string", `start_secs = "5s"`, func(p *Program) { p.StartPeriod = 5 * time.Second }},
		{"start secs int", `start_secs = 0`, func(p *Program) { p.StartPeriod = 0 }},
		{"start retries", `start_retries = 7`, func(p *Program) { p.StartRetries = 7 }},
		{"backoff", `backoff = { initial = "1s", max = "30s", factor = 1.5, reset_after = "1m" }`, func(p *Program) {
			p.Backoff = Backoff{time.Second, 30 * time.Second, 1.5, time.Minute}
		}},
		{"backoff integer factor", `backoff = { factor = 3 }`, func(p *Program) { p.Backoff.Factor = 3 }},
		// 0 restarts at once, as supervisord does.
		{"backoff initial 0s", `backoff = { initial = "0s" }`, func(p *Program) { p.Backoff.Initial = 0 }},
		{"backoff initial 0", `backoff = { initial = 0, max = 0 }`, func(p *Program) { p.Backoff.Initial, p.Backoff.Max = 0, 0 }},
		{"fatal retry", `fatal_retry = "30s"`, func(p *Program) { p.FatalRetry = 30 * time.Second }},
		{"stop signal name", `stop_signal = "SIGINT"`, func(p *Program) { p.StopSignal = syscall.SIGINT }},
		{"stop signal number", `stop_signal = 1`, func(p *Program) { p.StopSignal = syscall.SIGHUP }},
		{"stop timeout", `stop_timeout = "3s"`, func(p *Program) { p.StopTimeout = 3 * time.Second }},
		{"groups off", "stop_as_group = false\nkill_as_group = false", func(p *Program) { p.StopAsGroup, p.KillAsGroup = false, false }},
		{"priority", `priority = -5`, func(p *Program) { p.Priority = -5 }},
		{"stdout", `stdout = { file = "/var/log/p.log", max_bytes = "1KB", backups = 2 }`, func(p *Program) {
			p.Stdout = LogSpec{File: "/var/log/p.log", MaxBytes: 1024, Backups: 2}
		}},
		{"stdout relative", `stdout = { file = "logs/p.log", max_bytes = 0 }`, func(p *Program) { p.Stdout.File, p.Stdout.MaxBytes = "conf/logs/p.log", 0 }},
		{"stdout none", `stdout = { file = "NONE" }`, func(p *Program) { p.Stdout.File = "" }},
		{"stderr redirect", `stderr = { redirect = true }`, func(p *Program) { p.Stderr.Redirect = true }},
		{"dotted keys", "stderr.file = \"\"\nbackoff.max = \"2m\"", func(p *Program) { p.Stderr.File, p.Backoff.Max = "", 2*time.Minute }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "[program.p]\ncommand = \"run\"\n" + tt.src + "\n"
			if strings.HasPrefix(tt.src, "command") {
				src = "[program.p]\n" + tt.src + "\n"
			}
			cfg, err := ParseTOML("conf/corral.toml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			want := NewProgram("p")
			want.Command = []string{"run"}
			want.Source = Position{"conf/corral.toml", 1}
			want.ProcessName = "p"
			tt.want(&want)
			if !reflect.DeepEqual(cfg.Programs[0], want) {
				t.Errorf("got\n%+v\nwant\n%+v", cfg.Programs[0], want)
			}
		})
	}
}

func TestTOMLDaemonAndGroups(t *testing.T) {
	cfg := mustTOML(t, `
[daemon]
socket = "run/c.sock"
socket_mode = "0660"
socket_group = "corral"
state_dir = "/tmp/s"
log_dir = "/tmp/l"
logfile = "/tmp/d.log"
pidfile = "/tmp/d.pid"
log_level = "warning"
environment = { TZ = "UTC" }
min_fds = 1024
min_procs = 200

[group.site]
programs = ["a", "b"]
priority = 5

[program.a]
command = "a"
[program.b]
command = "b"
numprocs = 2
[program.c]
command = "c"
`)
	d := cfg.Daemon
	if d.Socket != "run/c.sock" || d.SocketMode != 0o660 || d.SocketGroup != "corral" || d.StateDir != "/tmp/s" || d.LogDir != "/tmp/l" ||
		d.Logfile != "/tmp/d.log" || d.Pidfile != "/tmp/d.pid" || d.LogLevel != "warn" || !slices.Equal(d.Environment, []string{"TZ=UTC"}) ||
		d.MinFDs != 1024 || d.MinProcs != 200 {
		t.Errorf("daemon = %+v", d)
	}
	if len(cfg.Groups) != 1 || cfg.Groups[0].Name != "site" || cfg.Groups[0].Priority != 5 || !slices.Equal(cfg.Groups[0].Programs, []string{"a", "b"}) || cfg.Groups[0].Source.Line != 15 {
		t.Errorf("groups = %+v", cfg.Groups)
	}
	var names []string
	for _, p := range cfg.Programs {
		for _, pr := range p.Processes() {
			names = append(names, pr.FullName())
		}
	}
	if want := []string{"site:a", "site:b_0", "site:b_1", "c"}; !slices.Equal(names, want) {
		t.Errorf("process names = %q, want %q", names, want)
	}
	if got := cfg.Program("b").Source.Line; got != 21 {
		t.Errorf("program b line = %d, want 21", got)
	}
}

// TestTOMLErrors checks that every kind of bad value names file, line and key.
func TestTOMLErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // the whole message
	}{
		{"syntax", "[program.web\ncommand = 1", "corral.toml:1: expected ']' to close table name"},
		{"unknown top-level", "[program.web]\ncommand = \"x\"\n[deamon]\nsocket = \"x\"", `corral.toml:3: key "deamon": unknown section or key "deamon" (want daemon, program or group)`},
		{"unknown program key", "[program.web]\ncommand = \"x\"\nautorestart = true", `corral.toml:3: program "web": key "autorestart": unknown key`},
		{"bad signal", "[program.web]\ncommand = \"x\"\n\nstop_signal = \"TERMX\"", `corral.toml:4: program "web": key "stop_signal": unknown signal "TERMX"`},
		{"bad signal type", "[program.web]\ncommand = \"x\"\nstop_signal = true", `corral.toml:3: program "web": key "stop_signal": must be a signal such as "TERM", not a boolean`},
		{"bad duration", "[program.web]\ncommand = \"x\"\nstop_timeout = \"10 sec\"", `corral.toml:3: program "web": key "stop_timeout": invalid duration "10 sec" (want e.g. "10s", "100ms" or a number of seconds)`},
		{"negative duration", "[program.web]\ncommand = \"x\"\nstart_secs = -1", `corral.toml:3: program "web": key "start_secs": invalid duration "-1" (must be >= 0 and not absurdly large)`},
		{"bad size", "[program.web]\ncommand = \"x\"\nstdout = { max_bytes = \"50XB\" }", `corral.toml:3: program "web": key "stdout.max_bytes": invalid size "50XB"`},
		{"bad size multiline", "[program.web]\ncommand = \"x\"\n[program.web.stdout]\nfile = \"AUTO\"\nmax_bytes = \"lots\"", `corral.toml:5: program "web": key "stdout.max_bytes": invalid size`},
		{"wrong type", "[program.web]\ncommand = \"x\"\nautostart = \"yes\"", `corral.toml:3: program "web": key "autostart": must be true or false, not a string`},
		{"wrong type int", "[program.web]\ncommand = \"x\"\nnumprocs = \"2\"", `corral.toml:3: program "web": key "numprocs": must be an integer, not a string`},
		{"numprocs zero", "[program.web]\ncommand = \"x\"\nnumprocs = 0", `corral.toml:3: program "web": key "numprocs": 0 is out of range`},
		{"bad restart", "[program.web]\ncommand = \"x\"\nrestart = \"sometimes\"", `corral.toml:3: program "web": key "restart": invalid restart policy "sometimes"`},
		{"bad exit code", "[program.web]\ncommand = \"x\"\nexit_codes = [0, 256]", `corral.toml:3: program "web": key "exit_codes": exit code 256 is not between 0 and 255`},
		{"bad umask", "[program.web]\ncommand = \"x\"\numask = \"099\"", `corral.toml:3: program "web": key "umask": invalid umask "099"`},
		{"unknown backoff key", "[program.web]\ncommand = \"x\"\nbackoff = { intial = \"1s\" }", `corral.toml:3: program "web": key "backoff.intial": unknown key`},
		{"backoff factor", "[program.web]\ncommand = \"x\"\nbackoff = { factor = 0.5 }", `corral.toml:3: program "web": key "backoff.factor": factor 0.5 must be between 1 and 1000`},
		{"backoff max below initial", "[program.web]\ncommand = \"x\"\nbackoff = { initial = \"2m\" }", `corral.toml:3: program "web": key "backoff": need 0 <= initial <= max`},
		{"stdout redirect", "[program.web]\ncommand = \"x\"\nstdout = { redirect = true }", `corral.toml:3: program "web": key "stdout.redirect": redirect is only valid for stderr`},
		{"no command", "[program.web]\nuser = \"x\"", `corral.toml:1: program "web": key "command": program has no command`},
		{"empty command", "[program.web]\ncommand = \"  \"", `corral.toml:2: program "web": key "command": program has no command`},
		{"unterminated quote", "[program.web]\ncommand = \"sh -c 'x\"", `corral.toml:2: program "web": key "command": no closing quotation`},
		{"process_name without num", "[program.web]\ncommand = \"x\"\nnumprocs = 2\nprocess_name = \"w\"", `corral.toml:4: program "web": key "process_name": "w" must include %(process_num)d when numprocs > 1`},
		{"bad program name", "[program.\"a b\"]\ncommand = \"x\"", `corral.toml:1: program "a b": invalid name "a b": it contains ' '`},
		{"program not a table", "[program]\nweb = 1", `corral.toml:2: program "web": key "web": must be a table, not an integer`},
		{"daemon unknown key", "[daemon]\nsocket_path = \"x\"", `corral.toml:2: daemon: key "socket_path": unknown key`},
		{"daemon bad mode", "[daemon]\nsocket_mode = \"rw\"", `corral.toml:2: daemon: key "socket_mode": invalid mode "rw"`},
		{"daemon bad level", "[daemon]\nlog_level = \"loud\"", `corral.toml:2: daemon: key "log_level": invalid log level "loud"`},
		{"env bad value", "[program.web]\ncommand = \"x\"\nenvironment = { A = [1] }", `corral.toml:3: program "web": key "environment.A": must be a string, not an array`},
		{"stop group without kill group", "[program.web]\ncommand = \"x\"\nkill_as_group = false", `corral.toml:3: program "web": key "kill_as_group": cannot stop the process group but kill only its leader`},
		{"group unknown program", "[group.g]\nprograms = [\"nope\"]", `corral.toml:1: group "g": key "programs": no program named "nope"`},
		{"group bad key", "[group.g]\nprogram = [\"nope\"]", `corral.toml:2: group "g": key "program": unknown key`},
		{"program in two groups", "[group.g]\nprograms = [\"a\"]\n[group.h]\nprograms = [\"a\"]\n[program.a]\ncommand = \"x\"", `corral.toml:3: group "h": key "programs": program "a" is already in group "g"`},
		{"duplicate process names", "[group.g]\nprograms = [\"a\", \"b\"]\n[program.a]\ncommand = \"x\"\nprocess_name = \"b\"\n[program.b]\ncommand = \"x\"", `corral.toml:6: program "b": key "process_name": process "g:b" is also a process of program "a"`},
		{"group named like program", "[group.a]\nprograms = [\"b\"]\n[program.a]\ncommand = \"x\"\n[program.b]\ncommand = \"x\"", `corral.toml:3: program "a": a group is also named "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTOML("corral.toml", []byte(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error\n%s\nwant it to start with\n%s", err, tt.want)
			}
		})
	}
}

func TestSocketCredentialsSameFromTOMLAndINI(t *testing.T) {
	toml := mustTOML(t, "[daemon]\nusername = \"admin\"\npassword = \"{SHA}abc\"\n")
	ini := mustINI(t, "[unix_http_server]\nfile = /tmp/s.sock\nusername = admin\npassword = {SHA}abc\n")
	for name, d := range map[string]Daemon{"toml": toml.Daemon, "ini": ini.Daemon} {
		if d.Username != "admin" || d.Password != "{SHA}abc" {
			t.Errorf("%s: credentials %q %q, want admin {SHA}abc", name, d.Username, d.Password)
		}
	}
	for _, src := range []string{"[daemon]\nusername = \"admin\"\n", "[daemon]\npassword = \"pw\"\n"} {
		_, err := ParseTOML("corral.toml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), "corral.toml") || !strings.Contains(err.Error(), "username and password go together") {
			t.Errorf("%q: error %v, want one naming the file and the missing key", src, err)
		}
	}
	// The same in supervisord.conf: a username alone would check an empty
	// password, a password alone would let anyone in.
	for src, key := range map[string]string{
		"[unix_http_server]\nfile = /tmp/s.sock\nusername = admin\n": "password",
		"[unix_http_server]\nfile = /tmp/s.sock\npassword = pw\n":    "username",
	} {
		_, err := ParseINI("supervisord.conf", []byte(src), nil)
		if err == nil || !strings.Contains(err.Error(), "supervisord.conf:") || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "username and password go together") {
			t.Errorf("%q: error %v, want one naming the file, line and %q", src, err, key)
		}
	}
}

// TestLogGroupInTOMLAndINI reads the group given to program log files, from
// [daemon] log_group and from [supervisord] log_group (a corral extension).
func TestLogGroupInTOMLAndINI(t *testing.T) {
	if g := mustTOML(t, "[daemon]\nlog_group = \"adm\"\n").Daemon.LogGroup; g != "adm" {
		t.Errorf("TOML log_group = %q, want adm", g)
	}
	cfg := mustINI(t, "[supervisord]\nlog_group = adm\n")
	if g := cfg.Daemon.LogGroup; g != "adm" {
		t.Errorf("INI log_group = %q, want adm", g)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("INI log_group warns: %q", cfg.Warnings)
	}
}
