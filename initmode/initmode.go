package initmode

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"

	"github.com/corralhq/corral/initmode/internal/initcore"
	"github.com/corralhq/corral/monitor"
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

const childName = "child"

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
		o.Logger = slog.New(slog.NewTextHandler(o.Stderr, &slog.HandlerOptions{Level: level}))
	}
	return o
}

// ExitCode is init's exit code for one exit of its child: the exit status,
// or 128+N for a death by signal N (tini's and the shells' convention).
func ExitCode(e *monitor.ExitInfo) int {
	if e == nil {
		return 1
	}
	if e.Signal != 0 {
		return 128 + int(e.Signal)
	}
	return e.Code
}

// execFailureCode is the shells' (and tini's) code for a command that could
// not be run: 127 when it does not exist, 126 when it is not executable.
func execFailureCode(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return 127
	}
	return 126
}

func runCommand(o Options) int {
	log := o.Logger
	if len(o.Command) == 0 {
		log.Error("no command to run")
		return 2
	}
	// Signals that arrive before the child exists wait in the channel and
	// are forwarded once it does, as tini's blocked signals are.
	sigs := initcore.NotifySignals()
	defer signal.Stop(sigs)

	if _, err := exec.LookPath(o.Command[0]); err != nil {
		fmt.Fprintf(o.Stderr, "corral init: exec %s: %v\n", o.Command[0], err)
		return execFailureCode(err)
	}
	spec := monitor.Spec{
		Name: childName, Path: o.Command[0], Args: o.Command,
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr,
		Restart: monitor.RestartPolicy{Kind: monitor.RestartNo},
	}
	if isTerminal(o.Stdin) {
		// The child must take the terminal before it runs, or its first
		// read could stop it: a small shim does that in the child.
		spec = foregroundSpec(spec)
	}
	m, sub, err := initcore.NewMonitor(o.Logger)
	if err != nil {
		log.Error("start monitor", "err", err)
		return 1
	}
	done := make(chan struct{})
	defer close(done)
	evs := initcore.Events(sub, done)
	finish := func(code int) int {
		// Reaping goes on until the loop is done with its current pass, so
		// zombies that died with the child are reaped before init exits.
		_, _ = m.Stats()
		sub.Close()
		_ = m.Close()
		if slices.Contains(o.RemapExit, code) {
			return 0
		}
		return code
	}
	if err := m.Add(spec); err != nil {
		log.Error("add child", "err", err)
		return finish(1)
	}
	if err := m.Start(childName); err != nil {
		fmt.Fprintf(o.Stderr, "corral init: %v\n", err)
		return finish(126)
	}
	info, err := m.Process(childName)
	if err != nil {
		return finish(1)
	}
	pid := info.Pid

	for {
		select {
		case s := <-sigs:
			sig := s.(syscall.Signal)
			if initcore.Dropped(sig) || pid == 0 {
				continue
			}
			var err error
			if o.Group {
				err = syscall.Kill(-pid, sig)
			} else {
				err = m.Signal(childName, sig)
			}
			if err != nil {
				log.Debug("forward signal", "signal", sig, "pid", pid, "err", err)
			}
		case e, ok := <-evs:
			if !ok {
				return finish(1)
			}
			switch {
			case e.Type == monitor.EventExited && e.Name == childName:
				return finish(ExitCode(e.Exit))
			case e.Type == monitor.EventFatal && e.Name == childName:
				fmt.Fprintf(o.Stderr, "corral init: %s\n", e.Err)
				return finish(126)
			case e.Type == monitor.EventOrphanReaped && o.WarnOnReap:
				log.Warn("reaped zombie", "pid", e.Pid, "code", e.Exit.Code, "signal", e.Exit.Signal)
			case e.Type == monitor.EventMissed:
				// The child's exit may be among the missed events.
				if info, err := m.Process(childName); err == nil && !info.State.Active() && info.LastExit != nil {
					return finish(ExitCode(info.LastExit))
				}
			}
		}
	}
}
