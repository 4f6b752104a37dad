package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/corralhq/corral/client"
	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
)

func init() {
	register(newStatusCmd)
	register(func() *cobra.Command { return newActionCmd("start") })
	register(func() *cobra.Command { return newActionCmd("stop") })
	register(func() *cobra.Command { return newActionCmd("restart") })
	register(newSignalCmd)
	register(newInspectCmd)
	register(newRemoveCmd)
	register(newReloadCmd)
	register(newShutdownCmd)
}

// exitNotRunning is status's exit code when a process is not RUNNING
// (supervisorctl's convention).
const exitNotRunning = 3

// socketFlag adds --socket, --username and --password to a client command
// and returns a function giving the client: --socket, else $CORRAL_SOCKET,
// else the default; the credentials from the flags, else $CORRAL_USERNAME
// and $CORRAL_PASSWORD (which, unlike a flag, other users cannot read in
// the process list).
func socketFlag(cmd *cobra.Command) func() *client.Client {
	var socket, username, password string
	f := cmd.Flags()
	f.StringVar(&socket, "socket", "", "daemon's unix socket `PATH` (default $CORRAL_SOCKET, else "+config.DefaultDaemon().Socket+")")
	f.StringVarP(&username, "username", "u", "", "`USER` name for a daemon that requires one (default $CORRAL_USERNAME)")
	f.StringVarP(&password, "password", "p", "", "`PASSWORD` for a daemon that requires one (default $CORRAL_PASSWORD)")
	return func() *client.Client {
		s := socket
		if s == "" {
			s = os.Getenv("CORRAL_SOCKET")
		}
		if s == "" {
			s = config.DefaultDaemon().Socket
		}
		if username == "" {
			username = os.Getenv("CORRAL_USERNAME")
		}
		if password == "" {
			password = os.Getenv("CORRAL_PASSWORD")
		}
		return client.New(s, client.WithBasicAuth(username, password))
	}
}

func newStatusCmd() *cobra.Command {
	var asJSON, tree, usage, wide bool
	cmd := &cobra.Command{
		Use:   "status [--json] [--tree|--usage|--wide] [NAME...]",
		Short: "Show the state of processes",
		Long: `Show the state of processes: all of them, or those named (a process, a
program, a group, GROUP:* or all).

With --tree, every process of each (all that its cgroup holds, helpers that
left its process group included; without cgroups, its process group); with
--usage, the process count, CPU time and memory of each process's cgroup;
with --wide, a STATUS column: the text a process sent (STATUS=), or what it
waits for.

Exit status: 0 when every process shown is RUNNING (or a one-shot that
completed), 3 when one is not, 1 when the daemon cannot answer.`,
	}
	dial := socketFlag(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: a list of process objects")
	cmd.Flags().BoolVar(&tree, "tree", false, "show every process of each (from its cgroup)")
	cmd.Flags().BoolVar(&usage, "usage", false, "show the process count, CPU time and memory of each (from its cgroup)")
	cmd.Flags().BoolVar(&wide, "wide", false, "add a STATUS column: the text a process sent (STATUS=), or what it waits for")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c := dial()
		defer c.Close()
		if tree || usage {
			return statusTree(cmd, c, args, asJSON, tree)
		}
		sts, err := c.Status(cmd.Context(), args...)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if asJSON {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			if err := enc.Encode(sts); err != nil {
				return err
			}
		} else if wide {
			printStatusWide(out, sts, time.Now())
		} else {
			printStatus(out, sts, time.Now())
		}
		for _, st := range sts {
			if st.State != "RUNNING" && !st.Completed {
				return &exitError{code: exitNotRunning}
			}
		}
		return nil
	}
	return cmd
}

func printStatus(w io.Writer, sts []daemon.ProcessStatus, now time.Time) {
	printStatusColumns(w, sts, now, false)
}

func printStatusColumns(w io.Writer, sts []daemon.ProcessStatus, now time.Time, wide bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	withHealth := slices.ContainsFunc(sts, func(st daemon.ProcessStatus) bool { return st.Health != "" })
	head := "NAME\tSTATE\tPID\tUPTIME\tRESTARTS\tEXIT"
	if withHealth {
		head = "NAME\tSTATE\tHEALTH\tPID\tUPTIME\tRESTARTS\tEXIT"
	}
	if wide {
		head += "\tSTATUS"
	}
	fmt.Fprintln(tw, head)
	for _, st := range sts {
		pid, uptime, exit := "-", "-", "-"
		if st.Pid != 0 {
			pid = strconv.Itoa(st.Pid)
			uptime = formatUptime(st.Uptime)
		}
		if x := st.LastExit; x != nil {
			exit = strconv.Itoa(x.Code)
			if x.Signal != "" {
				exit = "SIG" + x.Signal
			}
		}
		if withHealth {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s", st.Name, st.State, cmp.Or(st.Health, "-"), pid, uptime, st.Restarts, exit)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s", st.Name, st.State, pid, uptime, st.Restarts, exit)
		}
		if wide {
			fmt.Fprintf(tw, "\t%s", statusText(st))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// formatUptime prints a duration like supervisorctl: 1:02:03, or 2 days, 1:02:03.
func formatUptime(d time.Duration) string {
	s := int64(d / time.Second)
	days := s / 86400
	t := fmt.Sprintf("%d:%02d:%02d", (s%86400)/3600, (s%3600)/60, s%60)
	switch {
	case days == 1:
		return "1 day, " + t
	case days > 1:
		return fmt.Sprintf("%d days, %s", days, t)
	}
	return t
}

var actionPast = map[string]string{"start": "started", "stop": "stopped", "restart": "restarted", "signal": "signalled"}

func newActionCmd(action string) *cobra.Command {
	var noWait bool
	verb := strings.ToUpper(action[:1]) + action[1:]
	cmd := &cobra.Command{
		Use:   action + " [--no-wait] NAME...|GROUP:*|all",
		Short: verb + " processes",
		Long: verb + ` processes: each NAME is a process, a program, a group, GROUP:*
(every process of the group) or all. Without --no-wait the command returns once
each process is ` + map[string]string{"start": "RUNNING (or failed to start)", "stop": "stopped", "restart": "RUNNING again (or failed to start)"}[action] + `.`,
		Args: argsUsage(cobra.MinimumNArgs(1)),
	}
	dial := socketFlag(cmd)
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the action is sent, without waiting for its outcome")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c := dial()
		defer c.Close()
		var results []daemon.Result
		var err error
		switch action {
		case "start":
			results, err = c.Start(cmd.Context(), args, !noWait)
		case "stop":
			results, err = c.Stop(cmd.Context(), args, !noWait)
		case "restart":
			results, err = c.Restart(cmd.Context(), args, !noWait)
		}
		return printResults(cmd.OutOrStdout(), action, args, results, err)
	}
	return cmd
}

// printResults prints one line per process and turns failures into exit
// code 1 with one summary line. A process that a group or "all" designates
// and that is already in the asked state (already started, not running) is
// not a failure, as in supervisorctl; a process named explicitly is.
func printResults(w io.Writer, action string, targets []string, results []daemon.Result, err error) error {
	failed := 0
	for _, r := range results {
		switch {
		case r.Error == "":
			fmt.Fprintf(w, "%s: %s\n", r.Name, actionPast[action])
		case (r.Code == "already_started" || r.Code == "not_running") && !slices.Contains(targets, r.Name):
			fmt.Fprintf(w, "%s: %s\n", r.Name, strings.ReplaceAll(r.Code, "_", " "))
		default:
			failed++
			fmt.Fprintf(w, "%s: ERROR (%s)\n", r.Name, r.Error)
		}
	}
	if err == nil {
		return nil
	}
	var ce *client.Error
	if !errors.As(err, &ce) || len(ce.Results) == 0 {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%s failed for %d of %d processes", action, failed, len(results))
	}
	if ce.Status >= 500 {
		// Every process did as asked, but the daemon could not make it
		// durable (a full disk under the state file): not a success.
		return ce
	}
	return nil
}

func newSignalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "signal SIG NAME...|GROUP:*|all",
		Short: "Send a signal to processes",
		Long:  `Send a signal (a name such as HUP or SIGUSR1, or a number) to processes.`,
		Args:  argsUsage(cobra.MinimumNArgs(2)),
	}
	dial := socketFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if _, err := config.ParseSignal(args[0]); err != nil {
			return usageError{fmt.Sprintf("signal %q: %v", args[0], err)}
		}
		c := dial()
		defer c.Close()
		results, err := c.Signal(cmd.Context(), args[0], args[1:])
		return printResults(cmd.OutOrStdout(), "signal", args[1:], results, err)
	}
	return cmd
}

func newInspectCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect NAME",
		Short: "Print a process's status and its program's configuration as JSON",
		Args:  argsUsage(cobra.ExactArgs(1)),
	}
	dial := socketFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c := dial()
		defer c.Close()
		p, err := c.Inspect(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	return cmd
}

func newRemoveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Stop a program's processes and remove the program",
		Long: `Stop a program's processes and remove the program. A program added with
"corral add" is forgotten for good; one from the configuration file comes back
at the next reload.`,
		Args: argsUsage(cobra.ExactArgs(1)),
	}
	dial := socketFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c := dial()
		defer c.Close()
		if err := c.RemoveProgram(cmd.Context(), args[0]); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s: removed\n", args[0])
		return nil
	}
	return cmd
}

func newReloadCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Reload the daemon's configuration file and apply the difference",
		Long: `Reload the daemon's configuration file and apply the difference: added
programs start, removed ones stop, changed ones restart, and the others keep
running untouched.`,
		Args: argsUsage(cobra.NoArgs),
	}
	dial := socketFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c := dial()
		defer c.Close()
		df, err := c.Reload(cmd.Context())
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if df.Empty() {
			fmt.Fprintln(out, "no changes")
		}
		for _, l := range []struct {
			what  string
			names []string
		}{{"added", df.Added}, {"changed", df.Changed}, {"removed", df.Removed}} {
			for _, n := range l.names {
				fmt.Fprintf(out, "%s: %s\n", n, l.what)
			}
		}
		return nil
	}
	return cmd
}

func newShutdownCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "shutdown",
		Short: "Stop every process and the daemon",
		Args:  argsUsage(cobra.NoArgs),
	}
	dial := socketFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c := dial()
		defer c.Close()
		if err := c.Shutdown(cmd.Context()); err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), "shutting down")
		return nil
	}
	return cmd
}
