package main

import (
	"log/slog"
	"os"

	"github.com/corralhq/corral/initmode"
	"github.com/spf13/cobra"
)

func init() { register(newInitCmd) }

func newInitCmd() *cobra.Command {
	var o initmode.Options
	var verbose bool
	cmd := &cobra.Command{
		Use:   "init [flags] [--] CMD [ARGS...]",
		Short: "Run as PID 1 in a container: forward signals, reap zombies, exit with the child's code",
		Long:  initmode.Help,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.Config == "" && len(args) == 0:
				return usageError{"init: give a command to run, or --config FILE"}
			case o.Config != "" && len(args) > 0:
				return usageError{"init: give a command or --config, not both"}
			case o.Config == "" && len(o.ExitOn) > 0:
				return usageError{"init: --exit-on needs --config"}
			case o.Config != "" && (o.Group || len(o.RemapExit) > 0):
				return usageError{"init: -g and -e apply to a command, not to --config"}
			}
			for _, c := range o.RemapExit {
				if c < 0 || c > 255 {
					return usageError{"init: -e takes an exit code from 0 to 255"}
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Command = args
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			if code := initmode.Run(o); code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	// Flags end at CMD: everything after it is CMD's, as with tini.
	f.SetInterspersed(false)
	f.BoolVarP(&o.Group, "pgroup", "g", false, "forward signals to the child's process group, not just the child (tini -g)")
	f.BoolVarP(&o.Subreaper, "subreaper", "s", false, "be a child subreaper (always on outside PID 1; accepted for tini -s)")
	f.IntSliceVarP(&o.RemapExit, "remap-exit", "e", nil, "report this exit code of the child as 0 (repeatable; tini -e)")
	f.BoolVarP(&o.WarnOnReap, "warn-on-reap", "w", false, "log every orphan reaped (tini -w)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log what init does")
	f.StringVarP(&o.Config, "config", "c", "", "supervise the programs of this TOML or supervisord INI file")
	f.StringArrayVar(&o.ExitOn, "exit-on", nil, "with --config: exit with this program's code when it exits or goes FATAL, after stopping the others (repeatable)")
	return cmd
}
