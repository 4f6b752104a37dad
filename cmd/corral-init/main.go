// Command corral-init is `corral init` with a command (tini's job: PID 1 of
// a container, signal forwarding, reaping, exit codes) in a small binary.
// `corral init -- CMD` execs it when it is installed beside corral, so that
// a container's PID 1 does not carry the daemon's code, memory and threads:
// it links package initmode and the monitor, not the daemon, its HTTP API,
// metrics, store or configuration parser. Its flags and behaviour are those
// of `corral init` (see docs/INIT.md); `--config FILE` is run by the corral
// binary, which corral-init execs for it.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/corralhq/corral/initmode"
)

func main() {
	// Init's work is one loop: a second P only makes the runtime start
	// more threads. The runtime has started them by now, unless it was
	// started with GOMAXPROCS=1 (`corral init` execs corral-init so); run
	// directly, corral-init execs itself once that way.
	if !initmode.RestoreEnv() {
		_ = syscall.Exec("/proc/self/exe", os.Args, initmode.SmallInitEnv(os.Environ()))
	}
	runtime.GOMAXPROCS(1)
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	o, err := initmode.Parse(args)
	if errors.Is(err, initmode.ErrHelp) {
		fmt.Print(initmode.Help + "\n" + initmode.Flags)
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "corral-init:", err)
		return 2
	}
	if o.Config != "" {
		return execCorral(args)
	}
	return initmode.Run(o)
}

// execCorral runs `corral init ARGS` from the corral binary beside this
// one: --config needs the configuration and daemon packages, which this
// binary leaves out to stay small.
func execCorral(args []string) int {
	self, err := os.Executable()
	if err == nil {
		corral := filepath.Join(filepath.Dir(self), "corral")
		err = syscall.Exec(corral, append([]string{corral, "init"}, args...), os.Environ())
		err = fmt.Errorf("exec %s: %w", corral, err)
	}
	fmt.Fprintf(os.Stderr, "corral-init: --config is run by the corral binary, installed beside corral-init: %v\n", err)
	return 1
}
