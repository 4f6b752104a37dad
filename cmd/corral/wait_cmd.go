package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/corralhq/corral/daemon"
)

func init() { register(newWaitCmd) }

// waitCond is one NAME[:CONDITION] argument of corral wait.
type waitCond struct{ name, cond string }

func parseWaitCond(arg string) waitCond {
	if i := strings.LastIndexByte(arg, ':'); i > 0 {
		switch c := arg[i+1:]; c {
		case "started", "ready", "healthy", "completed":
			return waitCond{arg[:i], c}
		}
	}
	return waitCond{arg, "ready"}
}

// judge says whether st meets c (done), or can no longer meet it (err).
func (c waitCond) judge(st daemon.ProcessStatus) (done bool, err error) {
	if st.State == "FATAL" {
		return false, fmt.Errorf("%s is FATAL: %s", st.Name, st.Error)
	}
	switch c.cond {
	case "started":
		return st.Pid != 0 || st.Completed, nil
	case "ready":
		return st.State == "RUNNING" || st.Completed, nil
	case "healthy":
		return st.State == "RUNNING" && st.Healthy, nil
	}
	// completed
	if st.Completed {
		return true, nil
	}
	if st.State == "EXITED" && st.LastExit != nil && !st.LastExit.Expected {
		return false, fmt.Errorf("%s exited with code %d", st.Name, st.LastExit.Code)
	}
	return false, nil
}

func newWaitCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait [--timeout D] NAME[:CONDITION]...",
		Short: "Wait until processes are started, ready, healthy or completed",
		Long: `Wait until every named process (a process, a program or GROUP:*) meets its
condition: started (it has a pid), ready (the default: RUNNING, which means
ready), healthy (RUNNING and its health check passes) or completed (a
one-shot that exited successfully). It follows the daemon's events; it
never polls.

Exit status: 0 when every condition holds, 1 when one cannot hold any more
(the process is FATAL, or a one-shot failed), when --timeout passes first,
or when the daemon cannot answer.`,
		Args: argsUsage(cobra.MinimumNArgs(1)),
	}
	dial := socketFlag(cmd)
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after `D` (e.g. 30s) and exit 1; 0 waits without limit")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		conds := make([]waitCond, len(args))
		for i, a := range args {
			conds[i] = parseWaitCond(a)
		}
		c := dial()
		defer c.Close()
		// Follow events first, then read the state: no change falls between.
		ev, err := c.Events(ctx)
		if err != nil {
			return waitErr(ctx, timeout, err)
		}
		defer ev.Close()
		for {
			pending := ""
			for _, wc := range conds {
				sts, err := c.Status(ctx, wc.name)
				if err != nil {
					return waitErr(ctx, timeout, err)
				}
				for _, st := range sts {
					done, err := wc.judge(st)
					if err != nil {
						return fmt.Errorf("wait %s:%s: %w", wc.name, wc.cond, err)
					}
					if !done && pending == "" {
						pending = st.Name + ":" + wc.cond + " (" + st.State + ")"
					}
				}
			}
			if pending == "" {
				return nil
			}
			if _, _, err := ev.Next(); err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("wait: timed out after %v; still waiting for %s", timeout, pending)
				}
				return fmt.Errorf("wait: event stream: %w", err)
			}
		}
	}
	return cmd
}

func waitErr(ctx context.Context, timeout time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("wait: timed out after %v: %w", timeout, err)
	}
	return err
}

func printStatusWide(w io.Writer, sts []daemon.ProcessStatus, now time.Time) {
	printStatusColumns(w, sts, now, true)
}

// statusText is the STATUS column of status --wide.
func statusText(st daemon.ProcessStatus) string {
	switch {
	case st.WaitingFor != "":
		return "waiting for " + st.WaitingFor
	case st.Completed:
		return "completed"
	case st.StatusText != "":
		return st.StatusText
	}
	return "-"
}
