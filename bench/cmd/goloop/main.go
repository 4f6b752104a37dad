// Command goloop is spawnloop (bench/spawnloop.c) written in Go: the
// fastest a Go program forks, as a second baseline for corral, which forks
// with Go's syscall.StartProcess too.
//
// One OS thread (the main one, locked) forks N children with
// syscall.ForkExec, each in its own process group and with a death signal,
// as corral's spawner thread does, then blocks in wait4(-1) and forks again
// every child that exits, at once and without backoff. Nothing else: no
// configuration, no logs, no state, no other goroutine.
//
// Usage:
//
//	goloop N PATH [ARG...]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
)

func init() { runtime.LockOSThread() }

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: goloop N PATH [ARG...]")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "goloop: N must be a positive number")
		os.Exit(2)
	}
	argv := os.Args[2:]
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	spawn := func() {
		if _, err := syscall.ForkExec(argv[0], argv, attr); err != nil {
			fmt.Fprintln(os.Stderr, "goloop:", err)
			os.Exit(1)
		}
	}
	for range n {
		spawn()
	}
	for {
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(-1, &ws, 0, nil); err != nil {
			if err == syscall.EINTR {
				continue
			}
			fmt.Fprintln(os.Stderr, "goloop: wait4:", err)
			os.Exit(1)
		}
		spawn()
	}
}
