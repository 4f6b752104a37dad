package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/corralhq/corral/daemon"
	"github.com/corralhq/corral/handoff"
)

func init() { register(newUpgradeCmd) }

func newUpgradeCmd() *cobra.Command {
	var binary string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "upgrade [--binary PATH]",
		Short: "Replace the daemon's binary in place, restarting no program",
		Long: `Replace the running daemon's program image with a new corral binary
(execve, same pid): every program keeps running with the same pid, its
output pipes stay open, and the API socket keeps listening. The state
(process states, restart counters, backoff and startsecs timers, event
sequence numbers) carries over. See docs/UPGRADE.md.

The new binary (default: the one the daemon was started from) is first run
with ` + handoff.CheckFlag + ` to prove it reads this daemon's state format. If it
does not, is missing, is not corral, or the exec fails, the daemon runs on
unchanged and this command exits 1 with the reason.`,
		Args: argsUsage(cobra.NoArgs),
	}
	dial := socketFlag(cmd)
	cmd.Flags().StringVar(&binary, "binary", "", "the corral binary `PATH` to execute (default: the daemon's own)")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the upgraded daemon to answer")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if binary != "" {
			// The daemon may run in another directory.
			abs, err := filepath.Abs(binary)
			if err != nil {
				return err
			}
			binary = abs
		}
		c := dial()
		defer c.Close()
		ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
		defer cancel()
		before, after, err := c.Upgrade(ctx, binary)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "upgraded: pid %d, version %s -> %s, %d processes\n", after.Pid, before.Version, after.Version, after.Processes)
		return nil
	}
	return cmd
}

// runHandoffCheck answers `corral --handoff-check FORMAT` (see package
// handoff) before anything else runs.
func runHandoffCheck(args []string) int {
	out, code := handoff.RunCheck(args, daemon.Version)
	fmt.Fprintln(os.Stdout, out)
	return code
}
