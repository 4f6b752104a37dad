package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/corralhq/corral/initmode"
	"github.com/corralhq/corral/initmode/programs"
	"github.com/spf13/cobra"
)

func init() { register(newInitCmd) }

// smallInit is the binary that runs `corral init` with a command, installed
// beside corral (cmd/corral-init): it does not link the daemon, so a
// container's PID 1 costs a fraction of corral's memory and threads.
const smallInit = "corral-init"

func newInitCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "init [flags] [--] CMD [ARGS...]",
		Short: "Run as PID 1 in a container: forward signals, reap zombies, exit with the child's code",
		Long:  initmode.Help + "\n" + initmode.Flags,
		// initmode.Parse reads the flags, the same way corral-init does:
		// flags end at CMD, everything after it is CMD's, as with tini.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := initmode.Parse(args)
			if errors.Is(err, initmode.ErrHelp) {
				fmt.Fprint(cmd.OutOrStdout(), initmode.Help+"\n"+initmode.Flags)
				return nil
			}
			if err != nil {
				return usageError{err.Error()}
			}
			var code int
			if o.Config != "" {
				code = programs.Run(o)
			} else {
				execSmallInit(args, o)
				code = initmode.Run(o)
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	c.SetHelpFunc(func(c *cobra.Command, _ []string) {
		fmt.Fprint(c.OutOrStdout(), initmode.Help+"\n"+initmode.Flags)
	})
	return c
}

// execSmallInit replaces this process (same pid: PID 1 stays PID 1) with
// corral-init from corral's own directory. It returns only when there is
// none, or it cannot be run: init then runs in this process, at the full
// binary's cost.
func execSmallInit(args []string, o initmode.Options) {
	self, err := os.Executable()
	if err != nil {
		return
	}
	path := filepath.Join(filepath.Dir(self), smallInit)
	err = syscall.Exec(path, append([]string{path}, args...), initmode.SmallInitEnv(os.Environ()))
	o = o.WithDefaults()
	o.Logger.Info("running init in the corral process", "exec", path, "err", err)
}
