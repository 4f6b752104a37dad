package initmode

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"github.com/corralhq/corral/monitor"
	"golang.org/x/sys/unix"
)

// On a terminal tini's child puts its new process group in the terminal's
// foreground between fork and exec, so it never runs in the background.
// Go's fork/exec cannot do that for the monitor's spawns, and doing it from
// corral after the spawn would race the child's first read of the terminal.
// So the child is started as corral's own binary under a marker argv[0]: it
// takes the terminal and execs the real command. The shim runs from this
// package's init, before main.

const (
	fgArgv0 = "corral-init-foreground"
	fgEnv   = "CORRAL_INIT_FOREGROUND"
)

func init() {
	if len(os.Args) >= 2 && os.Args[0] == fgArgv0 && os.Getenv(fgEnv) == "1" {
		os.Exit(foregroundExec(os.Args[1:]))
	}
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// foregroundSpec rewrites spec to start through the foreground shim.
func foregroundSpec(spec monitor.Spec) monitor.Spec {
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe"
	}
	spec.Args = append([]string{fgArgv0}, spec.Args...)
	spec.Path = self
	spec.Env = append(os.Environ(), fgEnv+"=1")
	return spec
}

// foregroundExec runs in the child: it makes its process group (the monitor
// gave it its own) the foreground group of the terminal on stdin, then execs
// argv. It returns only on failure, with the code init reports.
func foregroundExec(argv []string) int {
	// A background process that sets the foreground group gets SIGTTOU
	// unless it blocks or ignores it. Blocking it on this thread alone, and
	// only around the ioctl, leaves the command's signal state untouched.
	runtime.LockOSThread()
	var set, old unix.Sigset_t
	set.Val[(syscall.SIGTTOU-1)/64] |= 1 << ((uint(syscall.SIGTTOU) - 1) % 64)
	_ = unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old)
	err := unix.IoctlSetPointerInt(0, unix.TIOCSPGRP, unix.Getpgrp())
	_ = unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	if err != nil && err != unix.ENOTTY && err != unix.ENXIO {
		// tini gives up here; a command in the background is still better
		// than none, so corral says so and goes on.
		fmt.Fprintf(os.Stderr, "corral init: cannot make %s the terminal's foreground: %v\n", argv[0], err)
	}
	env := os.Environ()
	out := env[:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, fgEnv+"=") {
			out = append(out, kv)
		}
	}
	path, err := exec.LookPath(argv[0])
	if err == nil {
		err = syscall.Exec(path, argv, out)
	}
	fmt.Fprintf(os.Stderr, "corral init: exec %s: %v\n", argv[0], err)
	return execFailureCode(err)
}
