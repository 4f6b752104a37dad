package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/httpguard"
	"github.com/corralhq/corral/logs"
	"github.com/corralhq/corral/monitor"
)

// ErrOverBudget is returned (wrapped) when the programs of a configuration,
// a reload or a runtime add need more file descriptors or processes than
// the daemon's limits allow. Nothing is changed when it is returned.
var ErrOverBudget = errors.New("over the descriptor or process budget")

// Descriptors the daemon holds whatever its programs (see logs/doc.go and
// httpguard/doc.go for where the figures come from).
const (
	// budgetCaptureOwn is the capture's own descriptors beyond its open log
	// files: epoll, an eventfd, and while it (re)opens or rotates a file one
	// more file and two directories.
	budgetCaptureOwn = 2 + 3
	// budgetFixed covers the rest: stdin/stdout/stderr, the daemon's log
	// file, the state store (file and lock), Go's netpoller (epoll and its
	// eventfd), the monitor's signal and loop descriptors, the two ends of
	// the pipes of the one spawn under way and the shim's, /proc reads, the
	// pidfile, the notification socket (notify.go) and the notification fd
	// of the spawn under way (none is held per program). Counted
	// generously: one descriptor short is a program down.
	budgetFixed = 32
	// budgetPerListener is an HTTP listener's socket and the connections it
	// serves at once (each API request, event stream, supervisorctl or
	// /metrics scrape is one).
	budgetPerListener = 1 + httpguard.MaxConns
	// budgetPids is what the processes are compared with below pid_max: the
	// rest of the system (kernel threads, other services) needs pids too.
	budgetPids = 1024
	// budgetThreads is the daemon's own threads, which count against
	// RLIMIT_NPROC like processes do (a constant: invariant 1).
	budgetThreads = 32
)

// Limits are the resource limits the budget is checked against.
type Limits struct {
	// NoFile and NoFileHard are RLIMIT_NOFILE's soft and hard limits (Go
	// raises the soft one to one below the hard one when a program starts).
	NoFile, NoFileHard uint64
	// NProc is RLIMIT_NPROC's soft limit; Unlimited when there is none.
	NProc uint64
	// PidMax is /proc/sys/kernel/pid_max; 0 when unknown (not checked).
	PidMax int
	// Root reports whether the daemon runs as root. The kernel does not
	// hold root to RLIMIT_NPROC, but it does hold the processes that root
	// starts as another user (its execve fails once that user has NProc
	// processes).
	Root bool
}

// Unlimited is RLIM_INFINITY.
const Unlimited = ^uint64(0)

// Budget is what a configuration needs.
type Budget struct {
	Programs, Processes int
	// FDs is the descriptors needed in all: Pipes plus Reserved.
	FDs, Pipes, Reserved int
	// ByUser counts processes by the user they run as ("" is the daemon's).
	ByUser map[string]int
}

// BudgetOptions are the daemon-wide figures the budget adds to the programs'.
type BudgetOptions struct {
	// Listeners is the number of HTTP listeners (each may hold
	// httpguard.MaxConns connections).
	Listeners int
	// MaxOpenFiles is the capture's bound on open log files (0: the
	// default, logs.DefaultMaxOpenFiles).
	MaxOpenFiles int
	// PidfdBackend adds a pidfd per process (monitor.BackendPidfd).
	PidfdBackend bool
}

// programFDs is the descriptors one process of p holds while it runs: the
// read end of its stdout pipe, of its stderr pipe unless stderr is
// redirected into stdout (a discarded stream still has its pipe), the
// write end of its stdin pipe with stdin = "pipe" (see stdin.go), and its
// pidfd with the pidfd backend.
func programFDs(p config.Program, o BudgetOptions) int {
	n := 1
	if !p.Stderr.Redirect {
		n++
	}
	if p.Stdin == config.StdinPipe {
		n++
	}
	if o.PidfdBackend {
		n++
	}
	return n
}

// processes is the number of processes p runs (numprocs).
func processes(p config.Program) int { return max(p.NumProcs, 1) }

// ComputeBudget returns what programs need with the daemon's own
// descriptors. It is a pure function of its arguments.
func ComputeBudget(programs []config.Program, o BudgetOptions) Budget {
	b := emptyBudget(o)
	for _, p := range programs {
		b.add(p, o, 1)
	}
	return b
}

// emptyBudget is the daemon's own needs, without programs.
func emptyBudget(o BudgetOptions) Budget {
	maxOpen := o.MaxOpenFiles
	if maxOpen <= 0 {
		maxOpen = logs.DefaultMaxOpenFiles
	}
	r := budgetFixed + budgetCaptureOwn + maxOpen + o.Listeners*budgetPerListener
	return Budget{ByUser: map[string]int{}, Reserved: r, FDs: r}
}

// add counts p in b (sign 1) or takes it out (sign -1).
func (b *Budget) add(p config.Program, o BudgetOptions, sign int) {
	n := processes(p)
	b.Programs += sign
	b.Processes += sign * n
	b.Pipes += sign * n * programFDs(p, o)
	if p.Socket != nil {
		b.Pipes += sign // an [fcgi-program:x]'s socket, one per program
	}
	b.FDs = b.Pipes + b.Reserved
	if b.ByUser[p.User] += sign * n; b.ByUser[p.User] == 0 {
		delete(b.ByUser, p.User)
	}
}

// with returns a copy of b with p counted.
func (b Budget) with(p config.Program, o BudgetOptions) Budget {
	c := b
	c.ByUser = maps.Clone(b.ByUser)
	c.add(p, o, 1)
	return c
}

// Check returns an error wrapping ErrOverBudget, with the numbers and the
// remedies, when b does not fit in lim; nil when it does.
func (b Budget) Check(lim Limits) error {
	var msgs []string
	if lim.NoFile != Unlimited && uint64(b.FDs) > lim.NoFile {
		msgs = append(msgs, fmt.Sprintf(
			"%d programs (%d processes) need %d file descriptors (%d for their output pipes, %d for the daemon's log files, sockets and API connections) but RLIMIT_NOFILE allows %d (hard limit %d); "+
				"raise it (LimitNOFILE= in the systemd unit, ulimit -n, or minfds (TOML: min_fds) in the config when the daemon runs as root), "+
				"or redirect stderr into stdout (redirect_stderr) so that each process needs one pipe instead of two",
			b.Programs, b.Processes, b.FDs, b.Pipes, b.Reserved, lim.NoFile, lim.NoFileHard))
	}
	if lim.PidMax > 0 && b.Processes+budgetPids > lim.PidMax {
		msgs = append(msgs, fmt.Sprintf(
			"%d programs need %d processes but /proc/sys/kernel/pid_max is %d (%d pids are left to the rest of the system); raise kernel.pid_max (sysctl)",
			b.Programs, b.Processes, lim.PidMax, budgetPids))
	}
	if lim.NProc != Unlimited {
		const remedy = "raise it (LimitNPROC= in the systemd unit, ulimit -u, or minprocs (TOML: min_procs) in the config when the daemon runs as root)"
		if !lim.Root {
			// Every process runs as the daemon's user, with its threads.
			if n := b.Processes + budgetThreads; uint64(n) > lim.NProc {
				msgs = append(msgs, fmt.Sprintf(
					"%d programs need %d processes and threads of the daemon's user but RLIMIT_NPROC allows %d; %s",
					b.Programs, n, lim.NProc, remedy))
			}
		} else {
			// The kernel does not hold root to RLIMIT_NPROC, but a process
			// root starts as another user fails its execve once that
			// user has more processes than the limit.
			var over []string // sorted only when some user is over
			for u, n := range b.ByUser {
				if u != "" && u != "root" && u != "0" && uint64(n) > lim.NProc {
					over = append(over, u)
				}
			}
			slices.Sort(over)
			for _, u := range over {
				msgs = append(msgs, fmt.Sprintf(
					"%d processes run as user %s but RLIMIT_NPROC allows %d; %s",
					b.ByUser[u], u, lim.NProc, remedy))
			}
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrOverBudget, strings.Join(msgs, "; "))
}

// budgetState is what the registered programs use of the budget. Guarded
// by Daemon.mu.
type budgetState struct {
	lim  Limits
	opts BudgetOptions
	used Budget
}

func newBudgetState(o Options) (budgetState, error) {
	bs := budgetState{opts: BudgetOptions{Listeners: o.Listeners, PidfdBackend: o.Monitor.Backend == monitor.BackendPidfd}}
	bs.used = emptyBudget(bs.opts)
	if o.Limits != nil {
		bs.lim = *o.Limits
		return bs, nil
	}
	var err error
	bs.lim, err = SystemLimits()
	return bs, err
}

// admit returns the budget used once p is added, or the error that refuses
// p. It changes nothing.
func (bs *budgetState) admit(p config.Program) (Budget, error) {
	next := bs.used.with(p, bs.opts)
	if err := next.Check(bs.lim); err != nil {
		return Budget{}, fmt.Errorf("program %q not added: %w", p.Name, err)
	}
	return next, nil
}

// release takes a removed program out of the budget used.
func (bs *budgetState) release(p config.Program) { bs.used.add(p, bs.opts, -1) }

// checkStartBudget checks the configuration's programs and those added at
// run time that the store will restore, before anything is registered, so
// that the daemon refuses to start with one message rather than let some
// programs fail.
func (d *Daemon) checkStartBudget(programs []config.Program) error {
	b := ComputeBudget(programs, d.budget.opts)
	added := 0
	if saved, err := d.store.Programs(); err == nil && len(saved) > 0 {
		names := make(map[string]bool, len(programs))
		for _, p := range programs {
			names[p.Name] = true
		}
		for _, raw := range saved {
			var p config.Program
			if json.Unmarshal(raw, &p) == nil && !names[p.Name] {
				b.add(p, d.budget.opts, 1)
				added++
			}
		}
	}
	if err := b.Check(d.budget.lim); err != nil {
		if added > 0 {
			return fmt.Errorf("config %s (with %d programs added at run time): %w", d.cfg.File, added, err)
		}
		return fmt.Errorf("config %s: %w", d.cfg.File, err)
	}
	d.reserveDescriptors(b, "start")
	return nil
}

// reserveDescriptors grows the descriptor table, from a goroutine of its
// own, to hold what b's programs need while they run: one growth instead
// of one per power of two their pipes cross, each a wait of 13-16 ms
// inside a batch of spawns (monitor.ReserveDescriptors). The programs'
// pipes and the daemon's own descriptors, not the reserve for log files
// and connections the budget also counts.
func (d *Daemon) reserveDescriptors(b Budget, before string) {
	go func() {
		if err := monitor.ReserveDescriptors(b.Pipes + budgetFixed + budgetCaptureOwn); err != nil {
			d.log.Debug("descriptor table not grown before the "+before, "err", err)
		}
	}()
}

// checkReloadBudget checks the programs a reload would leave (those it
// keeps, changes and adds) before it changes anything.
func (d *Daemon) checkReloadBudget(df Diff, cfg *config.Config, progs map[string]*config.Program, keep func(string) bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	after := make([]config.Program, 0, len(d.programs)+len(df.Added))
	gone := map[string]bool{}
	for _, name := range df.Removed {
		gone[name] = keep(name)
	}
	for _, name := range df.Changed {
		if keep(name) {
			gone[name] = true
			after = append(after, *progs[name])
		}
	}
	for name, p := range d.programs {
		if !gone[name] {
			after = append(after, *p.cfg)
		}
	}
	for _, name := range df.Added {
		if keep(name) {
			after = append(after, *progs[name])
		}
	}
	b := ComputeBudget(after, d.budget.opts)
	if err := b.Check(d.budget.lim); err != nil {
		return fmt.Errorf("reload of %s refused, nothing changed: %w", cfg.File, err)
	}
	d.reserveDescriptors(b, "reload")
	return nil
}
