package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func mustINI(t *testing.T, src string, env ...string) *Config {
	t.Helper()
	cfg, err := ParseINI("supervisord.conf", []byte(src), env)
	if err != nil {
		t.Fatalf("ParseINI: %v", err)
	}
	return cfg
}

func TestINIDefaults(t *testing.T) {
	cfg := mustINI(t, "[program:web]\ncommand = python3 -m http.server 8080\n")
	want := NewProgram("web")
	want.Command = []string{"python3", "-m", "http.server", "8080"}
	want.Restart = RestartUnexpected
	want.StopAsGroup, want.KillAsGroup = false, false
	want.Stdin = StdinPipe // supervisord's stdin pipe
	want.Source = Position{"supervisord.conf", 1}
	want.ProcessName = "web"
	if len(cfg.Programs) != 1 || !reflect.DeepEqual(cfg.Programs[0], want) {
		t.Errorf("got\n%+v\nwant\n%+v", cfg.Programs, want)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
}

func TestINIKeys(t *testing.T) {
	u := uint32(0o22)
	tests := []struct {
		name string
		src  string
		want func(p *Program)
	}{
		{"command quoting", `command = sh -c "echo 'a b'; exit 1"`, func(p *Program) { p.Command = []string{"sh", "-c", "echo 'a b'; exit 1"} }},
		{"process_name and numprocs", "numprocs = 3\nnumprocs_start = 1\nprocess_name = %(program_name)s_%(process_num)02d", func(p *Program) {
			p.NumProcs, p.NumProcsStart, p.ProcessName = 3, 1, "p_%(process_num)02d"
		}},
		{"priority", "priority = 5", func(p *Program) { p.Priority = 5 }},
		{"autostart", "autostart = no", func(p *Program) { p.Autostart = false }},
		{"autorestart true", "autorestart = true", func(p *Program) { p.Restart = RestartAlways }},
		{"autorestart false", "autorestart = OFF", func(p *Program) { p.Restart = RestartNo }},
		{"autorestart unexpected", "autorestart = unexpected", func(p *Program) { p.Restart = RestartUnexpected }},
		{"startsecs", "startsecs = 0", func(p *Program) { p.StartPeriod = 0 }},
		{"startretries", "startretries = 9", func(p *Program) { p.StartRetries = 9 }},
		{"exitcodes", "exitcodes = 0, 2,3", func(p *Program) { p.ExitCodes = []int{0, 2, 3} }},
		{"stopsignal", "stopsignal = QUIT", func(p *Program) { p.StopSignal = syscall.SIGQUIT }},
		{"stopwaitsecs", "stopwaitsecs = 30", func(p *Program) { p.StopTimeout = 30 * time.Second }},
		{"stopasgroup sets killasgroup", "stopasgroup = true", func(p *Program) { p.StopAsGroup, p.KillAsGroup = true, true }},
		{"killasgroup alone", "killasgroup = 1", func(p *Program) { p.KillAsGroup = true }},
		{"user", "user = nobody", func(p *Program) { p.User = "nobody" }},
		{"directory", "directory = /srv/%(program_name)s", func(p *Program) { p.Directory = "/srv/p" }},
		{"umask", "umask = 022", func(p *Program) { p.Umask = &u }},
		{"environment", `environment = B="x,y",A=1`, func(p *Program) { p.Environment = []string{"A=1", "B=x,y"} }},
		{"redirect_stderr", "redirect_stderr = true", func(p *Program) { p.Stderr.Redirect = true }},
		{"stdout_logfile", "stdout_logfile = /var/log/%(program_name)s.log\nstdout_logfile_maxbytes = 1KB\nstdout_logfile_backups = 0", func(p *Program) {
			p.Stdout = LogSpec{File: "/var/log/p.log", MaxBytes: 1024}
		}},
		{"stdout_logfile relative", "stdout_logfile = logs/p.log", func(p *Program) { p.Stdout.File = "etc/logs/p.log" }},
		{"stdout none", "stdout_logfile = NONE", func(p *Program) { p.Stdout.File = "" }},
		{"stderr_logfile", "stderr_logfile = /tmp/e.log\nstderr_logfile_maxbytes = 1GB\nstderr_logfile_backups = 4", func(p *Program) {
			p.Stderr = LogSpec{File: "/tmp/e.log", MaxBytes: 1 << 30, Backups: 4}
		}},
		{"stderr auto", "stderr_logfile = auto", func(p *Program) { p.Stderr.File = LogAuto }},
		{"colon delimiter and comments", "; comment\n# comment\npriority: 7 ; inline\nuser = a;b", func(p *Program) { p.Priority, p.User = 7, "a;b" }},
		{"continuation line", "command = sh -c\n    'echo hi'", func(p *Program) { p.Command = []string{"sh", "-c", "echo hi"} }},
		{"last value wins", "priority = 1\npriority = 2", func(p *Program) { p.Priority = 2 }},
		{"percent escape", "command = date +%%s", func(p *Program) { p.Command = []string{"date", "+%s"} }},
		{"upper-case keys", "PRIORITY = 3", func(p *Program) { p.Priority = 3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "[program:p]\ncommand = run\n" + tt.src + "\n"
			cfg, err := ParseINI("etc/supervisord.conf", []byte(src), nil)
			if err != nil {
				t.Fatal(err)
			}
			want := NewProgram("p")
			want.Command = []string{"run"}
			want.Restart = RestartUnexpected
			want.StopAsGroup, want.KillAsGroup = false, false
			want.Stdin = StdinPipe
			want.Source = Position{"etc/supervisord.conf", 1}
			want.ProcessName = "p"
			tt.want(&want)
			if !reflect.DeepEqual(cfg.Programs[0], want) {
				t.Errorf("got\n%+v\nwant\n%+v", cfg.Programs[0], want)
			}
			if len(cfg.Warnings) != 0 {
				t.Errorf("warnings: %q", cfg.Warnings)
			}
		})
	}
}

func TestINIServerSections(t *testing.T) {
	cfg := mustINI(t, `
[unix_http_server]
file = /tmp/s.sock
chmod = 0770
chown = nobody:nogroup
username = user
password = {SHA}abc

[inet_http_server]
port = *:9001
username = u
password = p

[supervisord]
logfile = /tmp/sd.log
pidfile = /tmp/sd.pid
childlogdir = /tmp/child
nodaemon = true
minfds = 1024
minprocs = 200
loglevel = debug
environment = TZ=UTC

[supervisorctl]
serverurl = unix:///tmp/s.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
`)
	wantU := &UnixHTTPServer{File: "/tmp/s.sock", Chmod: 0o770, Chown: "nobody:nogroup", Username: "user", Password: "{SHA}abc", Source: Position{"supervisord.conf", 2}}
	if !reflect.DeepEqual(cfg.UnixHTTP, wantU) {
		t.Errorf("unix_http_server = %+v, want %+v", cfg.UnixHTTP, wantU)
	}
	wantI := &InetHTTPServer{Port: ":9001", Username: "u", Password: "p", Source: Position{"supervisord.conf", 9}}
	if !reflect.DeepEqual(cfg.InetHTTP, wantI) {
		t.Errorf("inet_http_server = %+v, want %+v", cfg.InetHTTP, wantI)
	}
	d := cfg.Daemon
	if d.Logfile != "/tmp/sd.log" || d.Pidfile != "/tmp/sd.pid" || d.LogDir != "/tmp/child" || !d.NoDaemon || d.MinFDs != 1024 ||
		d.MinProcs != 200 || d.LogLevel != "debug" || !slices.Equal(d.Environment, []string{"TZ=UTC"}) {
		t.Errorf("daemon = %+v", d)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
}

func TestINIWarnings(t *testing.T) {
	cfg := mustINI(t, `[supervisord]
strip_ansi = true
[program:p]
command = x
stdout_syslog = true
stdout_events_enabled = true
stderr_syslog = true
serverurl = AUTO
frobnicate = 1
[ctlplugin:e]
command = y
[ctlplugin:f]
command = z
[mystery]
`)
	want := []string{
		`supervisord.conf:2: [supervisord] key "strip_ansi" is not supported by corral; ignored`,
		`supervisord.conf:10: [ctlplugin:e] section is not supported by corral; ignored`,
		`supervisord.conf:12: [ctlplugin:f] section is not supported by corral; ignored`,
		`supervisord.conf:14: [mystery] unknown section; ignored`,
		`supervisord.conf:9: [program:p] unknown key "frobnicate"; ignored`,
		`supervisord.conf:8: [program:p] key "serverurl" is not supported by corral; ignored`,
		`supervisord.conf:7: [program:p] key "stderr_syslog" is not supported by corral; ignored`,
		`supervisord.conf:5: [program:p] key "stdout_syslog" is not supported by corral; ignored`,
	}
	if !slices.Equal(cfg.Warnings, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(cfg.Warnings, "\n"), strings.Join(want, "\n"))
	}
}

func TestINIErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      string
	}{
		{"no section", "command = x", `supervisord.conf:1: "command = x" comes before any [section] header`},
		{"bad header", "[program:x\ncommand = y", `supervisord.conf:1: bad section header "[program:x"`},
		{"no delimiter", "[program:x]\ncommand", `supervisord.conf:2: [program:x]: line "command" is not "key = value"`},
		{"no command", "[program:x]\npriority = 1", `supervisord.conf:1: [program:x]: program has no command`},
		{"empty command", "[program:x]\ncommand =", `supervisord.conf:2: [program:x]: key "command": program has no command`},
		{"bad boolean", "[program:x]\ncommand = y\nautostart = maybe", `supervisord.conf:3: [program:x]: key "autostart": not a valid boolean value: "maybe"`},
		{"bad autorestart", "[program:x]\ncommand = y\nautorestart = sometimes", `supervisord.conf:3: [program:x]: key "autorestart": invalid autorestart value "sometimes"`},
		{"bad integer", "[program:x]\ncommand = y\nstartsecs = 1s", `supervisord.conf:3: [program:x]: key "startsecs": not an integer: "1s"`},
		{"negative", "[program:x]\ncommand = y\nstartretries = -1", `supervisord.conf:3: [program:x]: key "startretries": -1 is out of range`},
		{"numprocs without process_num", "[program:x]\ncommand = y\nnumprocs = 2", `supervisord.conf:1: [program:x]: key "process_name": "x" must include %(process_num)d when numprocs > 1`},
		{"numprocs without process_num line", "[program:x]\ncommand = y\nprocess_name = foo\nnumprocs = 2", `supervisord.conf:3: [program:x]: key "process_name": "foo" must include`},
		{"bad signal", "[program:x]\ncommand = y\nstopsignal = TERMX", `supervisord.conf:3: [program:x]: key "stopsignal": unknown signal "TERMX"`},
		{"bad exitcodes", "[program:x]\ncommand = y\nexitcodes = 0,x", `supervisord.conf:3: [program:x]: key "exitcodes": invalid exit code "x"`},
		{"bad size", "[program:x]\ncommand = y\nstdout_logfile_maxbytes = big", `supervisord.conf:3: [program:x]: key "stdout_logfile_maxbytes": invalid size "big"`},
		{"bad umask", "[program:x]\ncommand = y\numask = 8", `supervisord.conf:3: [program:x]: key "umask": invalid umask "8"`},
		{"bad environment", "[program:x]\ncommand = y\nenvironment = A", `supervisord.conf:3: [program:x]: key "environment": unexpected end of key/value pairs`},
		{"unknown expansion", "[program:x]\ncommand = y %(nope)s", `supervisord.conf:2: [program:x]: key "command": %(nope) cannot be expanded`},
		{"bare percent", "[program:x]\ncommand = date +%s", `supervisord.conf:2: [program:x]: key "command": bad format at "%s"`},
		{"missing env", "[program:x]\ncommand = y %(ENV_NOPE)s", `supervisord.conf:2: [program:x]: key "command": %(ENV_NOPE) cannot be expanded: environment variable NOPE is not set`},
		{"unknown name", "[program:x]\ncommand = y %(NOPE)s", `supervisord.conf:2: [program:x]: key "command": %(NOPE) cannot be expanded: no such name (use %(ENV_NOPE)s for an environment variable)`},
		{"stopasgroup without killasgroup", "[program:x]\ncommand = y\nstopasgroup = true\nkillasgroup = false", `supervisord.conf:4: [program:x]: key "killasgroup": cannot stop the process group`},
		{"bad name", "[program:a/b]\ncommand = y", `supervisord.conf:1: [program:a/b]: invalid name "a/b": it contains '/'`},
		{"group unknown program", "[group:g]\nprograms = a,b\n[program:a]\ncommand = y", `supervisord.conf:1: [group:g]: key "programs": no program named "b"`},
		{"group no programs", "[group:g]\npriority = 1", `supervisord.conf:1: [group:g]: key "programs": group lists no programs`},
		{"unix server no file", "[unix_http_server]\nchmod = 0700", `supervisord.conf:1: [unix_http_server]: key "file": [unix_http_server] needs a socket file`},
		{"unix server bad chmod", "[unix_http_server]\nfile = /tmp/s\nchmod = rw", `supervisord.conf:3: [unix_http_server]: key "chmod": invalid mode "rw"`},
		{"unix server bad chown", "[unix_http_server]\nfile = /tmp/s\nchown = :g", `supervisord.conf:3: [unix_http_server]: key "chown": invalid owner ":g"`},
		{"inet server bad port", "[inet_http_server]\nport = localhost:http", `supervisord.conf:2: [inet_http_server]: key "port": invalid address "localhost:http"`},
		{"supervisord bad nodaemon", "[supervisord]\nnodaemon = perhaps", `supervisord.conf:2: [supervisord]: key "nodaemon": not a valid boolean value`},
		{"include without files", "[include]\nfile = x", `supervisord.conf:1: [include]: [include] section has no "files" key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseINI("supervisord.conf", []byte(tt.src), nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error\n%s\nwant it to start with\n%s", err, tt.want)
			}
		})
	}
}

func TestINIExpansions(t *testing.T) {
	host, _ := os.Hostname()
	cfg, err := ParseINI("/etc/sv/supervisord.conf", []byte(`
[group:site]
programs = web

[program:web]
command = %(ENV_APP)s --name %(program_name)s --group %(group_name)s --host %(host_node_name)s --port 80%(process_num)02d
directory = %(here)s/%(ENV_SUB)s
numprocs = 2
process_name = %(program_name)s_%(process_num)d
environment = N="%(numprocs)d",HOME="%(ENV_HOME)s"
stdout_logfile = %(here)s/%(program_name)s-%(process_num)d.log
`), []string{"APP=/usr/bin/app", "SUB=www", "HOME=/home/a=b"})
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Programs[0]
	wantCmd := []string{"/usr/bin/app", "--name", "web", "--group", "site", "--host", host, "--port", "80%(process_num)02d"}
	if !slices.Equal(p.Command, wantCmd) || p.Directory != "/etc/sv/www" || !slices.Equal(p.Environment, []string{"HOME=/home/a=b", "N=2"}) {
		t.Errorf("program = %+v", p)
	}
	prs := p.Processes()
	if len(prs) != 2 {
		t.Fatalf("got %d processes", len(prs))
	}
	for i, pr := range prs {
		wantName := []string{"web_0", "web_1"}[i]
		wantFull := []string{"site:web_0", "site:web_1"}[i]
		wantPort := []string{"8000", "8001"}[i]
		wantLog := []string{"/etc/sv/web-0.log", "/etc/sv/web-1.log"}[i]
		if pr.Name != wantName || pr.FullName() != wantFull || pr.Num != i || pr.Program.Command[8] != wantPort || pr.Program.Stdout.File != wantLog {
			t.Errorf("process %d = %s %s %v %s", i, pr.Name, pr.FullName(), pr.Program.Command, pr.Program.Stdout.File)
		}
	}
}

func TestProcessesNaming(t *testing.T) {
	tests := []struct {
		name      string
		pattern   string
		num, from int
		group     string
		want      []string
	}{
		{"single", "%(program_name)s", 1, 0, "web", []string{"web"}},
		{"numbered own group", "%(process_num)d", 3, 0, "web", []string{"web:0", "web:1", "web:2"}},
		{"padded", "%(program_name)s_%(process_num)02d", 2, 9, "web", []string{"web:web_09", "web:web_10"}},
		{"in group", "%(program_name)s", 1, 0, "site", []string{"site:web"}},
		{"group name", "%(group_name)s-%(process_num)d", 2, 1, "site", []string{"site:site-1", "site:site-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProgram("web")
			p.Command = []string{"x"}
			p.ProcessName, p.NumProcs, p.NumProcsStart, p.Group = tt.pattern, tt.num, tt.from, tt.group
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, pr := range p.Processes() {
				got = append(got, pr.FullName())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidateNamesFieldAndSource(t *testing.T) {
	p := NewProgram("api")
	p.Source = Position{"api", 0}
	err := p.Validate()
	if err == nil || err.Error() != `api: program "api": key "command": program has no command` {
		t.Errorf("Validate() = %v", err)
	}
	p.Command = []string{"x"}
	p.NumProcs = 2
	p.ProcessName = "%(process_num)d-%(process_num)d"
	if err := p.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	p.ProcessName = "x%(process_num)d"
	p.Backoff.Initial = 0 // restart at once
	if err := p.Validate(); err != nil {
		t.Errorf("Validate() with zero backoff = %v", err)
	}
	p.Backoff.Initial = -time.Second
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), `key "backoff"`) {
		t.Errorf("Validate() with negative backoff = %v", err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestINIIncludeGlobs(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "supervisord.conf")
	writeFile(t, main, "[include]\nfiles = conf.d/*.conf more/%(ENV_EXTRA)s.ini nothing/*.conf\n[program:main]\ncommand = m\n")
	writeFile(t, filepath.Join(dir, "conf.d", "b.conf"), "[program:b]\ncommand = b\ndirectory = %(here)s\n")
	writeFile(t, filepath.Join(dir, "conf.d", "a.conf"), "[program:a]\ncommand = a\n[include]\nfiles = ../nested/*.conf\n")
	writeFile(t, filepath.Join(dir, "conf.d", "skip.txt"), "[program:skip]\ncommand = s\n")
	writeFile(t, filepath.Join(dir, "nested", "n.conf"), "[program:n]\ncommand = n\n")
	writeFile(t, filepath.Join(dir, "more", "x.ini"), "[program:x]\ncommand = x\n")
	data, _ := os.ReadFile(main)
	cfg, err := ParseINI(main, data, []string{"EXTRA=x"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range cfg.Programs {
		names = append(names, p.Name)
	}
	if want := []string{"main", "a", "n", "b", "x"}; !slices.Equal(names, want) {
		t.Errorf("programs = %q, want %q", names, want)
	}
	b := cfg.Program("b")
	if b.Directory != filepath.Join(dir, "conf.d") || b.Source != (Position{filepath.Join(dir, "conf.d", "b.conf"), 1}) {
		t.Errorf("program b = %+v", b)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "no file matches") {
		t.Errorf("warnings = %q", cfg.Warnings)
	}

	// Errors in an included file name that file.
	writeFile(t, filepath.Join(dir, "conf.d", "bad.conf"), "[program:bad]\ncommand = x\nautostart = maybe\n")
	if _, err := ParseINI(main, data, []string{"EXTRA=x"}); err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "conf.d", "bad.conf")+`:3: [program:bad]: key "autostart"`) {
		t.Errorf("error in included file = %v", err)
	}

	// An include cycle is an error, not a hang.
	loop := filepath.Join(dir, "loop", "loop.conf")
	writeFile(t, loop, "[include]\nfiles = loop.conf\n")
	if _, err := Load(loop); err == nil || !strings.Contains(err.Error(), "includes itself") {
		t.Errorf("include cycle = %v", err)
	}
}

func TestLoadPicksFormat(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, data string }{
		{"a.toml", "[program.p]\ncommand = \"x\"\n"},
		{"a.conf", "[program:p]\ncommand = x\n"},
		{"a.ini", "[program:p]\ncommand = x\n"},
		{"sniffed-ini", "; supervisord\n[program:p]\ncommand = x\n"},
		{"sniffed-toml", "[program.p]\ncommand = \"x\"\n"},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name)
		writeFile(t, path, tt.data)
		cfg, err := Load(path)
		if err != nil {
			t.Errorf("Load(%s): %v", tt.name, err)
			continue
		}
		if cfg.File != path || len(cfg.Programs) != 1 || !slices.Equal(cfg.Programs[0].Command, []string{"x"}) {
			t.Errorf("Load(%s) = %+v", tt.name, cfg)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

// TestINIAndTOMLDescribeTheSamePrograms checks that the two formats produce
// equal programs for the same description.
func TestINIAndTOMLDescribeTheSamePrograms(t *testing.T) {
	tomlCfg := mustTOML(t, `
[group.site]
programs = ["web"]
priority = 10

[program.web]
command = "python3 -m http.server 80%(process_num)02d"
process_name = "%(program_name)s_%(process_num)d"
numprocs = 2
directory = "/srv"
environment = { A = "1", B = "two words" }
user = "www-data"
umask = "022"
autostart = false
restart = "always"
exit_codes = [0, 2]
start_secs = 5
start_retries = 4
stop_signal = "INT"
stop_timeout = "20s"
stop_as_group = true
kill_as_group = true
priority = 100
stdout = { file = "/var/log/web.log", max_bytes = "1MB", backups = 2 }
stderr = { file = "NONE", max_bytes = "2KB", backups = 0, redirect = true }
stdin = "pipe"

[program.worker]
command = ["sleep", "3600"]
restart = "unexpected"
stop_as_group = false
kill_as_group = false
stdin = "pipe"
`)
	iniCfg := mustINI(t, `
[group:site]
programs = web
priority = 10

[program:web]
command = python3 -m http.server 80%(process_num)02d
process_name = %(program_name)s_%(process_num)d
numprocs = 2
directory = /srv
environment = A="1",B="two words"
user = www-data
umask = 022
autostart = false
autorestart = true
exitcodes = 0,2
startsecs = 5
startretries = 4
stopsignal = INT
stopwaitsecs = 20
stopasgroup = true
priority = 100
stdout_logfile = /var/log/web.log
stdout_logfile_maxbytes = 1MB
stdout_logfile_backups = 2
stderr_logfile = NONE
stderr_logfile_maxbytes = 2KB
stderr_logfile_backups = 0
redirect_stderr = true

[program:worker]
command = sleep 3600
`)
	strip := func(ps []Program) []Program {
		out := slices.Clone(ps)
		for i := range out {
			out[i].Source = Position{}
		}
		return out
	}
	if a, b := strip(tomlCfg.Programs), strip(iniCfg.Programs); !reflect.DeepEqual(a, b) {
		t.Errorf("TOML programs\n%+v\nINI programs\n%+v", a, b)
	}
	ga, gb := tomlCfg.Groups, iniCfg.Groups
	ga[0].Source, gb[0].Source = Position{}, Position{}
	if !reflect.DeepEqual(ga, gb) {
		t.Errorf("TOML groups %+v, INI groups %+v", ga, gb)
	}
}

// TestExamplesLoad keeps examples/ loadable and the two files in step.
func TestExamplesLoad(t *testing.T) {
	tc, err := Load("../examples/corral.toml")
	if err != nil {
		t.Fatal(err)
	}
	ic, err := Load("../examples/supervisord.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(tc.Warnings)+len(ic.Warnings) != 0 {
		t.Errorf("warnings: %q %q", tc.Warnings, ic.Warnings)
	}
	if len(tc.Programs) != len(ic.Programs) {
		t.Fatalf("%d TOML programs, %d INI programs", len(tc.Programs), len(ic.Programs))
	}
	for i := range tc.Programs {
		a, b := tc.Programs[i], ic.Programs[i]
		var an, bn []string
		for _, pr := range a.Processes() {
			an = append(an, pr.FullName())
		}
		for _, pr := range b.Processes() {
			bn = append(bn, pr.FullName())
		}
		if a.Name != b.Name || !slices.Equal(a.Command, b.Command) || !slices.Equal(an, bn) {
			t.Errorf("program %d: TOML %s %q %q, INI %s %q %q", i, a.Name, a.Command, an, b.Name, b.Command, bn)
		}
	}
}

func TestINIMergedSectionNamesTheFileOfEachKey(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "supervisord.conf")
	writeFile(t, main, "[program:a]\ncommand = a\n[include]\nfiles = inc.conf\n")
	writeFile(t, filepath.Join(dir, "inc.conf"), "\n[program:a]\nautostart = maybe\n")
	_, err := Load(main)
	if want := filepath.Join(dir, "inc.conf") + `:3: [program:a]: key "autostart"`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %v, want it to start with %s", err, want)
	}
	writeFile(t, filepath.Join(dir, "inc.conf"), "\n[program:a]\nfrobnicate = 1\n")
	cfg, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "inc.conf") + `:3: [program:a] unknown key "frobnicate"; ignored`}; !slices.Equal(cfg.Warnings, want) {
		t.Errorf("warnings = %q, want %q", cfg.Warnings, want)
	}
}

func TestINISupervisordIdentifierUmaskDirectory(t *testing.T) {
	cfg := mustINI(t, "[supervisord]\nidentifier = box\numask = 027\ndirectory = run\n")
	d := cfg.Daemon
	if d.Identifier != "box" || d.Umask == nil || *d.Umask != 0o27 || d.Directory != "run" {
		t.Errorf("daemon = identifier %q umask %v directory %q", d.Identifier, d.Umask, d.Directory)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
	if _, err := ParseINI("supervisord.conf", []byte("[supervisord]\numask = 8\n"), nil); err == nil || !strings.Contains(err.Error(), `supervisord.conf:2: [supervisord]: key "umask"`) {
		t.Errorf("bad umask: %v", err)
	}
}
