package initmode

import (
	"log/slog"
	"os"
	"syscall"
)

// Options configure Run. Exactly one of Command and Config is set.
type Options struct {
	// Command is the child to run (argv, Command[0] looked up in PATH).
	Command []string
	// Group forwards signals to the child's process group (tini -g).
	Group bool
	// RemapExit lists child exit codes reported as 0 (tini -e).
	RemapExit []int

	// Config is a TOML or supervisord INI file of programs to supervise.
	// Run does not read it: package initmode/programs runs that mode, so
	// that a binary with only the command mode (corral-init) does not link
	// the configuration and daemon packages.
	Config string
	// ExitOn names programs (or processes) whose end ends init.
	ExitOn []string

	// Subreaper is accepted for tini's -s: corral is a child subreaper
	// whenever it is not PID 1, with or without it.
	Subreaper bool
	// WarnOnReap logs every orphan reaped (tini -w).
	WarnOnReap bool
	// Verbose logs what init does (tini -v); without it the default
	// Logger logs warnings only.
	Verbose bool

	// Stdin, Stdout and Stderr are given to the child (or programs); nil
	// means os.Stdin, os.Stdout and os.Stderr.
	Stdin, Stdout, Stderr *os.File
	// Logger receives corral's own messages; nil logs warnings to Stderr.
	Logger *slog.Logger
}

// Run runs init with a command (Options.Command) and returns the exit code
// corral should exit with. With Options.Config set it refuses (exit code 2):
// that mode is package initmode/programs's Run.
func Run(o Options) int {
	o = o.WithDefaults()
	if o.Config != "" {
		o.Logger.Error("--config is not supported by this binary (it needs package initmode/programs)")
		return 2
	}
	return runCommand(o)
}

// WithDefaults returns o with nil streams set to os.Stdin, os.Stdout and
// os.Stderr, and a nil Logger set to one that logs warnings (with Verbose,
// information too) to Stderr.
func (o Options) WithDefaults() Options {
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Logger == nil {
		level := slog.LevelWarn
		if o.Verbose {
			level = slog.LevelInfo
		}
		o.Logger = slog.New(slog.NewTextHandler(fdWriter{int(o.Stderr.Fd())}, &slog.HandlerOptions{Level: level}))
	}
	return o
}

// fdWriter writes to a descriptor with write(2) itself. os.File's Write
// kills a Go program whose write to a closed pipe on fd 1 or 2 fails with
// EPIPE, unless os/signal has SIGPIPE, and command mode does not use
// os/signal: init must not die because nobody reads its messages. (The
// kernel's SIGPIPE is caught and forwarded to the child, as tini does.)
type fdWriter struct{ fd int }

func (w fdWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := syscall.Write(w.fd, p[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}
