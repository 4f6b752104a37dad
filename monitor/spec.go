package monitor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Spec describes one supervised process: what to run, how, and what to do when
// it exits. The zero value of every field but Name and Path is a usable default.
type Spec struct {
	// Name identifies the process in the monitor; it must be unique.
	Name string
	// Path is the program to run. A path without a slash is looked up in the
	// PATH of Env and ExtraEnv (or of the monitor's own environment when
	// both are nil).
	Path string
	// Args holds the command line, including argv[0]. Empty means [Path].
	Args []string
	// Env is the environment as KEY=value strings; nil means the monitor's own.
	Env []string
	// ExtraEnv is added after Env at each spawn. Many specs can then share
	// one Env slice (a daemon's base environment) and keep only what
	// differs in their own: each process's full environment is built when
	// it is spawned instead of held, one copy per process, for its life.
	ExtraEnv []string
	// Dir is the working directory; empty means the monitor's.
	Dir string

	// User runs the process as this user (a name or a numeric uid). Empty
	// keeps the monitor's credentials.
	User string
	// Group overrides the user's primary group (a name or a numeric gid).
	Group string
	// Groups sets the supplementary groups (names or gids). When it is nil and
	// User is set, the user's groups from the group database are used, as
	// initgroups(3) does; DropGroups drops them all instead.
	Groups     []string
	DropGroups bool

	// Umask, when not nil, is the file mode creation mask of the process.
	// Umask and Rlimits are applied by a small exec shim (see ShimPath).
	Umask *uint32
	// Rlimits are resource limits set in the process before it runs.
	Rlimits []Rlimit

	// Stdin, Stdout and Stderr are given to every process as they are; nil
	// means /dev/null. The monitor never closes them.
	Stdin, Stdout, Stderr *os.File
	// Stdio, when set, is called on the loop goroutine before each spawn and
	// its files replace Stdin/Stdout/Stderr for that spawn. The monitor closes
	// the files it returns once the spawn is done (its own copies, not the
	// child's), so a pipe's write end lives only in the child.
	Stdio func() (stdin, stdout, stderr *os.File, err error)

	// Restart is the policy applied when a RUNNING process exits.
	Restart RestartPolicy
	// ExitCodes are the expected exit codes (default [0]).
	ExitCodes []int
	// MinUptime (supervisord's startsecs, pm2's min_uptime) is how long a
	// process must stay up to count as started (RUNNING). A death before that
	// is a failed start. Zero means RUNNING as soon as it is spawned: then no
	// death is a failed start, StartRetries never applies, and a crash loop
	// is governed by Restart and Backoff alone (it backs off up to
	// Backoff.Max and never goes FATAL), as supervisord does with
	// startsecs=0. Set a MinUptime for StartRetries to count.
	MinUptime time.Duration
	// StartRetries is the number of failed starts in a row (deaths before
	// MinUptime, or spawn errors that may pass) tolerated before the process
	// goes FATAL. It has no effect on deaths when MinUptime is zero.
	StartRetries int
	// Backoff shapes the delay before each restart.
	Backoff Backoff
	// FatalRetry, when positive, starts a FATAL process again after this delay.
	FatalRetry time.Duration

	// StopSignal is sent to stop the process (default SIGTERM).
	StopSignal syscall.Signal
	// StopTimeout is the grace period before SIGKILL (default 10s).
	StopTimeout time.Duration
	// DeathSignal, when not 0, is sent to the process by the kernel if the
	// monitor's process dies (PR_SET_PDEATHSIG), so a crashed supervisor
	// does not leave unsupervised processes behind.
	DeathSignal syscall.Signal

	// StopAsGroup sends StopSignal to the whole process group instead of the
	// process alone. SIGKILL always goes to the whole group.
	StopAsGroup bool

	// KeepGroup leaves the rest of the process group running when the main
	// process exits (a crash, a kill from outside, or a Stop whose signal
	// reached the main process alone). By default (false) the monitor sends
	// SIGKILL to the group as it reaps the main process, before the group id
	// can be reused, so no helper, shell-loop child or worker outlives the
	// process it belongs to. supervisord's default is the opposite
	// (killasgroup=false: only the stop timeout's SIGKILL reaches the group,
	// and members outlive a main process that dies on its own); a daemon
	// reading supervisord.conf sets KeepGroup to !killasgroup. With
	// StopAsGroup, the group is killed after a Stop whatever KeepGroup says.
	// Shutdown leaves kept members alone too, except in a monitor with
	// Options.Subreaper: there they are its children by then (orphans
	// re-parented to it), and Shutdown kills and reaps every child.
	KeepGroup bool

	// Cgroup, when not empty, is a cgroup v2 directory the process is
	// spawned into (CLONE_INTO_CGROUP, so it never runs outside it); it is
	// created if missing. Whatever the process forks stays in it, even
	// after setsid or a double fork, so wherever the monitor kills the
	// process group (the stop timeout, the death of a main process without
	// KeepGroup, Shutdown) it also kills whatever is left in the cgroup
	// (see package cgroup); a cgroup with nothing left is not killed, and
	// the restart goes into it again. The monitor never removes it: its
	// owner does, once empty.
	Cgroup string

	// PreStart runs to completion before each spawn of the process (a
	// start, each restart); its failure (an exit other than 0, a signal,
	// its timeout) is a failed start. Until it is done the process is
	// STARTING with no pid; a Stop kills the hook.
	PreStart *Hook
	// PostStop runs after each exit of the process, whatever ended it.
	PostStop *Hook
	// StopCommand runs instead of sending StopSignal when the process is
	// stopped (for example "runc kill ID TERM"); StopTimeout still applies,
	// after which the process group and Cgroup are killed as usual.
	StopCommand *Hook

	// Readiness says when the process counts as ready, what it depends on,
	// and its watchdog (see ready.go). The zero value: ready after
	// MinUptime, no dependencies.
	Readiness Readiness
}

// Rlimit is one resource limit, as setrlimit(2) takes it.
type Rlimit struct {
	Resource int // for example unix.RLIMIT_NOFILE
	Cur, Max uint64
}

// Backoff shapes restart delays. Zero fields take Docker's defaults: Initial
// 100ms, Factor 2, Max 1m, ResetAfter 10s.
type Backoff struct {
	// Immediate restarts without any delay, as supervisord does (Initial,
	// Factor and Max are then unused). Deaths before MinUptime still count
	// as failed starts: a program that keeps dying at once goes FATAL after
	// StartRetries immediate retries.
	Immediate bool
	// Initial is the delay before the first retry of a crashing process.
	Initial time.Duration
	// Factor multiplies the delay after each further crash.
	Factor float64
	// Max caps the delay.
	Max time.Duration
	// ResetAfter: a process that ran at least this long is restarted at once
	// and its delay starts over from Initial.
	ResetAfter time.Duration
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = 100 * time.Millisecond
	}
	if b.Factor < 1 {
		b.Factor = 2
	}
	if b.Max <= 0 {
		b.Max = time.Minute
	}
	if b.ResetAfter <= 0 {
		b.ResetAfter = 10 * time.Second
	}
	return b
}

// delay returns the n-th delay (n >= 1) of a crash loop.
func (b Backoff) delay(n int) time.Duration {
	if b.Immediate {
		return 0
	}
	d := float64(b.Initial)
	for i := 1; i < n && d < float64(b.Max); i++ {
		d *= b.Factor
	}
	if d > float64(b.Max) {
		return b.Max
	}
	return time.Duration(d)
}

// RestartKind is the kind of a RestartPolicy.
type RestartKind int

// The restart policies: Docker's no, always, on-failure and unless-stopped,
// and supervisord's unexpected.
const (
	RestartNo RestartKind = iota
	RestartAlways
	RestartOnFailure
	RestartUnlessStopped
	RestartUnexpected
)

// RestartPolicy decides whether a process that exited after reaching RUNNING is
// started again. A failed start (death before MinUptime) is governed by
// StartRetries instead, as in supervisord.
type RestartPolicy struct {
	Kind RestartKind
	// MaxRetries limits on-failure restarts since the last Start; 0 means no
	// limit. It is Docker's on-failure:N.
	MaxRetries int
}

// ParseRestartPolicy parses "no", "always", "on-failure", "on-failure:N",
// "unless-stopped" and "unexpected". supervisord's autorestart values "true"
// and "false" are accepted as always and no.
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, arg, hasArg := strings.Cut(s, ":")
	var p RestartPolicy
	switch name {
	case "no", "false":
		p.Kind = RestartNo
	case "always", "true":
		p.Kind = RestartAlways
	case "on-failure":
		p.Kind = RestartOnFailure
	case "unless-stopped":
		p.Kind = RestartUnlessStopped
	case "unexpected":
		p.Kind = RestartUnexpected
	default:
		return p, fmt.Errorf("unknown restart policy %q (want no, always, on-failure[:N], unless-stopped or unexpected)", s)
	}
	if hasArg {
		if p.Kind != RestartOnFailure {
			return p, fmt.Errorf("restart policy %q takes no :N", name)
		}
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 {
			return p, fmt.Errorf("restart policy %q: bad retry count %q", s, arg)
		}
		p.MaxRetries = n
	}
	return p, nil
}

// String returns the policy as ParseRestartPolicy reads it.
func (p RestartPolicy) String() string {
	switch p.Kind {
	case RestartNo:
		return "no"
	case RestartAlways:
		return "always"
	case RestartOnFailure:
		if p.MaxRetries > 0 {
			return "on-failure:" + strconv.Itoa(p.MaxRetries)
		}
		return "on-failure"
	case RestartUnlessStopped:
		return "unless-stopped"
	case RestartUnexpected:
		return "unexpected"
	}
	return "RestartKind(" + strconv.Itoa(int(p.Kind)) + ")"
}

// State is a process state. The numbers are supervisord's, so they can be
// shown to supervisorctl as they are.
type State int

// Process states, with supervisord's numbers.
const (
	StateStopped  State = 0
	StateStarting State = 10
	StateRunning  State = 20
	StateBackoff  State = 30
	StateStopping State = 40
	StateExited   State = 100
	StateFatal    State = 200
	StateUnknown  State = 1000
)

var stateNames = map[State]string{
	StateStopped:  "STOPPED",
	StateStarting: "STARTING",
	StateRunning:  "RUNNING",
	StateBackoff:  "BACKOFF",
	StateStopping: "STOPPING",
	StateExited:   "EXITED",
	StateFatal:    "FATAL",
	StateUnknown:  "UNKNOWN",
}

// String returns the state's name as supervisorctl shows it, e.g. "RUNNING".
func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return "UNKNOWN"
}

// ParseState is the inverse of State.String.
func ParseState(name string) (State, bool) {
	for s, n := range stateNames {
		if n == name {
			return s, true
		}
	}
	return StateUnknown, false
}

// Active reports whether a process in this state has, or is about to have, a
// live pid: STARTING, RUNNING, STOPPING and BACKOFF, and WAITING (for its
// dependencies).
func (s State) Active() bool {
	return s == StateWaiting || s == StateStarting || s == StateRunning || s == StateStopping || s == StateBackoff
}
