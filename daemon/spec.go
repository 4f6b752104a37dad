package daemon

import (
	"os"
	"syscall"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/monitor"
)

// Spec maps one configured process to a monitor spec, without its output
// (the caller sets Stdout/Stderr or Stdio). env is the base environment,
// shared by every process and never written: the spec's Env is env and its
// ExtraEnv the program's own environment, which the monitor adds after it
// at each spawn (so the program's wins).
func Spec(p config.Process, name string, env []string) (monitor.Spec, error) {
	prog := p.Program
	pol, err := monitor.ParseRestartPolicy(string(prog.Restart))
	if err != nil {
		return monitor.Spec{}, err
	}
	if pol.Kind == monitor.RestartOnFailure {
		pol.MaxRetries = prog.RestartLimit
	}
	e := env
	if e == nil {
		e = os.Environ()
	}
	s := monitor.Spec{
		Name:         name,
		Path:         prog.Command[0],
		Args:         prog.Command,
		Env:          e,
		ExtraEnv:     prog.Environment,
		Dir:          prog.Directory,
		User:         prog.User,
		Umask:        prog.Umask,
		Restart:      pol,
		ExitCodes:    prog.ExitCodes,
		MinUptime:    prog.StartPeriod,
		StartRetries: prog.StartRetries,
		Backoff: monitor.Backoff{
			// initial = "0s" means restart at once (supervisord's way).
			Immediate: prog.Backoff.Initial == 0,
			Initial:   prog.Backoff.Initial, Factor: prog.Backoff.Factor,
			Max: prog.Backoff.Max, ResetAfter: prog.Backoff.ResetAfter,
		},
		FatalRetry:  prog.FatalRetry,
		StopSignal:  prog.StopSignal,
		StopTimeout: prog.StopTimeout,
		StopAsGroup: prog.StopAsGroup,
		// supervisord's killasgroup=false (its default) leaves the rest of
		// the group alone when the main process dies; corral's TOML default
		// (kill_as_group = true) ends the group with its main process.
		KeepGroup: !prog.KillAsGroup,
		// A daemon killed with SIGKILL must not leave unsupervised copies:
		// its children die with it, and the next daemon ends their groups.
		DeathSignal: syscall.SIGKILL,
	}
	s.PreStart, s.PostStop, s.StopCommand = hooks(prog.Hooks)
	return s, nil
}
