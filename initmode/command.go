package initmode

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/corralhq/corral/initmode/internal/sigqueue"
	"golang.org/x/sys/unix"
)

// runCommand is tini's loop: catch every signal before the child exists,
// start the child in its own process group (the terminal's foreground
// group when stdin is init's controlling terminal), then on every wake-up
// forward the signals caught and reap every zombie, until the child has
// been reaped. It does not use the monitor: one loop, no goroutine, so
// that init runs on the Go runtime's own threads (see package sigqueue).
func runCommand(o Options) int {
	log := o.Logger
	if len(o.Command) == 0 {
		log.Error("no command to run")
		return 2
	}
	// Signals that arrive before the child exists wait in the queue and
	// are forwarded once it does, as tini's blocked signals are.
	q, err := sigqueue.Catch(sigqueue.Catchable())
	if err != nil {
		log.Error("catch signals", "err", err)
		return 1
	}
	defer q.Close()
	// As PID 1 every orphan of the namespace comes to init anyway;
	// anywhere else it must ask for them.
	if os.Getpid() != 1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			log.Warn("cannot become a child subreaper: orphans will not be reaped", "err", err)
		}
	}

	path, err := lookPath(o.Command[0])
	if err != nil {
		fmt.Fprintf(fdWriter{int(o.Stderr.Fd())}, "corral init: exec %s: %v\n", o.Command[0], err)
		return execFailureCode(err)
	}
	sys := &syscall.SysProcAttr{Setpgid: true}
	if foreground(o.Stdin) {
		// Go's fork puts the child's group in the foreground before
		// exec, with signals still blocked (no SIGTTOU), as tini's child
		// does.
		sys.Foreground, sys.Ctty = true, int(o.Stdin.Fd())
	}
	pid, err := syscall.ForkExec(path, o.Command, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{o.Stdin.Fd(), o.Stdout.Fd(), o.Stderr.Fd()},
		Sys:   sys,
	})
	if err != nil {
		fmt.Fprintf(fdWriter{int(o.Stderr.Fd())}, "corral init: exec %s: %v\n", o.Command[0], err)
		return execFailureCode(err)
	}
	log.Info("started child", "pid", pid, "command", o.Command)

	for {
		set, err := q.Wait()
		if err != nil {
			// Without signals init cannot do its job: end the child and
			// exit with its code rather than spin.
			log.Error("wait for signals: killing the child", "err", err, "pid", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			var ws syscall.WaitStatus
			for {
				_, err := syscall.Wait4(pid, &ws, 0, nil)
				if err != syscall.EINTR {
					break
				}
			}
			return waitCode(ws)
		}
		for _, sig := range set.Signals() {
			if sig == syscall.SIGCHLD || dropped(sig) {
				continue
			}
			target := pid
			if o.Group {
				target = -pid
			}
			if err := syscall.Kill(target, sig); err != nil {
				log.Info("forward signal", "signal", sig, "pid", target, "err", err)
			} else {
				log.Info("forwarded signal", "signal", sig, "pid", target)
			}
		}
		// SIGCHLD coalesces, and orphans' exits come with it too: reap
		// until none is left, whatever woke the loop.
		if code, done := reap(o, pid); done {
			if slices.Contains(o.RemapExit, code) {
				return 0
			}
			return code
		}
	}
}

// reap reaps every zombie child of init; done is true, with init's exit
// code, once child has been reaped among them.
func reap(o Options, child int) (code int, done bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 {
			return code, done
		}
		if pid == child {
			code, done = waitCode(ws), true
			o.Logger.Info("child exited", "pid", pid, "code", code)
		} else if o.WarnOnReap {
			o.Logger.Warn("reaped zombie", "pid", pid, "code", ws.ExitStatus(), "signal", int(ws.Signal()))
		}
	}
}

// waitCode is init's exit code for its child's wait status: the exit
// status, or 128+N for a death by signal N (tini's and the shells'
// convention).
func waitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// dropped reports the signals init takes but never passes on: tini ignores
// SIGTTIN and SIGTTOU so that it never stops for a terminal it no longer
// controls. Catching them instead of ignoring them leaves the child with
// their default actions, as tini restores them in its child.
func dropped(s syscall.Signal) bool {
	return s == syscall.SIGTTIN || s == syscall.SIGTTOU
}

// foreground reports whether f is init's controlling terminal, whose
// foreground group the child's group must become. A terminal that is not
// (TIOCGPGRP fails with ENOTTY) is left alone, as tini does.
func foreground(f *os.File) bool {
	_, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	return err == nil
}

// execFailureCode is the shells' (and tini's) code for a command that could
// not be run: 127 when it does not exist, 126 when it is not executable.
func execFailureCode(err error) int {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotFound) {
		return 127
	}
	return 126
}

var errNotFound = errors.New("executable file not found in $PATH")

// lookPath finds name as exec.LookPath does (a name with a slash is used
// as it is, any other is searched in $PATH), without linking os/exec.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, executable(name)
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		path := filepath.Join(dir, name)
		if executable(path) == nil {
			return path, nil
		}
	}
	return "", errNotFound
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if m := fi.Mode(); m.IsDir() || m&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}
