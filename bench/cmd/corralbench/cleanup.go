package main

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

const prSetChildSubreaper = 36

// tracker owns every process and directory the harness creates. The harness
// is a child subreaper, so whatever a supervisor leaves behind (its children
// moved to new sessions, orphans of a supervisor that died) is re-parented to
// the harness: "everything we started" is exactly "every descendant of this
// process", plus any marker process of this run, found by pid and killed by
// pid. Nothing is ever killed by name.
type tracker struct {
	mu      sync.Mutex
	aborted bool
	tokens  []string
	dirs    []string
}

func newTracker() (*tracker, error) {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		return nil, fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", e)
	}
	return &tracker{}, nil
}

// start launches argv in its own process group with stdout and stderr going
// to logPath. It refuses once the harness is shutting down.
func (t *tracker) start(argv, env []string, dir, logPath, token string) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.aborted {
		return 0, fmt.Errorf("interrupted")
	}
	t.tokens = append(t.tokens, token)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: []uintptr{devnull.Fd(), logf.Fd(), logf.Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", argv[0], err)
	}
	return pid, nil
}

func (t *tracker) addDir(dir string) {
	t.mu.Lock()
	t.dirs = append(t.dirs, dir)
	t.mu.Unlock()
}

// killAll kills and reaps every descendant of the harness and every marker
// process of this run, until none is left or timeout passes.
func (t *tracker) killAll(timeout time.Duration) error {
	t.mu.Lock()
	tokens := append([]string(nil), t.tokens...)
	t.mu.Unlock()
	self := os.Getpid()
	deadline := time.Now().Add(timeout)
	for {
		var victims []int
		snap := takeSnapshot()
		for _, pid := range snap.descendants(self) {
			if pid != self {
				victims = append(victims, pid)
			}
		}
		for _, tok := range tokens {
			for pid := range newMarkerScanner(tok).markers() {
				victims = append(victims, pid)
			}
		}
		// Kill whole process groups first so a supervisor cannot respawn
		// between our kills, then every pid.
		for _, pid := range victims {
			if st, ok := snap[pid]; ok && st.pgrp > 1 && st.pgrp != snap[self].pgrp {
				_ = syscall.Kill(-st.pgrp, syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		reap()
		live := 0
		for _, pid := range victims {
			if st, err := readStat(pid, make([]byte, 1024)); err == nil && st.state != 'Z' {
				live++
			}
		}
		if len(victims) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cleanup: %d processes still present after %v (%d alive)", len(victims), timeout, live)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reap collects every exited child without blocking.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}

// abort stops everything for good: no new process starts after it.
func (t *tracker) abort() error {
	t.mu.Lock()
	t.aborted = true
	t.mu.Unlock()
	err := t.killAll(15 * time.Second)
	t.mu.Lock()
	dirs := t.dirs
	t.dirs = nil
	t.mu.Unlock()
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
	return err
}
