package monitor

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Launch starts a one-shot process through the monitor with no goroutine
// waiting for it, for callers that run many short commands (health probes):
// exited is called once, on the monitor's loop goroutine, when the process
// has been reaped and the rest of its process group killed. exited must not
// block or call the Monitor; hand the ExitInfo to another goroutine.
//
// The process gets its own process group, Spec.Stdin/Stdout/Stderr as given
// (nil is /dev/null), and is not registered by name: it has no state,
// restart or events. Use Cmd when a goroutine may wait.
func (m *Monitor) Launch(spec Spec, exited func(*ExitInfo)) (pid int, err error) {
	if exited == nil {
		return 0, errors.New("monitor: Launch needs an exited function")
	}
	if len(spec.Args) == 0 {
		spec.Args = []string{spec.Path}
	}
	if spec.Name == "" {
		spec.Name = "launch:" + spec.Path
	}
	spec.Stdio = nil
	err = m.call(func(l *loop) error {
		p, err := l.startProcess(&spec, l.watch)
		if err != nil {
			return err
		}
		pid = p
		l.oneshots[p] = func(e *ExitInfo) {
			// Right after the reap, on the loop: the group id cannot
			// belong to anyone else yet while members remain.
			if err := syscall.Kill(-p, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
				l.log.Warn("cannot kill the process group of a launched process", "name", spec.Name, "pgid", p, "err", err)
			}
			exited(e)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("monitor: launch %s: %w", spec.Path, err)
	}
	return pid, nil
}

// KillLaunched sends SIGKILL to the process group of a process started by
// Launch, if it has not been reaped yet; after the reap it returns
// os.ErrProcessDone and signals nothing (the pid may be reused).
func (m *Monitor) KillLaunched(pid int) error {
	err := os.ErrProcessDone
	if e := m.do(func(l *loop) {
		if _, ok := l.oneshots[pid]; ok {
			err = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}); e != nil {
		return e
	}
	return err
}
