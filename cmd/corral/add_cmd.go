package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/corralhq/corral/client"
)

func init() { register(newAddCmd) }

func newAddCmd() *cobra.Command {
	var (
		restart, dir, user, startSecs, stopSignal, stopTimeout, stdout, stderr, processName string
		numprocs, priority                                                                  int
		env                                                                                 []string
		autostart, noAutostart, redirect                                                    bool
	)
	cmd := &cobra.Command{
		Use:   "add NAME [flags] -- CMD [ARGS...]",
		Short: "Add a program at run time",
		Long: `Add a program at run time and start it (unless --no-autostart). The program,
and whether it was last started or stopped, survive a daemon restart. The
flags are the keys of a program table in corral.toml, with the same defaults
and validation.`,
		Example: `  corral add web --restart always --env PORT=8080 -- python3 -m http.server 8080
  corral add workers --numprocs 4 --stdout /var/log/workers.log -- ./worker`,
		Args: argsUsage(func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if dash != 1 || len(args) < 2 {
				return fmt.Errorf("requires exactly NAME, then -- and the command: corral add NAME [flags] -- CMD [ARGS...]")
			}
			return nil
		}),
	}
	dial := socketFlag(cmd)
	f := cmd.Flags()
	f.StringVar(&restart, "restart", "", "restart policy: no, always, on-failure[:N], unless-stopped, unexpected (default on-failure)")
	f.IntVar(&numprocs, "numprocs", 0, "number of processes (default 1)")
	f.StringVar(&processName, "process-name", "", "process name pattern, e.g. %(program_name)s-%(process_num)d")
	f.StringVar(&dir, "dir", "", "working `DIR`ectory")
	f.StringArrayVar(&env, "env", nil, "environment variable `K=V` (repeatable)")
	f.StringVar(&user, "user", "", "run as `USER` (name or uid)")
	f.BoolVar(&autostart, "autostart", true, "start the program now and when the daemon starts")
	f.BoolVar(&noAutostart, "no-autostart", false, "do not start the program now nor when the daemon starts")
	f.StringVar(&startSecs, "start-secs", "", "how long a process must stay up to count as started (default 1s)")
	f.StringVar(&stopSignal, "stop-signal", "", "signal that asks a process to stop (default TERM)")
	f.StringVar(&stopTimeout, "stop-timeout", "", "wait after the stop signal before SIGKILL (default 10s)")
	f.IntVar(&priority, "priority", 0, "start order, ascending (default 999)")
	f.StringVar(&stdout, "stdout", "", "stdout log `FILE`, AUTO or NONE (default AUTO)")
	f.StringVar(&stderr, "stderr", "", "stderr log `FILE`, AUTO or NONE (default AUTO)")
	f.BoolVar(&redirect, "redirect-stderr", false, "send stderr to stdout's log")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		name, command := args[0], args[1:]
		fields := map[string]any{"command": command}
		set := func(flag, key string, v any) {
			if f.Changed(flag) {
				fields[key] = v
			}
		}
		abs := func(p string) (string, error) {
			if p == "" || strings.EqualFold(p, "AUTO") || strings.EqualFold(p, "NONE") {
				return p, nil
			}
			return filepath.Abs(p)
		}
		var err error
		if dir, err = abs(dir); err != nil {
			return err
		}
		if stdout, err = abs(stdout); err != nil {
			return err
		}
		if stderr, err = abs(stderr); err != nil {
			return err
		}
		set("restart", "restart", restart)
		set("numprocs", "numprocs", numprocs)
		set("process-name", "process_name", processName)
		set("dir", "directory", dir)
		set("user", "user", user)
		set("autostart", "autostart", autostart)
		if noAutostart {
			if f.Changed("autostart") && autostart {
				return usageError{"--autostart and --no-autostart contradict each other"}
			}
			fields["autostart"] = false
		}
		set("start-secs", "start_secs", startSecs)
		set("stop-signal", "stop_signal", stopSignal)
		set("stop-timeout", "stop_timeout", stopTimeout)
		set("priority", "priority", priority)
		if len(env) > 0 {
			m := map[string]any{}
			for _, kv := range env {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usageError{fmt.Sprintf("--env %q: want KEY=VALUE", kv)}
				}
				m[k] = v
			}
			fields["environment"] = m
		}
		if f.Changed("stdout") {
			fields["stdout"] = map[string]any{"file": stdout}
		}
		errSpec := map[string]any{}
		if f.Changed("stderr") {
			errSpec["file"] = stderr
		}
		if redirect {
			errSpec["redirect"] = true
		}
		if len(errSpec) > 0 {
			fields["stderr"] = errSpec
		}
		c := dial()
		defer c.Close()
		results, err := c.AddProgram(cmd.Context(), name, fields)
		var ce *client.Error
		if err != nil && !(errors.As(err, &ce) && len(ce.Results) > 0) {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s: added\n", name)
		return printResults(cmd.OutOrStdout(), "start", nil, results, err)
	}
	return cmd
}
