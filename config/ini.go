package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ParseINI parses a supervisord configuration. name is used in error
// messages and is the base for [include] globs and relative paths; included
// files are read from disk. env ("KEY=value" strings, as os.Environ returns)
// supplies the %(ENV_KEY)s expansions.
//
// ParseINI follows supervisord's syntax (Python's ConfigParser), defaults
// and value parsers. Settings corral does not support are listed in
// Config.Warnings; values supervisord would refuse are errors naming the
// file, line, section and key.
func ParseINI(name string, data []byte, env []string) (*Config, error) {
	ip := &iniParser{env: env, readFile: readFile, glob: filepath.Glob}
	return ip.parse(name, data)
}

type iniParser struct {
	env      []string
	readFile func(string) ([]byte, error)
	glob     func(string) ([]string, error)

	host     string
	sections []*iniSection
	warnings []string
	visiting map[string]bool
}

// iniSection is one [section]: as written in one file, or, after
// mergeSections, every part of that name across the main file and its
// includes.
type iniSection struct {
	name string
	pos  Position // the first header
	here string   // absolute directory of the file holding the header
	keys []iniKV
}

// iniKV is one option. A merged section holds options from several files,
// so each keeps its own position and %(here)s.
type iniKV struct {
	key, value string
	file, here string
	line       int
}

func (kv iniKV) pos() Position { return Position{kv.file, kv.line} }

// get returns the last value of key, as ConfigParser keeps the last one.
func (s *iniSection) get(key string) (iniKV, bool) {
	for i := len(s.keys) - 1; i >= 0; i-- {
		if s.keys[i].key == key {
			return s.keys[i], true
		}
	}
	return iniKV{}, false
}

func (s *iniSection) label() string { return "[" + s.name + "]" }

// posOf returns where key is set, or the section header.
func (s *iniSection) posOf(key string) Position {
	if kv, ok := s.get(key); ok {
		return Position{kv.file, kv.line}
	}
	return s.pos
}

func (s *iniSection) err(key string, err error) *Error {
	return &Error{Pos: s.posOf(key), Section: s.label(), Key: key, Err: err}
}

// mergeSections merges sections of the same name, as supervisord's
// ConfigParser (strict=False) does across the main file and its includes and
// within one file: a section keeps the place of its first header, and a key
// set again takes the later value.
func mergeSections(secs []*iniSection) []*iniSection {
	var out []*iniSection
	byName := map[string]*iniSection{}
	for _, s := range secs {
		if m := byName[s.name]; m != nil {
			m.keys = append(m.keys, s.keys...)
			continue
		}
		m := &iniSection{name: s.name, pos: s.pos, here: s.here, keys: slices.Clone(s.keys)}
		byName[s.name] = m
		out = append(out, m)
	}
	return out
}

// maxIncludeDepth bounds nested [include]s. supervisord reads includes
// only from the main file; corral also follows includes in included files.
const maxIncludeDepth = 8

func (ip *iniParser) parse(name string, data []byte) (*Config, error) {
	ip.host, _ = os.Hostname()
	ip.visiting = map[string]bool{}
	if err := ip.readINI(name, data, 0); err != nil {
		return nil, err
	}
	return ip.build(name)
}

func (ip *iniParser) baseVars(here string) map[string]any {
	vars := map[string]any{"here": here, "host_node_name": ip.host}
	for _, kv := range ip.env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			vars["ENV_"+k] = v
		}
	}
	return vars
}

// readINI parses one file and, depth first, the files it includes.
func (ip *iniParser) readINI(name string, data []byte, depth int) error {
	secs, err := parseINISyntax(name, string(data))
	if err != nil {
		return err
	}
	ip.sections = append(ip.sections, secs...)
	// A file's [include] parts merge like any section: its last "files"
	// counts.
	for _, s := range mergeSections(secs) {
		if s.name != "include" {
			continue
		}
		kv, ok := s.get("files")
		if !ok {
			return s.err("", errors.New(`[include] section has no "files" key`))
		}
		if depth >= maxIncludeDepth {
			return s.err("files", fmt.Errorf("includes nested more than %d deep", maxIncludeDepth))
		}
		ex := expander{vars: ip.baseVars(kv.here), strict: true}
		v, err := ex.expand(kv.value)
		if err != nil {
			return s.err("files", err)
		}
		for _, pattern := range strings.Fields(v) {
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(name), pattern)
			}
			matches, err := ip.glob(pattern)
			if err != nil {
				return s.err("files", fmt.Errorf("bad pattern %q: %w", pattern, err))
			}
			if len(matches) == 0 {
				ip.warnings = append(ip.warnings, fmt.Sprintf("%s:%d: [include] no file matches %q", s.pos.File, kv.line, pattern))
				continue
			}
			slices.Sort(matches)
			for _, m := range matches {
				abs, _ := filepath.Abs(m)
				if ip.visiting[abs] {
					return s.err("files", fmt.Errorf("%s includes itself", m))
				}
				b, err := ip.readFile(m)
				if err != nil {
					return s.err("files", err)
				}
				ip.visiting[abs] = true
				err = ip.readINI(m, b, depth+1)
				delete(ip.visiting, abs)
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// parseINISyntax reads Python ConfigParser syntax: "[section]" headers,
// "key = value" or "key: value" options (keys are lower-cased), comment
// lines starting with ';' or '#', inline comments after a blank and ';' or
// '#', and continuation lines indented deeper than their key.
func parseINISyntax(name, data string) ([]*iniSection, error) {
	var (
		secs   []*iniSection
		cur    *iniSection
		kvIdx  = -1 // index of the open option in cur.keys
		indent int
		extra  []string // continuation lines of the open option
	)
	here, _ := filepath.Abs(filepath.Dir(name))
	flush := func() {
		if kvIdx >= 0 {
			for len(extra) > 0 && extra[len(extra)-1] == "" {
				extra = extra[:len(extra)-1]
			}
			if len(extra) > 0 {
				cur.keys[kvIdx].value += "\n" + strings.Join(extra, "\n")
			}
		}
		kvIdx, extra = -1, nil
	}
	for i, raw := range strings.Split(data, "\n") {
		line := i + 1
		raw = strings.TrimSuffix(raw, "\r")
		if strings.ContainsRune(raw, 0) {
			return nil, &Error{Pos: Position{name, line}, Err: errors.New("line contains a NUL byte")}
		}
		stripped := strings.TrimSpace(raw)
		if strings.HasPrefix(stripped, ";") || strings.HasPrefix(stripped, "#") {
			continue
		}
		value := strings.TrimSpace(stripInlineComment(raw))
		lineIndent := len(raw) - len(strings.TrimLeft(raw, " \t"))
		if value == "" {
			if kvIdx >= 0 {
				extra = append(extra, "")
			}
			continue
		}
		if kvIdx >= 0 && lineIndent > indent {
			extra = append(extra, value)
			continue
		}
		flush()
		if strings.HasPrefix(value, "[") {
			end := strings.LastIndexByte(value, ']')
			if end < 0 || end != len(value)-1 || end < 2 {
				return nil, &Error{Pos: Position{name, line}, Err: fmt.Errorf("bad section header %q", value)}
			}
			cur = &iniSection{name: value[1:end], pos: Position{name, line}, here: here}
			secs = append(secs, cur)
			continue
		}
		if cur == nil {
			return nil, &Error{Pos: Position{name, line}, Err: fmt.Errorf("%q comes before any [section] header", clip(value))}
		}
		j := strings.IndexAny(value, "=:")
		if j < 0 {
			return nil, &Error{Pos: Position{name, line}, Section: cur.label(), Err: fmt.Errorf("line %q is not \"key = value\"", clip(value))}
		}
		key := strings.ToLower(strings.TrimSpace(value[:j]))
		if key == "" {
			return nil, &Error{Pos: Position{name, line}, Section: cur.label(), Err: fmt.Errorf("line %q has no key", clip(value))}
		}
		cur.keys = append(cur.keys, iniKV{key: key, value: strings.TrimSpace(value[j+1:]), file: name, here: here, line: line})
		kvIdx, indent = len(cur.keys)-1, lineIndent
	}
	flush()
	return secs, nil
}

// stripInlineComment cuts a ';' or '#' comment that follows a blank.
func stripInlineComment(s string) string {
	for i := 1; i < len(s); i++ {
		if (s[i] == ';' || s[i] == '#') && (s[i-1] == ' ' || s[i-1] == '\t') {
			return s[:i]
		}
	}
	return s
}

func (ip *iniParser) warn(s *iniSection, pos Position, format string, args ...any) {
	ip.warnings = append(ip.warnings, fmt.Sprintf("%s: %s %s", pos, s.label(), fmt.Sprintf(format, args...)))
}

// build turns the sections of all files into a Config.
func (ip *iniParser) build(name string) (*Config, error) {
	cfg := &Config{File: name, Daemon: DefaultDaemon()}
	cfg.Daemon.Activity = &ActivityLog{Level: "info", MaxBytes: 50 << 20, Backups: 10}
	cfg.keyStateDir()
	var programs, groups, listeners []*iniSection
	for _, s := range mergeSections(ip.sections) {
		kind, _, _ := strings.Cut(s.name, ":")
		switch {
		case s.name == "supervisord":
			if err := ip.supervisord(&cfg.Daemon, s); err != nil {
				return nil, err
			}
		case s.name == "unix_http_server":
			u, err := ip.unixHTTP(s)
			if err != nil {
				return nil, err
			}
			cfg.UnixHTTP = u
			// The socket's credentials, as TOML's [daemon] has them.
			cfg.Daemon.Username, cfg.Daemon.Password = u.Username, u.Password
		case s.name == "inet_http_server":
			in, err := ip.inetHTTP(s)
			if err != nil {
				return nil, err
			}
			cfg.InetHTTP = in
		case s.name == "supervisorctl", s.name == "include":
			// Client settings and includes (already read).
		case s.name == "rpcinterface:supervisor":
			cfg.Daemon.Activity.RPCInterface = true
			for _, kv := range s.keys {
				if kv.key != "supervisor.rpcinterface_factory" {
					ip.warn(s, kv.pos(), "key %q is not supported by corral; ignored", kv.key)
				}
			}
		case kind == "program", kind == "fcgi-program":
			programs = append(programs, s)
		case kind == "group":
			groups = append(groups, s)
		case kind == "eventlistener":
			listeners = append(listeners, s)
		case kind == "rpcinterface", kind == "ctlplugin":
			ip.warn(s, s.pos, "section is not supported by corral; ignored")
		default:
			ip.warn(s, s.pos, "unknown section; ignored")
		}
	}
	groupOf := map[string]string{}
	for _, s := range groups {
		g, err := ip.group(s)
		if err != nil {
			return nil, err
		}
		for _, p := range g.Programs {
			if _, dup := groupOf[p]; !dup {
				groupOf[p] = g.Name
			}
		}
		cfg.Groups = append(cfg.Groups, g)
	}
	bySection := map[string]*iniSection{}
	// Exactly as long as needed: the daemon keeps this array for the life
	// of the configuration (append would leave up to a quarter unused).
	cfg.Programs = make([]Program, 0, len(programs)+len(listeners))
	for _, s := range programs {
		p, err := ip.program(s, groupOf)
		if err != nil {
			return nil, err
		}
		bySection[p.Name] = s
		cfg.Programs = append(cfg.Programs, p)
	}
	for _, s := range listeners {
		p, err := ip.listener(s)
		if err != nil {
			return nil, err
		}
		bySection[p.Name] = s
		cfg.Programs = append(cfg.Programs, p)
	}
	err := cfg.finish(func(n string) string {
		if s := bySection[n]; s != nil && strings.HasPrefix(s.name, "eventlistener:") {
			return s.label()
		}
		return "[program:" + n + "]"
	},
		func(k string) string { return iniKeyName[k] },
		func(p *Program, key string) Position {
			s := bySection[p.Name]
			if s == nil {
				return Position{}
			}
			return s.posOf(iniKeyName[key])
		})
	if err != nil {
		return nil, err
	}
	cfg.Warnings = ip.warnings
	return cfg, nil
}

// iniKeyName maps the TOML key names that Program.validate reports to
// supervisord's.
var iniKeyName = map[string]string{
	"command": "command", "process_name": "process_name", "numprocs": "numprocs",
	"numprocs_start": "numprocs_start", "umask": "umask", "restart": "autorestart",
	"exit_codes": "exitcodes", "start_secs": "startsecs", "start_retries": "startretries",
	"stop_signal": "stopsignal", "stop_timeout": "stopwaitsecs", "stdout": "stdout_logfile",
	"stderr": "stderr_logfile", "environment": "environment", "directory": "directory",
	"kill_as_group": "killasgroup", "stop_as_group": "stopasgroup", "user": "user",
}

// value expands one key of a section; ok is false when the key is absent.
func (ip *iniParser) value(s *iniSection, ex *expander, key string) (string, bool, error) {
	kv, ok := s.get(key)
	if !ok {
		return "", false, nil
	}
	ex.vars["here"] = kv.here
	v, err := ex.expand(kv.value)
	if err != nil {
		return "", true, s.err(key, err)
	}
	return v, true, nil
}

func iniInt(s *iniSection, key, v string, min int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, s.err(key, fmt.Errorf("not an integer: %q", v))
	}
	if n < min || n > math.MaxInt32 {
		return 0, s.err(key, fmt.Errorf("%d is out of range (must be between %d and %d)", n, min, math.MaxInt32))
	}
	return n, nil
}

// iniPath makes p, the value of key, relative to the file that sets key.
func iniPath(s *iniSection, key, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(s.posOf(key).File), p)
}

func (ip *iniParser) supervisord(d *Daemon, s *iniSection) error {
	ex := &expander{vars: ip.baseVars(s.here), strict: true}
	for _, kv := range s.keys {
		k := kv.key
		v, _, err := ip.value(s, ex, k)
		if err != nil {
			return err
		}
		switch k {
		case "logfile":
			d.Logfile = iniPath(s, k, v)
		case "pidfile":
			d.Pidfile = iniPath(s, k, v)
		case "childlogdir":
			d.LogDir = iniPath(s, k, v)
		case "log_group":
			// corral's own key; supervisord ignores keys it does not know.
			d.LogGroup = v
		case "nodaemon":
			if d.NoDaemon, err = ParseBool(v); err != nil {
				return s.err(k, err)
			}
		case "minfds":
			if d.MinFDs, err = iniInt(s, k, v, 0); err != nil {
				return err
			}
		case "minprocs":
			if d.MinProcs, err = iniInt(s, k, v, 0); err != nil {
				return err
			}
		case "loglevel":
			if d.LogLevel, err = ParseLogLevel(v); err != nil {
				return s.err(k, err)
			}
			d.Activity.Level = SupervisordLevel(v)
		case "logfile_maxbytes":
			if d.Activity.MaxBytes, err = ParseSize(v); err != nil {
				return s.err(k, err)
			}
		case "logfile_backups":
			if d.Activity.Backups, err = iniInt(s, k, v, 0); err != nil {
				return err
			}
		case "silent":
			if d.Activity.Silent, err = ParseBool(v); err != nil {
				return s.err(k, err)
			}
		case "environment":
			m, err := parseKVPairs(v)
			if err != nil {
				return s.err(k, err)
			}
			d.Environment = envList(m)
		case "identifier":
			d.Identifier = v
		case "user":
			d.User = strings.TrimSpace(v)
		case "nocleanup":
			// corral never removes old AUTO child logs: nothing to prevent.
			if _, err := ParseBool(v); err != nil {
				return s.err(k, err)
			}
		case "health_listen":
			if err := CheckHealthListen(v); err != nil {
				return s.err(k, err)
			}
			d.HealthListen = v
		case "umask":
			u, err := ParseUmask(v)
			if err != nil {
				return s.err(k, err)
			}
			d.Umask = &u
		case "directory":
			d.Directory = iniPath(s, k, v)
		default:
			ip.warn(s, kv.pos(), "key %q is not supported by corral; ignored", k)
		}
	}
	return nil
}

func (ip *iniParser) unixHTTP(s *iniSection) (*UnixHTTPServer, error) {
	ex := &expander{vars: ip.baseVars(s.here), strict: true}
	u := &UnixHTTPServer{Chmod: 0o700, Source: s.pos}
	for _, kv := range s.keys {
		k := kv.key
		v, _, err := ip.value(s, ex, k)
		if err != nil {
			return nil, err
		}
		switch k {
		case "file":
			u.File = iniPath(s, k, v)
		case "chmod":
			m, err := ParseUmask(v)
			if err != nil {
				return nil, s.err(k, fmt.Errorf("invalid mode %q (want an octal number such as 0700)", v))
			}
			u.Chmod = os.FileMode(m)
		case "chown":
			user, group, hasGroup := strings.Cut(v, ":")
			if user == "" || (hasGroup && group == "") {
				return nil, s.err(k, fmt.Errorf("invalid owner %q (want user or user:group)", v))
			}
			u.Chown = v
		case "username":
			u.Username = v
		case "password":
			u.Password = v
		default:
			ip.warn(s, kv.pos(), "key %q is not supported by corral; ignored", k)
		}
	}
	if u.File == "" {
		return nil, s.err("file", errors.New("[unix_http_server] needs a socket file"))
	}
	// Half-set credentials would either let anyone in (a password alone)
	// or check an empty password (a username alone): refuse them, as the
	// TOML reader does.
	if missing := missingCredential(u.Username, u.Password); missing != "" {
		return nil, s.err(missing, errors.New("username and password go together; set both or neither"))
	}
	return u, nil
}

func (ip *iniParser) inetHTTP(s *iniSection) (*InetHTTPServer, error) {
	ex := &expander{vars: ip.baseVars(s.here), strict: true}
	in := &InetHTTPServer{Source: s.pos}
	for _, kv := range s.keys {
		k := kv.key
		v, _, err := ip.value(s, ex, k)
		if err != nil {
			return nil, err
		}
		switch k {
		case "port":
			host, port := "", v
			if i := strings.LastIndexByte(v, ':'); i >= 0 {
				host, port = v[:i], v[i+1:]
			}
			if host == "*" {
				host = ""
			}
			n, err := strconv.Atoi(port)
			if err != nil || n < 0 || n > 65535 {
				return nil, s.err(k, fmt.Errorf("invalid address %q (want host:port or port)", v))
			}
			in.Port = net.JoinHostPort(strings.Trim(host, "[]"), port)
		case "username":
			in.Username = v
		case "password":
			in.Password = v
		default:
			ip.warn(s, kv.pos(), "key %q is not supported by corral; ignored", k)
		}
	}
	if in.Port == "" {
		return nil, s.err("port", errors.New("[inet_http_server] needs a port"))
	}
	return in, nil
}

func (ip *iniParser) group(s *iniSection) (Group, error) {
	_, name, _ := strings.Cut(s.name, ":")
	g := Group{Name: name, Priority: DefaultPriority, Source: s.pos}
	ex := &expander{vars: ip.baseVars(s.here), strict: true}
	for _, kv := range s.keys {
		k := kv.key
		v, _, err := ip.value(s, ex, k)
		if err != nil {
			return g, err
		}
		switch k {
		case "programs":
			g.Programs = nil
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					g.Programs = append(g.Programs, p)
				}
			}
		case "priority":
			if g.Priority, err = iniInt(s, k, v, math.MinInt32); err != nil {
				return g, err
			}
		default:
			ip.warn(s, kv.pos(), "key %q is not supported by corral; ignored", k)
		}
	}
	if len(g.Programs) == 0 {
		return g, s.err("programs", errors.New("group lists no programs"))
	}
	return g, nil
}

// unsupportedProgramKeys are supervisord [program:x] keys corral reads but
// does not act on yet.
var unsupportedProgramKeys = map[string]bool{
	"stdout_syslog": true, "stderr_syslog": true,
	"serverurl": true,
}

func (ip *iniParser) program(s *iniSection, groupOf map[string]string) (Program, error) {
	_, name, _ := strings.Cut(s.name, ":")
	p := NewProgram(name)
	p.Source = s.pos
	p.Restart = RestartUnexpected
	p.StopAsGroup, p.KillAsGroup = false, false
	p.Stdin = StdinPipe // supervisord gives every process a stdin pipe
	group := name
	if g, ok := groupOf[name]; ok {
		group = g
	}
	vars := ip.baseVars(s.here)
	vars["program_name"] = name
	vars["group_name"] = group
	ex := &expander{vars: vars, strict: true, keep: map[string]bool{"process_num": true}}

	// numprocs first: the other values may use %(numprocs)d.
	if v, ok, err := ip.value(s, ex, "numprocs"); err != nil {
		return p, err
	} else if ok {
		if p.NumProcs, err = iniInt(s, "numprocs", v, 1); err != nil {
			return p, err
		}
	}
	vars["numprocs"] = p.NumProcs

	killSet := false
	done := map[string]bool{}
	for i := len(s.keys) - 1; i >= 0; i-- { // the last value of a key wins
		kv := s.keys[i]
		k := kv.key
		if done[k] {
			continue
		}
		done[k] = true
		if unsupportedProgramKeys[k] {
			ip.warn(s, kv.pos(), "key %q is not supported by corral; ignored", k)
			continue
		}
		vars["here"] = kv.here
		v, err := ex.expand(kv.value)
		if err != nil {
			return p, s.err(k, err)
		}
		switch k {
		case "numprocs":
		case "command":
			if p.Command, err = SplitCommand(v); err != nil {
				return p, s.err(k, err)
			}
		case "process_name":
			p.ProcessName = v
		case "numprocs_start":
			p.NumProcsStart, err = iniInt(s, k, v, 0)
		case "priority":
			p.Priority, err = iniInt(s, k, v, math.MinInt32)
		case "autostart":
			p.Autostart, err = ParseBool(v)
		case "autorestart":
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "unexpected":
				p.Restart = RestartUnexpected
			default:
				var b bool
				if b, err = ParseBool(v); err != nil {
					err = fmt.Errorf("invalid autorestart value %q (want true, false or unexpected)", v)
				} else if b {
					p.Restart = RestartAlways
				} else {
					p.Restart = RestartNo
				}
			}
		case "startsecs", "stopwaitsecs":
			var n int
			if n, err = iniInt(s, k, v, 0); err != nil {
				return p, err
			}
			if k == "startsecs" {
				p.StartPeriod = time.Duration(n) * time.Second
			} else {
				p.StopTimeout = time.Duration(n) * time.Second
			}
		case "startretries":
			p.StartRetries, err = iniInt(s, k, v, 0)
		case "exitcodes":
			p.ExitCodes = nil
			for _, c := range strings.Split(v, ",") {
				n, cerr := strconv.Atoi(strings.TrimSpace(c))
				if cerr != nil || n < 0 || n > 255 {
					return p, s.err(k, fmt.Errorf("invalid exit code %q (want a comma-separated list of numbers from 0 to 255)", strings.TrimSpace(c)))
				}
				p.ExitCodes = append(p.ExitCodes, n)
			}
		case "stopsignal":
			p.StopSignal, err = ParseSignal(v)
		case "memory_max", "cpu_max", "pids_max", "pre_start", "post_stop", "stop_command", "hook_timeout":
			// corral's own keys (supervisord ignores keys it does not know).
			err = iniCgroupKey(s, &p, k, v)
		case "stopasgroup":
			p.StopAsGroup, err = ParseBool(v)
		case "killasgroup":
			p.KillAsGroup, err = ParseBool(v)
			killSet = true
		case "user":
			p.User = v
		case "directory":
			p.Directory = v
		case "umask":
			var u uint32
			if u, err = ParseUmask(v); err == nil {
				p.Umask = &u
			}
		case "environment":
			var m map[string]string
			if m, err = parseKVPairs(v); err == nil {
				p.Environment = envList(m)
			}
		case "redirect_stderr":
			p.Stderr.Redirect, err = ParseBool(v)
		case "stdout_logfile", "stderr_logfile":
			l := &p.Stdout
			if k == "stderr_logfile" {
				l = &p.Stderr
			}
			switch strings.ToUpper(strings.TrimSpace(v)) {
			case "NONE", "OFF", "":
				l.File = ""
			case LogAuto:
				l.File = LogAuto
			default:
				l.File = iniPath(s, k, v)
			}
		case "stdout_logfile_maxbytes", "stderr_logfile_maxbytes":
			l := &p.Stdout
			if k == "stderr_logfile_maxbytes" {
				l = &p.Stderr
			}
			l.MaxBytes, err = ParseSize(v)
		case "stdout_events_enabled", "stderr_events_enabled", "stdout_capture_maxbytes", "stderr_capture_maxbytes":
			err = iniEventKey(&p, k, v)
		case "stdout_logfile_backups", "stderr_logfile_backups":
			l := &p.Stdout
			if k == "stderr_logfile_backups" {
				l = &p.Stderr
			}
			l.Backups, err = iniInt(s, k, v, 0)
		case "health_exec", "health_http", "health_tcp", "health_interval", "health_timeout",
			"health_start_period", "health_start_interval", "health_retries", "health_on_unhealthy":
			err = iniHealth(&p.Health, k, v)
		default:
			if !isReadinessINIKey(k) && (!fcgiKeys[k] || !strings.HasPrefix(s.name, "fcgi-program:")) {
				ip.warn(s, kv.pos(), "unknown key %q; ignored", k)
			}
		}
		if err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				return p, err
			}
			return p, s.err(k, err)
		}
	}
	if !killSet {
		p.KillAsGroup = p.StopAsGroup
	}
	if err := ip.readinessINI(s, &p); err != nil {
		return p, err
	}
	if kv, ok := s.get("stderr_logfile"); ok && p.Stderr.Redirect && p.Stderr.File != "" && p.Stderr.File != LogAuto {
		// supervisord's warning, word for word.
		ip.warn(s, kv.pos(), "redirect_stderr=true but stderr_logfile has also been set to a filename, the filename has been ignored")
	}
	if _, ok := s.get("command"); !ok {
		return p, s.err("", errors.New("program has no command"))
	}
	if err := iniHealthCheck(s, p.Health); err != nil {
		return p, err
	}
	if strings.HasPrefix(s.name, "fcgi-program:") {
		return p, ip.fcgiSocket(s, ex, &p)
	}
	return p, nil
}

// parseKVPairs parses supervisord's environment syntax:
// KEY="value",KEY2=value2. Quotes (single or double) allow commas and
// blanks in a value; they are removed.
func parseKVPairs(s string) (map[string]string, error) {
	m := map[string]string{}
	i := 0
	for {
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		if i >= len(s) {
			return m, nil
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("unexpected end of key/value pairs in %q (want KEY=value,KEY2=value2)", s)
		}
		key := strings.TrimSpace(s[i : i+eq])
		if key == "" || strings.ContainsAny(key, " \t\n,\"'") {
			return nil, fmt.Errorf("invalid variable name %q in %q", key, s)
		}
		i += eq + 1
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		var val string
		if i < len(s) && (s[i] == '"' || s[i] == '\'') {
			q := s[i]
			end := strings.IndexByte(s[i+1:], q)
			if end < 0 {
				return nil, fmt.Errorf("no closing quotation in %q", s)
			}
			val = s[i+1 : i+1+end]
			i += end + 2
			for i < len(s) && isBlank(s[i]) {
				i++
			}
			if i < len(s) && s[i] != ',' {
				return nil, fmt.Errorf("expected a comma after the value of %s in %q", key, s)
			}
		} else {
			end := strings.IndexByte(s[i:], ',')
			if end < 0 {
				end = len(s) - i
			}
			val = strings.TrimSpace(s[i : i+end])
			i += end
		}
		if i < len(s) { // skip the comma
			i++
		}
		m[key] = val
	}
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
