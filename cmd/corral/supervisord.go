package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
	"github.com/corralhq/corral/handoff"
	"github.com/corralhq/corral/monitor"
)

func init() { register(newSupervisordCmd) }

// supervisordName is the name under which the corral binary behaves as
// supervisord (a symlink or a copy named so): `supervisord ARGS` is then
// `corral supervisord ARGS`.
const supervisordName = "supervisord"

func newSupervisordCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "supervisord [options]",
		Short: "Run the supervisor with supervisord's command line",
		Long: `Run the supervisor as supervisord 4 runs: its options (see -h), its search
for a configuration file when -c is absent, and, unless -n or nodaemon=true,
in the background once the socket is listening. The corral binary installed
under the name supervisord behaves the same way.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			code := runSupervisord(cmd.Context(), os.Args[0]+" supervisord", os.Args[0], args, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
}

// supervisordHelp is supervisord 4.2.5's usage text ("%s" is the program's
// name), followed by what corral does differently.
const supervisordHelp = `supervisord -- run a set of applications as daemons.

Usage: %s [options]

Options:
-c/--configuration FILENAME -- configuration file path (searches if not given)
-n/--nodaemon -- run in the foreground (same as 'nodaemon=true' in config file)
-s/--silent -- no logs to stdout (maps to 'silent=true' in config file)
-h/--help -- print this usage message and exit
-v/--version -- print supervisord version number and exit
-u/--user USER -- run supervisord as this user (or numeric uid)
-m/--umask UMASK -- use this umask for daemon subprocess (default is 022)
-d/--directory DIRECTORY -- directory to chdir to when daemonized
-l/--logfile FILENAME -- use FILENAME as logfile path
-y/--logfile_maxbytes BYTES -- use BYTES to limit the max size of logfile
-z/--logfile_backups NUM -- number of backups to keep when max bytes reached
-e/--loglevel LEVEL -- use LEVEL as log level (debug,info,warn,error,critical)
-j/--pidfile FILENAME -- write a pid file for the daemon process to FILENAME
-i/--identifier STR -- identifier used for this instance of supervisord
-q/--childlogdir DIRECTORY -- the log directory for child process logs
-k/--nocleanup --  prevent the process from performing cleanup (removal of
                   old automatic child log files) at startup.
-a/--minfds NUM -- the minimum number of file descriptors for start success
-t/--strip_ansi -- strip ansi escape codes from process output
--minprocs NUM  -- the minimum number of processes available for start success
--profile_options OPTIONS -- run supervisord under profiler and output
                             results based on OPTIONS, which  is a comma-sep'd
                             list of 'cumulative', 'calls', and/or 'callers',
                             e.g. 'cumulative,callers')

corral differs:
-u/--user (and user=) takes effect once the socket, the state and the log
directory are open (supervisord: before it opens them).
--profile_options is refused (a Python profiler).
-v prints corral's version. -k changes nothing: corral never removes old
automatic child log files. -t is accepted with a warning (not supported).
Without -l or logfile, corral logs to standard output with -n (nodaemon),
to standard error otherwise (supervisord: to supervisord.log in the
current directory); without -q or childlogdir,
AUTO child logs go to /var/log/corral (supervisord: the temporary directory).
`

// supervisordOpt is one of supervisord's options.
type supervisordOpt struct {
	short string // one letter, or ""
	long  string
	arg   bool
}

// supervisordOpts is supervisord 4.2.5's option table (options.py), in its
// order.
var supervisordOpts = []supervisordOpt{
	{"h", "help", false}, {"?", "", false}, {"c", "configuration", true},
	{"v", "version", false}, {"n", "nodaemon", false}, {"u", "user", true},
	{"m", "umask", true}, {"d", "directory", true}, {"l", "logfile", true},
	{"y", "logfile_maxbytes", true}, {"z", "logfile_backups", true},
	{"e", "loglevel", true}, {"j", "pidfile", true}, {"i", "identifier", true},
	{"q", "childlogdir", true}, {"a", "minfds", true}, {"", "minprocs", true},
	{"k", "nocleanup", false}, {"t", "strip_ansi", false},
	{"", "profile_options", true}, {"s", "silent", false},
}

// parsedOpt is one option as given, with the spelling used (for messages).
type parsedOpt struct {
	opt   *supervisordOpt
	given string
	value string
}

// parseSupervisordArgs reads args as Python's getopt.getopt does with
// supervisord's table: short options may be grouped (-nc FILE) and take
// their argument attached or next; long ones take --name=VALUE or --name
// VALUE and may be shortened to a unique prefix; "--" ends the options and
// the first argument that is not an option ends them too (supervisord then
// refuses it as positional).
func parseSupervisordArgs(args []string) (opts []parsedOpt, rest []string, err error) {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "--") {
			name, value, hasValue := strings.Cut(a[2:], "=")
			o, err := longOpt(name)
			if err != nil {
				return nil, nil, err
			}
			switch {
			case o.arg && !hasValue:
				if len(args) == 0 {
					return nil, nil, fmt.Errorf("option --%s requires argument", o.long)
				}
				value, args = args[0], args[1:]
			case !o.arg && hasValue:
				return nil, nil, fmt.Errorf("option --%s must not have an argument", o.long)
			}
			opts = append(opts, parsedOpt{o, "--" + o.long, value})
			continue
		}
		for s := a[1:]; s != ""; {
			o := shortOpt(s[:1])
			if o == nil {
				return nil, nil, fmt.Errorf("option -%s not recognized", s[:1])
			}
			letter := s[:1]
			s = s[1:]
			var value string
			if o.arg {
				if s == "" {
					if len(args) == 0 {
						return nil, nil, fmt.Errorf("option -%s requires argument", letter)
					}
					s, args = args[0], args[1:]
				}
				value, s = s, ""
			}
			opts = append(opts, parsedOpt{o, "-" + letter, value})
		}
	}
	return opts, args, nil
}

func shortOpt(letter string) *supervisordOpt {
	for i := range supervisordOpts {
		if supervisordOpts[i].short == letter {
			return &supervisordOpts[i]
		}
	}
	return nil
}

// longOpt finds a long option by its name or a unique prefix of it.
func longOpt(name string) (*supervisordOpt, error) {
	var found *supervisordOpt
	for i := range supervisordOpts {
		o := &supervisordOpts[i]
		if o.long == "" || !strings.HasPrefix(o.long, name) {
			continue
		}
		if o.long == name {
			return o, nil
		}
		if found != nil {
			return nil, fmt.Errorf("option --%s not a unique prefix", name)
		}
		found = o
	}
	if found == nil {
		return nil, fmt.Errorf("option --%s not recognized", name)
	}
	return found, nil
}

// supervisordSearchPaths returns where supervisord looks for its
// configuration without -c, in order (options.py): relative to the
// directory above the one holding the program, then the current directory,
// then /etc.
func supervisordSearchPaths(argv0 string) []string {
	if !strings.Contains(argv0, "/") {
		// Python's sys.argv[0] is the script's path even when the shell
		// found it in $PATH; a Go program gets the bare name.
		if p, err := exec.LookPath(argv0); err == nil {
			argv0 = p
		}
	}
	here := pyDirname(pyDirname(argv0))
	return []string{
		pyJoin(here, "etc", "supervisord.conf"),
		pyJoin(here, "supervisord.conf"),
		"supervisord.conf",
		"etc/supervisord.conf",
		"/etc/supervisord.conf",
		"/etc/supervisor/supervisord.conf",
	}
}

// pyDirname is Python's os.path.dirname: "" for a bare name.
func pyDirname(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	head := p[:i+1]
	if strings.Trim(head, "/") != "" {
		head = strings.TrimRight(head, "/")
	}
	return head
}

// pyJoin is Python's os.path.join for relative parts.
func pyJoin(parts ...string) string {
	out := ""
	for _, p := range parts {
		switch {
		case out == "" || strings.HasSuffix(out, "/"):
			out += p
		default:
			out += "/" + p
		}
	}
	return out
}

// supervisordSettings is what the options set; nil or "" is not given.
type supervisordSettings struct {
	configFile              string
	nodaemon                bool
	umask                   *uint32
	directory               string
	logfile, pidfile        string
	loglevel                string
	identifier, childlogdir string
	minfds, minprocs        *int
	logMaxBytes             *int64
	logBackups              *int
	silent                  bool
	user                    string
	unsupported             []string // accepted with a warning
}

// runSupervisord is `supervisord ARGS`: progname names the program in
// messages, argv0 is the path it was started as (for the configuration
// search). It returns the exit status.
func runSupervisord(ctx context.Context, progname, argv0 string, args []string, stdout, stderr io.Writer) int {
	usage := func(msg string) int {
		fmt.Fprintf(stderr, "Error: %s\nFor help, use %s -h\n", msg, progname)
		return 2
	}
	opts, rest, err := parseSupervisordArgs(args)
	if err != nil {
		return usage(err.Error())
	}
	if len(rest) > 0 {
		return usage("positional arguments are not supported: " + pyList(rest))
	}
	var set supervisordSettings
	seen := map[*supervisordOpt]bool{}
	for _, po := range opts {
		o, v := po.opt, po.value
		invalid := func(err error) int {
			return usage(fmt.Sprintf("invalid value for %s %s: %v", po.given, pyRepr(v), err))
		}
		switch o.long {
		case "help", "":
			fmt.Fprint(stdout, strings.Replace(supervisordHelp, "%s", progname, 1))
			return 0
		case "version":
			fmt.Fprintln(stdout, version)
			return 0
		}
		switch o.long {
		case "configuration":
			set.configFile = v
		case "nodaemon":
			set.nodaemon = true
		case "user":
			if !userExists(v) {
				return usage("Invalid user name " + v)
			}
			set.user = v
		case "umask":
			n, err := strconv.ParseUint(v, 8, 32)
			if err != nil || n > 0o777 {
				return invalid(fmt.Errorf("%s can not be converted to an octal type", v))
			}
			u := uint32(n)
			set.umask = &u
		case "directory", "childlogdir":
			if st, err := os.Stat(v); err != nil || !st.IsDir() {
				return invalid(fmt.Errorf("%s is not an existing directory", v))
			}
			abs, _ := filepath.Abs(v)
			if o.long == "directory" {
				set.directory = abs
			} else {
				set.childlogdir = abs
			}
		case "logfile", "pidfile":
			if dir := filepath.Dir(v); dir != "." {
				if st, err := os.Stat(dir); err != nil || !st.IsDir() {
					// supervisord's wording, capital included.
					return usage(fmt.Sprintf("invalid value for %s %s: The directory named as part of the path %s does not exist", po.given, pyRepr(v), v))
				}
			}
			abs, _ := filepath.Abs(v)
			if o.long == "logfile" {
				set.logfile = abs
			} else {
				set.pidfile = abs
			}
		case "logfile_maxbytes":
			n, err := config.ParseSize(v)
			if err != nil {
				return invalid(err)
			}
			set.logMaxBytes = &n
		case "logfile_backups", "minfds", "minprocs":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > math.MaxInt32 {
				return invalid(fmt.Errorf("not a number: %q", v))
			}
			switch o.long {
			case "minfds":
				set.minfds = &n
			case "minprocs":
				set.minprocs = &n
			default:
				set.logBackups = &n
			}
		case "loglevel":
			if _, err := config.ParseLogLevel(v); err != nil {
				return invalid(fmt.Errorf("bad logging level name %s", pyRepr(v)))
			}
			set.loglevel = v
		case "identifier":
			set.identifier = v
		case "strip_ansi":
			set.unsupported = append(set.unsupported, po.given)
		case "silent":
			set.silent = true
		case "nocleanup":
			// corral never removes old AUTO logs.
		case "profile_options":
			return usage(fmt.Sprintf("%s: a Python profiler; corral has none", po.given))
		}
		if seen[o] {
			return usage(fmt.Sprintf("conflicting command line option %s", pyRepr(po.given)))
		}
		seen[o] = true
	}

	file := set.configFile
	if file == "" {
		if os.Geteuid() == 0 {
			fmt.Fprintln(stderr, "Warning: Supervisord is running as root and it is searching "+
				"for its configuration file in default locations "+
				"(including its current working directory); you "+
				"probably want to specify a \"-c\" argument specifying an "+
				"absolute path to a configuration file for improved "+
				"security.")
		}
		paths := supervisordSearchPaths(argv0)
		for _, p := range paths {
			if _, err := os.Stat(p); err == nil {
				file = p
				break
			}
		}
		if file == "" {
			return usage(fmt.Sprintf("No config file found at default paths (%s); use the -c option to specify a config file at a different path", strings.Join(paths, ", ")))
		}
	}
	if _, err := os.Stat(file); err != nil {
		return usage("could not find config file " + file)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return usage(err.Error())
	}
	if err := daemonPrelude(); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	cfg, err := config.Load(abs)
	if err != nil {
		return usage(err.Error())
	}
	if u := cfg.Daemon.User; u != "" && set.user == "" && !userExists(u) {
		return usage("Invalid user name " + u)
	}
	set.apply(cfg)

	// An upgraded image (handoff.EnvFD) is already the background copy.
	if !cfg.Daemon.NoDaemon && os.Getenv(supervisordChildEnv) == "" && os.Getenv(handoff.EnvFD) == "" {
		return daemonize(stderr)
	}
	ready, err := daemonizedChild(cfg.Daemon)
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	if err := runDaemonConfig(ctx, cfg, daemonRun{stderr: stderr, ready: ready}); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	return 0
}

// apply lays the options over the configuration file's values: supervisord's
// command line wins over its file.
func (set *supervisordSettings) apply(cfg *config.Config) {
	d := &cfg.Daemon
	if set.nodaemon {
		d.NoDaemon = true
	}
	if set.umask != nil {
		d.Umask = set.umask
	}
	if set.directory != "" {
		d.Directory = set.directory
	}
	if set.logfile != "" {
		d.Logfile = set.logfile
	}
	if set.pidfile != "" {
		d.Pidfile = set.pidfile
	}
	if set.loglevel != "" {
		d.LogLevel, _ = config.ParseLogLevel(set.loglevel)
	}
	if a := d.Activity; a != nil {
		if set.loglevel != "" {
			a.Level = config.SupervisordLevel(set.loglevel)
		}
		if set.logMaxBytes != nil {
			a.MaxBytes = *set.logMaxBytes
		}
		if set.logBackups != nil {
			a.Backups = *set.logBackups
		}
		a.Silent = a.Silent || set.silent
	}
	if set.identifier != "" {
		d.Identifier = set.identifier
	}
	if set.user != "" {
		d.User = set.user
	}
	if set.childlogdir != "" {
		d.LogDir = set.childlogdir
	}
	if set.minfds != nil {
		d.MinFDs = *set.minfds
	}
	if set.minprocs != nil {
		d.MinProcs = *set.minprocs
	}
	for _, o := range set.unsupported {
		cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("command line: option %s is not supported by corral; ignored", o))
	}
}

// pyRepr quotes s as Python's repr does for plain strings.
func pyRepr(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

func pyList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = pyRepr(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// supervisordChildEnv marks the background copy `corral supervisord`
// starts: its value is the descriptor on which it says it is ready.
const supervisordChildEnv = "CORRAL_SUPERVISORD_DAEMONIZED"

// daemonize goes to the background as supervisord does, once the socket is
// listening: it starts this program again, with the same arguments, in a
// session of its own, and returns 0 when that copy says it is ready (its
// socket listens and its state is open), or the copy's own exit status
// when it fails before (its errors went to this terminal). The copy's
// standard descriptors then go to /dev/null and it applies umask and
// directory (see daemonizedChild).
func daemonize(stderr io.Writer) int {
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	defer r.Close()
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = os.Args
	cmd.Env = append(os.Environ(), supervisordChildEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdout, cmd.Stderr = os.Stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	w.Close()
	var b [1]byte
	if n, _ := r.Read(b[:]); n == 1 {
		// Ready: the copy lives on, reparented when this process ends.
		_ = cmd.Process.Release()
		return 0
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		return ee.ExitCode()
	}
	fmt.Fprintln(stderr, "Error: the supervisor ended before it was ready:", err)
	return 1
}

// daemonizedChild returns, in the background copy daemonize started, what
// to do once ready: supervisord's daemonize (directory, umask, standard
// descriptors to /dev/null), then tell the waiting parent. Elsewhere it
// returns nil.
func daemonizedChild(d config.Daemon) (func(*slog.Logger), error) {
	v := os.Getenv(supervisordChildEnv)
	if v == "" {
		return nil, nil
	}
	os.Unsetenv(supervisordChildEnv) // not for the programs
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q: not a descriptor", supervisordChildEnv, v)
	}
	pipe := os.NewFile(uintptr(fd), "ready")
	syscall.CloseOnExec(fd)
	return func(log *slog.Logger) {
		daemon.Activity(log, slog.LevelInfo, "daemonizing the supervisord process")
		if d.Directory != "" {
			// supervisord logs a failed chdir and carries on.
			if err := os.Chdir(d.Directory); err != nil {
				daemon.Activity(log, daemon.LevelCritical, fmt.Sprintf("can't chdir into %s: %v", pyRepr(d.Directory), err))
			} else {
				daemon.Activity(log, slog.LevelInfo, "set current directory: "+pyRepr(d.Directory))
			}
		}
		umask := uint32(0o022)
		if d.Umask != nil {
			umask = *d.Umask
		}
		syscall.Umask(int(umask))
		if null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
			for _, std := range []int{0, 1, 2} {
				_ = unix.Dup2(int(null.Fd()), std)
			}
			// The spawner thread's table too: it holds its own copies.
			if err := monitor.SetSpawnerStdio(null, null, null); err != nil {
				log.Warn("the spawner thread keeps its standard descriptors", "err", err)
			}
			null.Close()
		}
		_, _ = pipe.Write([]byte{1})
		pipe.Close()
	}, nil
}
