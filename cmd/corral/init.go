package main

import (
	"errors"
	"fmt"

	"github.com/corralhq/corral/initmode"
	"github.com/corralhq/corral/initmode/programs"
	"github.com/spf13/cobra"
)

func init() { register(newInitCmd) }

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
