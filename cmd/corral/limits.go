package main

import (
	"fmt"
	"log/slog"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/config"
)

// raiseLimits applies supervisord's minfds and minprocs: a soft limit below
// the minimum is raised to it (and the hard limit with it, which only root
// may do, with CAP_SYS_RESOURCE), or the daemon refuses to start with
// supervisord's message. Go already raised the soft RLIMIT_NOFILE to one
// below the hard one when the process started (and gives its children the
// original back); a limit raised here is inherited by the programs, as
// supervisord's is. The descriptor budget (daemon.ComputeBudget) is checked
// against the result.
func raiseLimits(cfg *config.Config, log *slog.Logger) error {
	for _, l := range []struct {
		name, key string
		res       int
		min       int
		msg       string
	}{
		{"RLIMIT_NOFILE", "minfds", syscall.RLIMIT_NOFILE, cfg.Daemon.MinFDs,
			`The minimum number of file descriptors required to run this process is %d as per the "minfds" config file setting. ` +
				`The current environment will only allow you to open %d file descriptors. ` +
				`Either raise the number of usable file descriptors in your environment (LimitNOFILE= in a systemd unit, ulimit -n) ` +
				`or lower the minfds setting in the config file to allow the process to start.`},
		{"RLIMIT_NPROC", "minprocs", unix.RLIMIT_NPROC, cfg.Daemon.MinProcs,
			`The minimum number of available processes required to run this program is %d as per the "minprocs" config file setting. ` +
				`The current environment will only allow you to open %d processes. ` +
				`Either raise the number of usable processes in your environment (LimitNPROC= in a systemd unit, ulimit -u) ` +
				`or lower the minprocs setting in the config file to allow the program to start.`},
	} {
		if l.min <= 0 {
			continue
		}
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(l.res, &lim); err != nil {
			return fmt.Errorf("getrlimit %s: %w", l.name, err)
		}
		want := uint64(l.min)
		if lim.Cur == ^uint64(0) || lim.Cur >= want {
			continue
		}
		hard := lim.Max
		if hard != ^uint64(0) && hard < want {
			hard = want // only root may raise it
		}
		if err := syscall.Setrlimit(l.res, &syscall.Rlimit{Cur: want, Max: hard}); err != nil {
			return fmt.Errorf("config %s: %s: %s (setrlimit %s: %v)", cfg.File, l.key, fmt.Sprintf(l.msg, l.min, lim.Max), l.name, err)
		}
		log.Info(fmt.Sprintf("increased %s limit to %d", l.name, l.min), "setting", l.key)
	}
	return nil
}
