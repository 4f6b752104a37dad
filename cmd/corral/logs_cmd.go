package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/corralhq/corral/api"
	"github.com/corralhq/corral/client"
	"github.com/corralhq/corral/config"
)

func init() {
	register(newLogsCmd)
	register(newEventsCmd)
}

// untilInterrupted returns a context that ends on SIGINT or SIGTERM, so a
// follower ends with exit 0.
func untilInterrupted(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

func newLogsCmd() *cobra.Command {
	var follow, stderr bool
	var tail string
	cmd := &cobra.Command{
		Use:   "logs [-f] [-n BYTES] [--stderr] NAME",
		Short: "Print a process's output",
		Long: `Print a process's output (stdout, or stderr with --stderr) as kept in its log
files, across rotations. With -f, keep printing what it writes until
interrupted, across "corral upgrade" too; bytes rotated away before they
could be read are replaced by a line saying how many.`,
		Args: argsUsage(cobra.ExactArgs(1)),
	}
	dial := socketFlag(cmd)
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "keep printing the output as it is written")
	f.StringVarP(&tail, "bytes", "n", "", "print only the last `BYTES` bytes (a size such as 1600 or 4KB)")
	f.BoolVar(&stderr, "stderr", false, "print the stderr stream")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opt := client.LogOptions{Stderr: stderr, Follow: follow}
		if tail != "" {
			n, err := config.ParseSize(tail)
			if err != nil {
				return usageError{fmt.Sprintf("-n %q: %v", tail, err)}
			}
			if n == 0 {
				return nil
			}
			opt.Tail = n
		}
		ctx, stop := untilInterrupted(cmd.Context())
		defer stop()
		c := dial()
		defer c.Close()
		body, err := c.Logs(ctx, args[0], opt)
		if err != nil {
			return err
		}
		defer body.Close()
		_, err = io.Copy(cmd.OutOrStdout(), body)
		if err != nil && ctx.Err() != nil {
			return nil // interrupted while following
		}
		return err
	}
	return cmd
}

func newEventsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "events [--json]",
		Short: "Print the daemon's events as they happen",
		Long: `Print the daemon's events as they happen, until interrupted: one line per
event, or one JSON object per line with --json. The stream goes on across
"corral upgrade". A "missed" event means events were dropped: this client
fell behind, or they happened while it reconnected to an upgraded daemon;
run "corral status" to re-list.`,
		Args: argsUsage(cobra.NoArgs),
	}
	dial := socketFlag(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per line")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stop := untilInterrupted(cmd.Context())
		defer stop()
		c := dial()
		defer c.Close()
		evs, err := c.Events(ctx)
		if err != nil {
			return err
		}
		defer evs.Close()
		out := cmd.OutOrStdout()
		for {
			e, line, err := evs.Next()
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			if asJSON {
				fmt.Fprintf(out, "%s\n", line)
			} else {
				fmt.Fprintln(out, formatEvent(e))
			}
		}
	}
	return cmd
}

// formatEvent renders an event as one human-readable line.
func formatEvent(e api.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-8s", e.Time.Local().Format(time.TimeOnly+".000"), e.Type)
	if e.Name != "" {
		fmt.Fprintf(&b, " %s %s->%s", e.Name, e.From, e.State)
	}
	if e.Pid != 0 {
		fmt.Fprintf(&b, " pid=%d", e.Pid)
	}
	if x := e.Exit; x != nil {
		if x.Signal != "" {
			fmt.Fprintf(&b, " signal=%s", x.Signal)
		} else {
			fmt.Fprintf(&b, " code=%d", x.Code)
		}
		fmt.Fprintf(&b, " expected=%t", x.Expected)
	}
	if e.Delay != 0 {
		fmt.Fprintf(&b, " delay=%s", e.Delay)
	}
	if e.Missed != 0 {
		fmt.Fprintf(&b, " missed=%d (re-list with corral status)", e.Missed)
	}
	if e.Error != "" {
		fmt.Fprintf(&b, " error=%q", e.Error)
	}
	return b.String()
}
