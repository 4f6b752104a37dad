// Command corral is an evented process supervisor: a daemon (corral daemon),
// its client (corral status, start, stop, ...), and a PID 1 for containers
// (corral init).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/spf13/cobra"

	"github.com/corralhq/corral/client"
	"github.com/corralhq/corral/handoff"
	"github.com/corralhq/corral/monitor"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// commands are added to the root by each subcommand's file, in its init.
var commands []func() *cobra.Command

func register(f func() *cobra.Command) { commands = append(commands, f) }

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "corral",
		Short:         "An evented process supervisor for Linux",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print corral's version",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "corral", version) },
	})
	for _, f := range commands {
		root.AddCommand(f())
	}
	return root
}

// run executes corral with args and returns its exit code: 0 success, 1 a
// failed operation, 2 a usage error, or a code a command chose.
func run(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "corral:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "corral:", err)
	if client.Unauthorized(err) {
		fmt.Fprintln(os.Stderr, "corral: give the daemon's credentials with -u/--username and -p/--password, or $CORRAL_USERNAME and $CORRAL_PASSWORD")
	}
	if isUsageError(err) {
		return 2
	}
	return 1
}

// init keeps the main goroutine on the main thread, so that main can make
// that thread the daemon's spawner (monitor.RunSpawner): the thread every
// program is forked from and `corral upgrade` execs from, the only one that
// lives across the exec (see docs/UPGRADE.md).
func init() { runtime.LockOSThread() }

func main() {
	if len(os.Args) > 1 && os.Args[1] == handoff.CheckFlag {
		os.Exit(runHandoffCheck(os.Args[2:]))
	}
	os.Exit(mainAs(os.Args))
}

// mainAs runs corral as invoked, from the main goroutine on the main thread.
// The daemon (corral daemon, or corral as supervisord) forks its programs
// from the main thread, whose descriptor table it keeps nearly empty: a
// spawn then costs the same with 10 programs or 10,000 (docs/design/SPAWN.md).
// Other commands have no use for it and give the thread back.
func mainAs(argv []string) int {
	if runsDaemon(argv) {
		startProfile()
		monitor.RunSpawner(func() int { return runAs(argv) })
	}
	runtime.UnlockOSThread()
	return runAs(argv)
}

// runsDaemon reports whether argv may run a daemon: corral daemon, corral
// supervisord, or corral under the name supervisord.
func runsDaemon(argv []string) bool {
	if len(argv) == 0 {
		return false
	}
	if filepath.Base(argv[0]) == supervisordName {
		return true
	}
	// Any word, not only the first: `corral --socket S daemon` is a daemon
	// too, and the spawner costs a command that is not one nothing.
	return slices.ContainsFunc(argv[1:], func(a string) bool { return a == "daemon" || a == "supervisord" })
}

// runAs runs corral as invoked: under the name supervisord it is `corral
// supervisord`, with supervisord's command line.
func runAs(argv []string) int {
	if filepath.Base(argv[0]) == supervisordName {
		return runSupervisord(context.Background(), argv[0], argv[0], argv[1:], os.Stdout, os.Stderr)
	}
	return run(argv[1:])
}
