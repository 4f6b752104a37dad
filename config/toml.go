package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ParseTOML parses a corral TOML configuration. name is used in error
// messages and to resolve relative paths (against its directory).
// Unknown keys, wrong types, and bad durations, sizes or signals are errors
// naming the file, line and key.
func ParseTOML(name string, data []byte) (*Config, error) {
	tp := &tomlParser{file: name, base: filepath.Dir(name)}
	doc, err := decodeTOML(data)
	if err != nil {
		var te *tomlError
		if errors.As(err, &te) {
			return nil, &Error{Pos: Position{name, te.line}, Err: errors.New(te.msg)}
		}
		return nil, &Error{Pos: Position{File: name}, Err: err}
	}
	tp.doc = doc
	raw := doc.values()
	cfg := &Config{File: name, Daemon: DefaultDaemon()}
	cfg.keyStateDir() // unless [daemon] state_dir says otherwise
	for _, k := range doc.keys() {
		if k != "daemon" && k != "program" && k != "group" {
			return nil, tp.errAt(nil, "", fmt.Errorf("unknown section or key %q (want daemon, program or group)", k), k)
		}
	}
	progNames, groupNames := doc.keys("program"), doc.keys("group")
	if err := tp.daemon(&cfg.Daemon, raw["daemon"]); err != nil {
		return nil, err
	}
	progs, err := tp.tables(raw["program"], "program")
	if err != nil {
		return nil, err
	}
	groups, err := tp.tables(raw["group"], "group")
	if err != nil {
		return nil, err
	}
	for _, g := range groupNames {
		grp, err := tp.group(g, groups[g])
		if err != nil {
			return nil, err
		}
		cfg.Groups = append(cfg.Groups, grp)
	}
	// Exactly as long as needed: the daemon keeps this array for the life
	// of the configuration (append would leave up to a quarter unused).
	cfg.Programs = make([]Program, 0, len(progNames))
	for _, n := range progNames {
		p, err := tp.program(n, progs[n])
		if err != nil {
			return nil, err
		}
		cfg.Programs = append(cfg.Programs, p)
	}
	err = cfg.finish(func(n string) string { return fmt.Sprintf("program %q", n) },
		func(k string) string { return k },
		func(p *Program, key string) Position {
			return Position{p.Source.File, tp.line("program", p.Name, key)}
		})
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// ProgramFromTable builds one program from the values of a program table,
// typed as a TOML decoder types them (string, int64, float64, bool, []any,
// map[string]any), with the defaults, checks and error wording of
// ParseTOML, and without a file: errors name the program and the key, not a
// line. Relative paths stay relative. The API builds the programs it adds
// at run time with it, so that they are held to the rules of a
// configuration file.
func ProgramFromTable(name string, table map[string]any) (Program, error) {
	tp := &tomlParser{}
	p, err := tp.program(name, table)
	if err != nil {
		return Program{}, err
	}
	p.Source = Position{}
	cfg := &Config{Programs: []Program{p}}
	err = cfg.finish(func(n string) string { return fmt.Sprintf("program %q", n) },
		func(k string) string { return k },
		func(*Program, string) Position { return Position{} })
	if err != nil {
		return Program{}, err
	}
	return cfg.Programs[0], nil
}

type tomlParser struct {
	file, base string
	doc        *tomlDoc // nil for a table the API built
}

// errAt builds an error for key (a dotted TOML key below section) with the
// line of path+key, or of the nearest enclosing key with one.
func (tp *tomlParser) errAt(path []string, section string, err error, key ...string) *Error {
	full := append(append([]string{}, path...), key...)
	line := tp.line(full...)
	for i := len(full) - 1; line == 0 && i > 0; i-- {
		line = tp.line(full[:i]...)
	}
	return &Error{Pos: Position{tp.file, line}, Section: section, Key: strings.Join(key, "."), Err: err}
}

// line is the line where the key path was first defined, or 0 (a key of
// an inline table, or a table the API built).
func (tp *tomlParser) line(path ...string) int {
	if tp.doc == nil {
		return 0
	}
	return tp.doc.line(path...)
}

func (tp *tomlParser) tables(v any, what string) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	if v == nil {
		return out, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, tp.errAt(nil, "", fmt.Errorf("must be a table of %ss such as [%s.NAME], not %s", what, what, typeName(v)), what)
	}
	for name, t := range m {
		tm, ok := t.(map[string]any)
		if !ok {
			return nil, tp.errAt([]string{what}, fmt.Sprintf("%s %q", what, name), fmt.Errorf("must be a table, not %s", typeName(t)), name)
		}
		out[name] = tm
	}
	return out, nil
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date/time"
	}
	return fmt.Sprintf("%T", v)
}

// tsec reads typed values out of one TOML table.
type tsec struct {
	tp      *tomlParser
	path    []string // the table's key path
	section string   // for messages: `program "web"`, `daemon`
}

func (s tsec) err(err error, key ...string) error { return s.tp.errAt(s.path, s.section, err, key...) }

func (s tsec) wrongType(v any, want string, key ...string) error {
	return s.err(fmt.Errorf("must be %s, not %s", want, typeName(v)), key...)
}

func (s tsec) str(v any, key ...string) (string, error) {
	if x, ok := v.(string); ok {
		return x, nil
	}
	return "", s.wrongType(v, "a string", key...)
}

func (s tsec) integer(v any, min int, key ...string) (int, error) {
	x, ok := v.(int64)
	if !ok {
		return 0, s.wrongType(v, "an integer", key...)
	}
	if x < int64(min) || x > math.MaxInt32 {
		return 0, s.err(fmt.Errorf("%d is out of range (must be between %d and %d)", x, min, math.MaxInt32), key...)
	}
	return int(x), nil
}

func (s tsec) boolean(v any, key ...string) (bool, error) {
	if x, ok := v.(bool); ok {
		return x, nil
	}
	return false, s.wrongType(v, "true or false", key...)
}

// duration accepts "10s" or a number of seconds.
func (s tsec) duration(v any, key ...string) (time.Duration, error) {
	var d time.Duration
	var err error
	switch x := v.(type) {
	case string:
		d, err = ParseDuration(x)
	case int64:
		d, err = ParseDuration(strconv.FormatInt(x, 10))
	case float64:
		d, err = ParseDuration(strconv.FormatFloat(x, 'g', -1, 64))
	default:
		return 0, s.wrongType(v, `a duration such as "10s"`, key...)
	}
	if err != nil {
		return 0, s.err(err, key...)
	}
	return d, nil
}

func (s tsec) size(v any, key ...string) (int64, error) {
	switch x := v.(type) {
	case string:
		n, err := ParseSize(x)
		if err != nil {
			return 0, s.err(err, key...)
		}
		return n, nil
	case int64:
		if x < 0 {
			return 0, s.err(fmt.Errorf("invalid size %d (must be >= 0)", x), key...)
		}
		return x, nil
	}
	return 0, s.wrongType(v, `a size such as "50MB"`, key...)
}

func (s tsec) table(v any, key ...string) (map[string]any, error) {
	if x, ok := v.(map[string]any); ok {
		return x, nil
	}
	return nil, s.wrongType(v, "a table", key...)
}

func (s tsec) env(v any, key string) ([]string, error) {
	m, err := s.table(v, key)
	if err != nil {
		return nil, err
	}
	env := make(map[string]string, len(m))
	for k, val := range m {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, s.err(fmt.Errorf("invalid variable name %q", k), key)
		}
		switch x := val.(type) {
		case string:
			env[k] = x
		case int64:
			env[k] = strconv.FormatInt(x, 10)
		case bool:
			env[k] = strconv.FormatBool(x)
		default:
			return nil, s.wrongType(val, "a string", key, k)
		}
		if strings.ContainsRune(env[k], 0) {
			return nil, s.err(errors.New("value contains a NUL byte"), key, k)
		}
	}
	return envList(env), nil
}

// path resolves a relative path against the configuration's directory.
func (tp *tomlParser) path(p string) string {
	if p == "" || filepath.IsAbs(p) || p == LogAuto {
		return p
	}
	return filepath.Join(tp.base, p)
}

func (tp *tomlParser) daemon(d *Daemon, v any) error {
	if v == nil {
		return nil
	}
	s := tsec{tp: tp, path: []string{"daemon"}, section: "daemon"}
	m, err := s.table(v)
	if err != nil {
		return tp.errAt(nil, "", fmt.Errorf("must be a table, not %s", typeName(v)), "daemon")
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		var err error
		switch k {
		case "socket", "state_dir", "log_dir", "logfile", "pidfile", "socket_group", "log_group", "log_level", "username", "password":
			var x string
			if x, err = s.str(v, k); err != nil {
				return err
			}
			switch k {
			case "socket":
				d.Socket = tp.path(x)
			case "state_dir":
				d.StateDir, d.SharedStateDir = tp.path(x), ""
			case "log_dir":
				d.LogDir = tp.path(x)
			case "logfile":
				d.Logfile = tp.path(x)
			case "pidfile":
				d.Pidfile = tp.path(x)
			case "socket_group":
				d.SocketGroup = x
			case "username":
				d.Username = x
			case "password":
				d.Password = x
			case "log_group":
				d.LogGroup = x
			case "log_level":
				if d.LogLevel, err = ParseLogLevel(x); err != nil {
					return s.err(err, k)
				}
			}
		case "socket_mode":
			var x string
			if x, err = s.str(v, k); err != nil {
				return err
			}
			m, perr := ParseUmask(x)
			if perr != nil {
				return s.err(fmt.Errorf("invalid mode %q (want an octal number such as 0660)", x), k)
			}
			d.SocketMode = os.FileMode(m)
		case "min_fds":
			d.MinFDs, err = s.integer(v, 0, k)
		case "min_procs":
			d.MinProcs, err = s.integer(v, 0, k)
		case "environment":
			d.Environment, err = s.env(v, k)
		case "health_listen":
			var x string
			if x, err = s.str(v, k); err == nil {
				if err = CheckHealthListen(x); err != nil {
					return s.err(err, k)
				}
				d.HealthListen = x
			}
		default:
			return s.err(errors.New("unknown key"), k)
		}
		if err != nil {
			return err
		}
	}
	if missing := missingCredential(d.Username, d.Password); missing != "" {
		return s.err(errors.New("username and password go together; set both or neither"), missing)
	}
	return nil
}

// missingCredential names the key missing from half-set credentials: ""
// when both or neither are set.
func missingCredential(username, password string) string {
	switch {
	case username != "" && password == "":
		return "password"
	case username == "" && password != "":
		return "username"
	}
	return ""
}

// ParseLogLevel maps a log level name, corral's or supervisord's (critical,
// error, warn, info, debug, trace, blather), to the daemon's (debug, info,
// warn, error).
func ParseLogLevel(s string) (string, error) {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "debug", "info", "warn", "error":
		return l, nil
	case "trace", "blather":
		return "debug", nil
	case "warning":
		return "warn", nil
	case "critical":
		return "error", nil
	}
	return "", fmt.Errorf("invalid log level %q (want debug, info, warn or error)", s)
}

// SupervisordLevel is the supervisord level name s stands for (critical,
// error, warn, info, debug, trace, blather), for a name ParseLogLevel
// accepts.
func SupervisordLevel(s string) string {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "warning":
		return "warn"
	case "critical", "error", "warn", "info", "debug", "trace", "blather":
		return l
	}
	return "info"
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}

func (tp *tomlParser) group(name string, m map[string]any) (Group, error) {
	s := tsec{tp: tp, path: []string{"group", name}, section: fmt.Sprintf("group %q", name)}
	g := Group{Name: name, Priority: DefaultPriority, Source: Position{tp.file, tp.line("group", name)}}
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch k {
		case "programs":
			arr, ok := v.([]any)
			if !ok {
				return g, s.wrongType(v, "an array of program names", k)
			}
			for _, e := range arr {
				n, ok := e.(string)
				if !ok {
					return g, s.wrongType(e, "an array of program names", k)
				}
				g.Programs = append(g.Programs, n)
			}
		case "priority":
			x, ok := v.(int64)
			if !ok || x < math.MinInt32 || x > math.MaxInt32 {
				return g, s.wrongType(v, "an integer", k)
			}
			g.Priority = int(x)
		default:
			return g, s.err(errors.New("unknown key"), k)
		}
	}
	return g, nil
}

func (tp *tomlParser) program(name string, m map[string]any) (Program, error) {
	s := tsec{tp: tp, path: []string{"program", name}, section: fmt.Sprintf("program %q", name)}
	p := NewProgram(name)
	p.Source = Position{tp.file, tp.line("program", name)}
	if p.Source.Line == 0 {
		for k := range m {
			if l := tp.line("program", name, k); l > 0 && (p.Source.Line == 0 || l < p.Source.Line) {
				p.Source.Line = l
			}
		}
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		var err error
		switch k {
		case "command":
			switch x := v.(type) {
			case string:
				if p.Command, err = SplitCommand(x); err != nil {
					return p, s.err(err, k)
				}
			case []any:
				p.Command = nil
				for _, e := range x {
					w, ok := e.(string)
					if !ok {
						return p, s.wrongType(e, "a string or an array of strings", k)
					}
					p.Command = append(p.Command, w)
				}
			default:
				return p, s.wrongType(v, "a string or an array of strings", k)
			}
		case "process_name":
			p.ProcessName, err = s.str(v, k)
		case "numprocs":
			p.NumProcs, err = s.integer(v, 1, k)
		case "numprocs_start":
			p.NumProcsStart, err = s.integer(v, 0, k)
		case "directory":
			p.Directory, err = s.str(v, k)
		case "environment":
			p.Environment, err = s.env(v, k)
		case "user":
			p.User, err = s.str(v, k)
		case "umask":
			var u uint32
			switch x := v.(type) {
			case string:
				if u, err = ParseUmask(x); err != nil {
					return p, s.err(err, k)
				}
			case int64:
				if x < 0 || x > 0o777 {
					return p, s.err(fmt.Errorf("invalid umask %d (write it as a string, umask = \"022\")", x), k)
				}
				u = uint32(x)
			default:
				return p, s.wrongType(v, `an octal string such as "022"`, k)
			}
			p.Umask = &u
		case "autostart":
			p.Autostart, err = s.boolean(v, k)
		case "restart":
			var x string
			if x, err = s.str(v, k); err != nil {
				return p, err
			}
			if p.Restart, p.RestartLimit, err = ParseRestart(x); err != nil {
				return p, s.err(err, k)
			}
		case "exit_codes":
			arr, ok := v.([]any)
			if !ok {
				return p, s.wrongType(v, "an array of integers", k)
			}
			p.ExitCodes = []int{}
			for _, e := range arr {
				c, ok := e.(int64)
				if !ok {
					return p, s.wrongType(e, "an array of integers", k)
				}
				if c < 0 || c > 255 {
					return p, s.err(fmt.Errorf("exit code %d is not between 0 and 255", c), k)
				}
				p.ExitCodes = append(p.ExitCodes, int(c))
			}
		case "start_secs":
			p.StartPeriod, err = s.duration(v, k)
		case "start_retries":
			p.StartRetries, err = s.integer(v, 0, k)
		case "backoff":
			err = s.backoff(&p.Backoff, v)
		case "fatal_retry":
			p.FatalRetry, err = s.duration(v, k)
		case "stop_signal":
			switch x := v.(type) {
			case string:
				p.StopSignal, err = ParseSignal(x)
			case int64:
				p.StopSignal, err = ParseSignal(strconv.FormatInt(x, 10))
			default:
				return p, s.wrongType(v, `a signal such as "TERM"`, k)
			}
			if err != nil {
				return p, s.err(err, k)
			}
		case "stop_timeout":
			p.StopTimeout, err = s.duration(v, k)
		case "stop_as_group":
			p.StopAsGroup, err = s.boolean(v, k)
		case "kill_as_group":
			p.KillAsGroup, err = s.boolean(v, k)
		case "memory_max", "cpu_max", "pids_max", "pre_start", "post_stop", "stop_command", "hook_timeout":
			err = s.cgroupKey(&p, k, v)
		case "priority":
			x, ok := v.(int64)
			if !ok || x < math.MinInt32 || x > math.MaxInt32 {
				return p, s.wrongType(v, "an integer", k)
			}
			p.Priority = int(x)
		case "stdout":
			err = s.logSpec(&p.Stdout, v, k)
		case "stderr":
			err = s.logSpec(&p.Stderr, v, k)
		case "stdin":
			x, ok := v.(string)
			if !ok || x != StdinNull && x != StdinPipe {
				return p, s.err(fmt.Errorf("%v: want %q or %q", v, StdinNull, StdinPipe), k)
			}
			p.Stdin = x
		case "health":
			err = s.health(&p.Health, v)
		default:
			var known bool
			if known, err = s.readinessTOML(&p.Readiness, k, v); !known {
				return p, s.err(errors.New("unknown key"), k)
			}
		}
		if err != nil {
			return p, err
		}
	}
	if _, set := m["process_name"]; !set && p.NumProcs > 1 {
		p.ProcessName = "" // Config.finish picks the default
	}
	return p, nil
}

func (s tsec) backoff(b *Backoff, v any) error {
	m, err := s.table(v, "backoff")
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch k {
		case "initial":
			b.Initial, err = s.duration(v, "backoff", k)
		case "max":
			b.Max, err = s.duration(v, "backoff", k)
		case "reset_after":
			b.ResetAfter, err = s.duration(v, "backoff", k)
		case "factor":
			switch x := v.(type) {
			case float64:
				b.Factor = x
			case int64:
				b.Factor = float64(x)
			default:
				return s.wrongType(v, "a number", "backoff", k)
			}
			if !(b.Factor >= 1 && b.Factor <= 1000) {
				return s.err(fmt.Errorf("factor %v must be between 1 and 1000", b.Factor), "backoff", k)
			}
		default:
			return s.err(errors.New("unknown key (want initial, max, factor or reset_after)"), "backoff", k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s tsec) logSpec(l *LogSpec, v any, key string) error {
	m, err := s.table(v, key)
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch k {
		case "file":
			var f string
			if f, err = s.str(v, key, k); err != nil {
				return err
			}
			switch strings.ToUpper(f) {
			case "NONE", "":
				l.File = ""
			case LogAuto:
				l.File = LogAuto
			default:
				l.File = s.tp.path(f)
			}
		case "max_bytes":
			l.MaxBytes, err = s.size(v, key, k)
		case "backups":
			l.Backups, err = s.integer(v, 0, key, k)
		case "redirect":
			if key != "stderr" {
				return s.err(errors.New("redirect is only valid for stderr"), key, k)
			}
			l.Redirect, err = s.boolean(v, key, k)
		default:
			return s.err(errors.New("unknown key (want file, max_bytes, backups or redirect)"), key, k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
