package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// Config is one configuration file (with the files it includes) after
// parsing and validation.
type Config struct {
	// File is the path the configuration was read from.
	File string
	// Daemon holds the daemon's own settings: [daemon] in TOML,
	// [supervisord] in INI.
	Daemon Daemon
	// Programs are the configured programs in the order they appear, one per
	// [program.x] or [program:x] section. A program with NumProcs > 1 is
	// still one Program; see Program.Processes.
	Programs []Program
	// Groups are the explicit groups ([group.x] or [group:x]). A program
	// that no group lists is in its own group named after it.
	Groups []Group
	// UnixHTTP is supervisord's [unix_http_server], or nil.
	UnixHTTP *UnixHTTPServer
	// InetHTTP is supervisord's [inet_http_server], or nil.
	InetHTTP *InetHTTPServer
	// Warnings lists settings that were read but are not supported, each as
	// "file:line: [section] key ...; ignored".
	Warnings []string
}

// ProgramsByName indexes the programs by name, for callers that look up
// many (Program walks the list each time). The map is the caller's: it
// points into c.Programs and is not updated when that changes.
func (c *Config) ProgramsByName() map[string]*Program {
	m := make(map[string]*Program, len(c.Programs))
	for i := range c.Programs {
		m[c.Programs[i].Name] = &c.Programs[i]
	}
	return m
}

// Program returns the program with the given name, or nil.
func (c *Config) Program(name string) *Program {
	for i := range c.Programs {
		if c.Programs[i].Name == name {
			return &c.Programs[i]
		}
	}
	return nil
}

// Daemon holds the settings of the daemon itself.
type Daemon struct {
	// Socket is the path of the API's unix socket. Default
	// /run/corral/corral.sock for root, $XDG_RUNTIME_DIR/corral.sock for
	// other users.
	Socket string
	// SocketMode is the permission of the socket file (default 0600).
	SocketMode os.FileMode
	// SocketGroup, when set, is the group that owns the socket.
	SocketGroup string
	// Username and Password, when set, are the HTTP basic credentials every
	// request on the socket needs, whatever its path (the JSON API,
	// /metrics, the XML-RPC endpoint). Password is plain text or "{SHA}"
	// followed by the hex SHA-1 of the password. TOML [daemon] username
	// and password; in a supervisord configuration, those of
	// [unix_http_server]. Read at start only: a reload does not change them.
	Username, Password string
	// StateDir holds the daemon's state database. A configuration file
	// that does not set it (TOML state_dir; supervisord's INI has no such
	// key) gets a directory of its own under the default base,
	// /var/lib/corral or $XDG_STATE_HOME/corral for other users: see
	// KeyedStateDir. So unrelated daemons never share a state.
	StateDir string
	// SharedStateDir is set when StateDir is the per-configuration default:
	// it is the base directory, whose state.db every configuration shared
	// before state was per configuration. A daemon creating its state file
	// imports from it (see store.OpenImport), so no program added at run
	// time is lost in the move.
	SharedStateDir string
	// LogDir is where "AUTO" program logs go (supervisord's childlogdir).
	// Default /var/log/corral, or $XDG_STATE_HOME/corral/log. The daemon
	// creates it with mode 0750.
	LogDir string
	// LogGroup, when set, is the group (name or gid) given to the log
	// directory and the program log files the daemon creates (log_group in
	// [daemon], or in [supervisord] as a corral extension): log files are
	// 0640 and the directory 0750, so only their owner and that group can
	// read the programs' output.
	LogGroup string
	// Logfile is the daemon's own log file; empty means standard error.
	Logfile string
	// Pidfile, when set, is where the daemon writes its pid.
	Pidfile string
	// LogLevel is the daemon's log level (debug, info, warn, error).
	LogLevel string
	// NoDaemon is supervisord's nodaemon. `corral daemon` always runs in
	// the foreground; `corral supervisord` goes to the background unless it
	// is set (or -n is given), as supervisord does.
	NoDaemon bool
	// Identifier is supervisord's identifier, what XML-RPC's
	// supervisor.getIdentification returns ("" means supervisord's default,
	// "supervisor").
	Identifier string
	// Umask and Directory are supervisord's umask and directory: the daemon's
	// umask and working directory once `corral supervisord` has gone to the
	// background (nil and "": unchanged; supervisord's umask default is 022).
	Umask     *uint32
	Directory string
	// User is supervisord's [supervisord] user (and -u): the user, name or
	// uid, the daemon becomes once its socket, state and log directory
	// are open, before it starts any program. Empty: stay who it is.
	User string
	// MinFDs and MinProcs are supervisord's minimum resource limits; 0
	// means unset.
	MinFDs, MinProcs int
	// Environment is added to every program's environment, "KEY=value"
	// sorted by key.
	Environment []string
	// Activity, set for a supervisord configuration, is supervisord's
	// activity log: its wording, line format and levels, written to
	// Logfile (and to standard output with NoDaemon unless Silent). A TOML
	// configuration keeps the structured log (nil).
	Activity *ActivityLog
	// HealthListen, when set, is a TCP address (health_listen) serving only
	// GET /livez and GET /readyz, for an orchestrator's probes. Off by
	// default.
	HealthListen string
}

// ActivityLog is how a supervisord configuration's daemon log is written:
// [supervisord] loglevel, logfile_maxbytes, logfile_backups and silent.
type ActivityLog struct {
	// Level is supervisord's level name: critical, error, warn, info,
	// debug, trace or blather (default info).
	Level string
	// MaxBytes rotates Logfile past this size (default 50MB; 0 never).
	MaxBytes int64
	// Backups is how many rotated files are kept (default 10).
	Backups int
	// Silent keeps the log off standard output even with NoDaemon.
	Silent bool
	// RPCInterface is set when the file has [rpcinterface:supervisor]
	// (supervisord logs that it initialized it).
	RPCInterface bool
}

// Program is one configured program.
type Program struct {
	// Name is the program's name, from [program.NAME] or [program:NAME].
	Name string
	// Command is the argv to run. A string in the file is split into words
	// as Python's shlex.split would, like supervisord (see SplitCommand);
	// no shell runs.
	Command []string
	// ProcessName is the pattern naming each process. It may use
	// %(program_name)s, %(group_name)s, %(host_node_name)s and
	// %(process_num)d (with a printf width, as in %(process_num)02d); it
	// must use %(process_num) when NumProcs > 1.
	ProcessName string
	// NumProcs is the number of processes to run (default 1).
	NumProcs int
	// NumProcsStart is the first process_num (default 0).
	NumProcsStart int
	// Directory, when set, is the working directory of the processes.
	Directory string
	// Environment is added to the daemon's environment, "KEY=value" sorted
	// by key.
	Environment []string
	// User, when set, is the user (name or uid) the processes run as.
	User string
	// Umask is the processes' umask; nil inherits the daemon's.
	Umask *uint32
	// Autostart starts the program when the daemon starts (default true).
	Autostart bool
	// Restart is the restart policy. TOML default on-failure; supervisord
	// default (autorestart) unexpected.
	Restart Restart
	// RestartLimit is N of on-failure:N, the number of restarts after which
	// the program stays stopped; 0 means no limit.
	RestartLimit int
	// ExitCodes are the expected exit codes (default [0]).
	ExitCodes []int
	// StartPeriod (start_secs, supervisord's startsecs) is how long a
	// process must stay up to count as started (default 1s).
	StartPeriod time.Duration
	// StartRetries is the number of failed starts in a row before the
	// program goes FATAL (default 3).
	StartRetries int
	// Backoff is the delay between restarts.
	Backoff Backoff
	// FatalRetry, when not 0, restarts a FATAL program after this delay.
	FatalRetry time.Duration
	// StopSignal is the signal that asks a process to stop (default TERM).
	StopSignal syscall.Signal
	// StopTimeout is how long to wait after StopSignal before SIGKILL
	// (default 10s).
	StopTimeout time.Duration
	// StopAsGroup sends StopSignal to the whole process group. TOML default
	// true; supervisord default false.
	StopAsGroup bool
	// KillAsGroup sends SIGKILL to the whole process group. TOML default
	// true; supervisord default is the value of stopasgroup.
	KillAsGroup bool
	// MemoryMax, CPUMax and PidsMax limit the program's processes, all
	// together, through its cgroup (memory.max, cpu.max, pids.max, as
	// ParseMemoryMax, ParseCPUMax and ParsePidsMax return them). Empty: no
	// limit. A daemon without the controller refuses the program.
	MemoryMax string `json:",omitempty"`
	CPUMax    string `json:",omitempty"`
	PidsMax   string `json:",omitempty"`
	// Hooks run around each process's life.
	Hooks Hooks `json:",omitzero"`
	// Priority orders starts (ascending) and stops (descending); default 999.
	Priority int
	// Stdout and Stderr say where the output goes.
	Stdout, Stderr LogSpec
	// Stdin is StdinNull or "" (the process reads /dev/null; the TOML
	// default) or
	// StdinPipe (a pipe the daemon keeps open, for XML-RPC's
	// supervisor.sendProcessStdin and `supervisorctl fg`; what supervisord
	// gives every process, so the default of a supervisord configuration).
	Stdin string
	// Socket, for a supervisord [fcgi-program:x], is the socket the daemon
	// creates and gives every process as its stdin; nil otherwise.
	Socket *FCGISocket
	// Group is the group the program belongs to: the [group] that lists it,
	// otherwise its own name.
	Group string
	// Health, when not nil, is the processes' health check.
	Health *Health `json:",omitempty"`
	// Source is where the program's section starts.
	Source Position
	// Readiness: ready, watchdog and dependency keys (ready.go).
	Readiness
	// Listener, when set, makes the program a pool of supervisord event
	// listeners ([eventlistener:x]).
	Listener *Listener `json:",omitempty"`
}

// Restart is a restart policy.
type Restart string

// The restart policies. On-failure and unexpected both restart when the exit
// code is not in ExitCodes; on-failure also counts toward RestartLimit and,
// as in Docker, a stop by the user is never a failure.
const (
	RestartNo            Restart = "no"
	RestartAlways        Restart = "always"
	RestartOnFailure     Restart = "on-failure"
	RestartUnlessStopped Restart = "unless-stopped"
	RestartUnexpected    Restart = "unexpected"
)

// Backoff is the delay between restarts: Initial, multiplied by Factor
// after each restart, capped at Max, and back to Initial once a process
// has run for ResetAfter.
type Backoff struct {
	Initial    time.Duration // default 100ms; 0 restarts at once
	Max        time.Duration // default 1m
	Factor     float64       // default 2
	ResetAfter time.Duration // default 10s
}

// LogAuto is the LogSpec.File value that asks for a log file named by the
// daemon under Daemon.LogDir.
const LogAuto = "AUTO"

// LogSpec says where one output stream of a program goes.
type LogSpec struct {
	// File is "" (discard), LogAuto, or a path.
	File string
	// MaxBytes rotates the file when it grows past this size; 0 never
	// rotates. Default 50MB.
	MaxBytes int64
	// Backups is the number of rotated files kept (default 10).
	Backups int
	// Redirect (stderr only) sends stderr to stdout's destination; File is
	// then ignored.
	Redirect bool
	// Events sends the output to event listeners as PROCESS_LOG_STDOUT or
	// _STDERR events (supervisord's stdout_events_enabled).
	Events bool `json:",omitempty"`
	// CaptureMaxBytes, when > 0, turns on supervisord's capture mode
	// (stdout_capture_maxbytes): output between <!--XSUPERVISOR:BEGIN-->
	// and <!--XSUPERVISOR:END--> becomes a PROCESS_COMMUNICATION event.
	CaptureMaxBytes int64 `json:",omitempty"`
}

// Group is an explicit group of programs.
type Group struct {
	Name     string
	Programs []string // program names, in the order listed
	Priority int      // default 999
	Source   Position
}

// UnixHTTPServer is supervisord's [unix_http_server], the socket that
// supervisorctl talks XML-RPC to.
type UnixHTTPServer struct {
	File     string
	Chmod    os.FileMode // default 0700
	Chown    string      // "user" or "user:group"; empty keeps the daemon's
	Username string
	Password string // plain text or "{SHA}" followed by a hex SHA-1
	Source   Position
}

// InetHTTPServer is supervisord's [inet_http_server].
type InetHTTPServer struct {
	Port     string // "host:port"; a bare port listens on all addresses
	Username string
	Password string
	Source   Position
}

// Position is a place in a configuration file.
type Position struct {
	File string
	Line int
}

// String returns "file:line", or just the file when the line is unknown.
func (p Position) String() string {
	if p.Line <= 0 {
		return p.File
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}

// Error is a configuration error. Its message names the place and the key:
//
//	corral.toml:12: program "web": key "stop_signal": unknown signal "TERMX"
type Error struct {
	Pos     Position
	Section string // e.g. `program "web"` or `[unix_http_server]`; may be empty
	Key     string // may be empty
	Err     error
}

// Error formats the error as "file:line: section: key \"k\": message",
// leaving out the parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if s := e.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	if e.Section != "" {
		b.WriteString(e.Section)
		b.WriteString(": ")
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "key %q: ", e.Key)
	}
	if e.Err == nil {
		b.WriteString("invalid configuration")
	} else {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Values of Program.Stdin.
const (
	StdinNull = "null"
	StdinPipe = "pipe"
)

// Default values shared by both formats.
const (
	// MaxNumProcs bounds numprocs.
	MaxNumProcs = 10000

	DefaultPriority     = 999
	DefaultStartPeriod  = time.Second
	DefaultStartRetries = 3
	DefaultStopTimeout  = 10 * time.Second
	DefaultLogMaxBytes  = 50 << 20
	DefaultLogBackups   = 10
)

// DefaultBackoff is Docker's restart manager backoff.
var DefaultBackoff = Backoff{Initial: 100 * time.Millisecond, Max: time.Minute, Factor: 2, ResetAfter: 10 * time.Second}

// NewProgram returns a program named name with the TOML defaults. The
// supervisord reader starts from it and changes what supervisord defaults
// differently.
func NewProgram(name string) Program {
	return Program{
		Name:         name,
		ProcessName:  "%(program_name)s",
		NumProcs:     1,
		Autostart:    true,
		Restart:      RestartOnFailure,
		ExitCodes:    []int{0},
		StartPeriod:  DefaultStartPeriod,
		StartRetries: DefaultStartRetries,
		Backoff:      DefaultBackoff,
		StopSignal:   syscall.SIGTERM,
		StopTimeout:  DefaultStopTimeout,
		StopAsGroup:  true,
		KillAsGroup:  true,
		Priority:     DefaultPriority,
		Stdout:       LogSpec{File: LogAuto, MaxBytes: DefaultLogMaxBytes, Backups: DefaultLogBackups},
		Stderr:       LogSpec{File: LogAuto, MaxBytes: DefaultLogMaxBytes, Backups: DefaultLogBackups},
		Group:        name,
	}
}

// KeyedStateDir returns the state directory of one configuration under
// base: base/NAME-HASH, where NAME is the base name of key (the
// configuration file's absolute path, or the socket's when the daemon runs
// without a file) and HASH the first 16 hex digits of key's SHA-256. Two
// files of the same name in different directories get different
// directories; the same file always the same one.
func KeyedStateDir(base, key string) string {
	sum := sha256.Sum256([]byte(key))
	name := []byte(filepath.Base(key))
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			name[i] = '_'
		}
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return filepath.Join(base, string(name)+"-"+hex.EncodeToString(sum[:8]))
}

// keyStateDir gives the configuration file c.File the state directory of
// its own under the default base (the file may set another).
func (c *Config) keyStateDir() {
	abs, err := filepath.Abs(c.File)
	if err != nil {
		abs = c.File
	}
	c.Daemon.SharedStateDir = c.Daemon.StateDir
	c.Daemon.StateDir = KeyedStateDir(c.Daemon.StateDir, abs)
}

// DefaultDaemon returns the daemon defaults for the current user.
func DefaultDaemon() Daemon { return defaultDaemon(os.Geteuid(), os.Getenv) }

func defaultDaemon(euid int, getenv func(string) string) Daemon {
	d := Daemon{SocketMode: 0o600, LogLevel: "info"}
	if euid == 0 {
		d.Socket = "/run/corral/corral.sock"
		d.StateDir = "/var/lib/corral"
		d.LogDir = "/var/log/corral"
		return d
	}
	run := getenv("XDG_RUNTIME_DIR")
	if run == "" {
		run = filepath.Join(os.TempDir(), "corral-"+strconv.Itoa(euid))
	}
	state := getenv("XDG_STATE_HOME")
	if state == "" {
		if home := getenv("HOME"); home != "" {
			state = filepath.Join(home, ".local", "state")
		} else {
			state = filepath.Join(os.TempDir(), "corral-"+strconv.Itoa(euid), "state")
		}
	}
	d.Socket = filepath.Join(run, "corral.sock")
	d.StateDir = filepath.Join(state, "corral")
	d.LogDir = filepath.Join(state, "corral", "log")
	return d
}

// Load reads the configuration file at path. Files ending in .toml are
// TOML; .conf and .ini are supervisord INI; for any other name the content
// decides (a [supervisord] or [program:...] section means INI). INI files
// see the process environment for %(ENV_X)s. Every file read, included
// ones too, must be a regular file of at most MaxFileSize bytes.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if IsINI(path, data) {
		return ParseINI(path, data, os.Environ())
	}
	return ParseTOML(path, data)
}

// IsINI reports whether Load would read the file as supervisord INI.
func IsINI(path string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		return false
	case ".conf", ".ini":
		return true
	}
	for line := range bytes.Lines(data) {
		l := strings.TrimSpace(string(line))
		if l == "[supervisord]" || strings.HasPrefix(l, "[program:") || strings.HasPrefix(l, "[group:") || l == "[unix_http_server]" || l == "[include]" {
			return true
		}
	}
	return false
}

// Validate checks a program on its own (the parsers also check names
// across programs). Its errors are *Error values naming p.Source and the
// TOML key at fault; the API uses it for programs added at run time.
func (p *Program) Validate() error {
	if key, err := p.validate(); err != nil {
		return &Error{Pos: p.Source, Section: fmt.Sprintf("program %q", p.Name), Key: key, Err: err}
	}
	return nil
}

// validate returns the TOML name of the faulty key with the error.
func (p *Program) validate() (string, error) {
	if err := checkName(p.Name); err != nil {
		return "", err
	}
	if len(p.Command) == 0 || p.Command[0] == "" {
		return "command", errors.New("program has no command")
	}
	if p.NumProcs < 1 {
		return "numprocs", fmt.Errorf("must be >= 1, not %d", p.NumProcs)
	}
	if p.NumProcsStart < 0 {
		return "numprocs_start", fmt.Errorf("must be >= 0, not %d", p.NumProcsStart)
	}
	if p.NumProcs > MaxNumProcs {
		return "numprocs", fmt.Errorf("%d is too many processes (the limit is %d)", p.NumProcs, MaxNumProcs)
	}
	if p.NumProcsStart > math.MaxInt32-p.NumProcs {
		return "numprocs_start", fmt.Errorf("%d is too large", p.NumProcsStart)
	}
	if p.NumProcs > 1 && !strings.Contains(p.ProcessName, "%(process_num)") {
		return "process_name", fmt.Errorf("%q must include %%(process_num)d when numprocs > 1", p.ProcessName)
	}
	if p.Health != nil {
		if key, err := p.Health.check(); err != nil {
			return strings.TrimSuffix("health."+key, "."), err
		}
	}
	if p.Umask != nil && *p.Umask > 0o777 {
		return "umask", fmt.Errorf("invalid umask %#o", *p.Umask)
	}
	if _, _, err := ParseRestart(string(p.Restart)); err != nil {
		return "restart", err
	}
	if p.RestartLimit < 0 {
		return "restart", errors.New("on-failure:N needs N >= 0")
	}
	for _, c := range p.ExitCodes {
		if c < 0 || c > 255 {
			return "exit_codes", fmt.Errorf("exit code %d is not between 0 and 255", c)
		}
	}
	if p.StartPeriod < 0 {
		return "start_secs", errors.New("must be >= 0")
	}
	if p.StartRetries < 0 {
		return "start_retries", fmt.Errorf("must be >= 0, not %d", p.StartRetries)
	}
	// initial = 0 restarts at once, as supervisord does.
	if b := p.Backoff; b.Initial < 0 || b.Max < b.Initial || !(b.Factor >= 1) || b.Factor > 1000 || b.ResetAfter < 0 {
		return "backoff", fmt.Errorf("need 0 <= initial <= max, 1 <= factor <= 1000 and reset_after >= 0 (have initial %v, max %v, factor %v, reset_after %v)", b.Initial, b.Max, b.Factor, b.ResetAfter)
	}
	if p.FatalRetry < 0 {
		return "fatal_retry", errors.New("must be >= 0")
	}
	if p.StopSignal < 1 || p.StopSignal > 64 {
		return "stop_signal", fmt.Errorf("unknown signal %d", int(p.StopSignal))
	}
	if p.StopAsGroup && !p.KillAsGroup {
		return "kill_as_group", errors.New("cannot stop the process group but kill only its leader (set kill_as_group too)")
	}
	if p.StopTimeout < 0 {
		return "stop_timeout", errors.New("must be >= 0")
	}
	for _, l := range []struct {
		key  string
		spec LogSpec
	}{{"stdout", p.Stdout}, {"stderr", p.Stderr}} {
		if l.spec.MaxBytes < 0 {
			return l.key, errors.New("max_bytes must be >= 0")
		}
		if l.spec.Backups < 0 {
			return l.key, errors.New("backups must be >= 0")
		}
	}
	if p.Stdout.Redirect {
		return "stdout", errors.New("redirect is only valid for stderr")
	}
	for _, kv := range p.Environment {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsRune(kv, 0) {
			return "environment", fmt.Errorf("invalid variable %q", kv)
		}
	}
	if err := checkName(p.Group); err != nil {
		return "group", err
	}
	if key, err := p.Readiness.validate(); err != nil {
		return key, err
	}
	seen := make(map[string]bool, p.NumProcs)
	for i, name := range p.processNames() {
		if err := checkName(name); err != nil {
			return "process_name", fmt.Errorf("process %d: %w", p.NumProcsStart+i, err)
		}
		if seen[name] {
			return "process_name", fmt.Errorf("%q names two processes %q", p.ProcessName, name)
		}
		seen[name] = true
	}
	return "", nil
}

// MaxNameLen bounds program, group and process names, in bytes. A log file
// is named after "group:process" plus "-stdout.log" and a rotation suffix,
// and a file name has at most 255 bytes (NAME_MAX): two names of 100 bytes
// leave room for the rest.
const MaxNameLen = 100

// reservedNames are the targets the CLI, the API and supervisorctl give a
// meaning of their own ("all" processes, "GROUP:*"), and the path
// components that log file names must not be.
var reservedNames = map[string]string{
	"all": "it means every process to the CLI and the API",
	"*":   `it means every process of a group ("GROUP:*")`,
	".":   "it is a path component (log files are named after programs)",
	"..":  "it is a path component (log files are named after programs)",
}

// checkName applies the rule for program, group and process names, which
// become parts of "group:process" names, of CLI targets and of log file
// names, and are printed on terminals: supervisord's (no blank, no ':', no
// '/'), plus no control or other unprintable character, no reserved name,
// at most MaxNameLen bytes of UTF-8. Every way a program comes in (TOML,
// INI, the API through Program.Validate) goes through it.
func checkName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("empty name")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("invalid name %q...: %d bytes is longer than the %d allowed", name[:32], len(name), MaxNameLen)
	}
	if why, ok := reservedNames[name]; ok {
		return fmt.Errorf("invalid name %q: the name is reserved: %s", name, why)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("invalid name %q: it is not valid UTF-8", name)
	}
	if i := strings.IndexAny(name, " :/"); i >= 0 {
		return fmt.Errorf("invalid name %q: it contains %q", name, name[i])
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("invalid name %q: it contains the unprintable character %U", name, r)
		}
	}
	return nil
}

// Process is one process of a program after numprocs expansion.
type Process struct {
	// Name is the expanded process_name.
	Name string
	// Num is the process_num, from NumProcsStart on.
	Num int
	// Program is the program with %(process_num)d expanded in its command,
	// directory, environment and log file names; its ProcessName is Name.
	Program Program
}

// FullName is the name supervisorctl shows: "group:process", or just the
// process name when it equals its group's name.
func (p Process) FullName() string {
	if p.Program.Group == p.Name || p.Program.Group == "" {
		return p.Name
	}
	return p.Program.Group + ":" + p.Name
}

// Processes expands the program into its NumProcs processes, numbered from
// NumProcsStart, substituting %(process_num)d (and the other names that
// ProcessName may use) in ProcessName, Command, Directory, Environment and
// the log file names.
func (p Program) Processes() []Process {
	ex := p.expander()
	out := make([]Process, 0, max(p.NumProcs, 1))
	for i := range max(p.NumProcs, 1) {
		num := p.NumProcsStart + i
		ex.vars["process_num"] = num
		q := p
		q.Command = slices.Clone(p.Command)
		q.Environment = slices.Clone(p.Environment)
		do := func(s *string) { *s, _ = ex.expand(*s) } // lenient: never fails
		for j := range q.Command {
			do(&q.Command[j])
		}
		for j := range q.Environment {
			do(&q.Environment[j])
		}
		do(&q.ProcessName)
		do(&q.Directory)
		do(&q.Stdout.File)
		do(&q.Stderr.File)
		out = append(out, Process{Name: q.ProcessName, Num: num, Program: q})
	}
	return out
}

// processNames is Processes without the copies, for validation.
func (p Program) processNames() []string {
	ex := p.expander()
	out := make([]string, 0, max(p.NumProcs, 1))
	for i := range max(p.NumProcs, 1) {
		ex.vars["process_num"] = p.NumProcsStart + i
		name, _ := ex.expand(p.ProcessName)
		out = append(out, name)
	}
	return out
}

// expander returns the lenient expander of the names every process of p
// shares.
func (p Program) expander() expander {
	return expander{vars: map[string]any{
		"program_name": p.Name,
		"group_name":   p.Group,
		"numprocs":     p.NumProcs,
	}, lazyHost: true}
}

// expandNames substitutes the names that are the same for every process
// of p, leaving %(process_num)d for Processes. The INI reader has already
// done this (strictly); for TOML this is the only pass.
func (p *Program) expandNames() {
	ex := p.expander()
	do := func(s *string) { *s, _ = ex.expand(*s) } // lenient: never fails
	do(&p.ProcessName)
	for i := range p.Command {
		do(&p.Command[i])
	}
	for i := range p.Environment {
		do(&p.Environment[i])
	}
	do(&p.Directory)
	do(&p.Stdout.File)
	do(&p.Stderr.File)
}

// envList turns a map into sorted "KEY=value" strings.
func envList(m map[string]string) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + m[k]
	}
	return out
}

// finish checks what needs all programs and groups together: unique
// names, group membership, and each program's own validation. posOf maps a
// program and one of its TOML key names to where that key is set (Line 0:
// unknown, the program's Source is named instead).
func (c *Config) finish(section func(name string) string, keyName func(string) string, posOf func(p *Program, key string) Position) error {
	byName := make(map[string]*Program, len(c.Programs))
	for i := range c.Programs {
		p := &c.Programs[i]
		p.Group = p.Name
		byName[p.Name] = p
	}
	groupNames := make(map[string]bool)
	member := make(map[string]bool)
	for _, g := range c.Groups {
		sec := strings.Replace(section(g.Name), "program", "group", 1)
		if err := checkName(g.Name); err != nil {
			return &Error{Pos: g.Source, Section: sec, Err: err}
		}
		if groupNames[g.Name] {
			return &Error{Pos: g.Source, Section: sec, Err: errors.New("duplicate group")}
		}
		groupNames[g.Name] = true
		for _, name := range g.Programs {
			p := byName[name]
			if p == nil {
				return &Error{Pos: g.Source, Section: sec, Key: "programs", Err: fmt.Errorf("no program named %q", name)}
			}
			if member[name] {
				return &Error{Pos: g.Source, Section: sec, Key: "programs", Err: fmt.Errorf("program %q is already in group %q", name, p.Group)}
			}
			member[name] = true
			p.Group = g.Name
		}
	}
	fullNames := make(map[string]string)
	for i := range c.Programs {
		p := &c.Programs[i]
		p.expandNames()
		if groupNames[p.Name] && !member[p.Name] {
			return &Error{Pos: p.Source, Section: section(p.Name), Err: fmt.Errorf("a group is also named %q", p.Name)}
		}
		if p.ProcessName == "" {
			// TOML's default for numprocs > 1: "web:0" when the program is
			// its own group, "site:web_0" inside a named group.
			p.ProcessName = "%(process_num)d"
			if p.Group != p.Name {
				p.ProcessName = "%(program_name)s_%(process_num)d"
			}
		}
		if key, err := p.validate(); err != nil {
			e := &Error{Pos: p.Source, Section: section(p.Name), Err: err}
			if key != "" {
				e.Key = keyName(key)
				if pos := posOf(p, key); pos.Line > 0 {
					e.Pos = pos
				}
			}
			return e
		}
		for _, name := range p.processNames() {
			full := Process{Name: name, Program: Program{Group: p.Group}}.FullName()
			if other, dup := fullNames[full]; dup {
				e := &Error{Pos: p.Source, Section: section(p.Name), Key: keyName("process_name"), Err: fmt.Errorf("process %q is also a process of program %q", full, other)}
				if pos := posOf(p, "process_name"); pos.Line > 0 {
					e.Pos = pos
				}
				return e
			}
			fullNames[full] = p.Name
		}
	}
	return c.checkDeps(section, keyName, posOf)
}
