// Package monitor is an evented process monitor: one goroutine starts,
// watches, reaps and restarts any number of child processes.
//
// A supervisor that calls exec.Cmd.Wait in a goroutine per child ties up one
// OS thread per child and dies at Go's 10,000-thread limit. A Monitor instead
// runs one event loop goroutine that owns every process record. It spawns
// from that goroutine, learns of exits from SIGCHLD and reaps them with
// wait4(-1, WNOHANG) until nothing is left, and keeps all its deadlines
// (start, backoff, stop grace) in one timer heap. Other goroutines talk to the
// loop by message; there is no lock around process state. 1 process or
// 10,000: the same handful of goroutines and threads.
//
// # Choosing a backend
//
// BackendReaper (the zero value) reaps every child of the process with
// wait4(-1), orphans included: it is the backend of a supervisor that owns
// the process, like corral's daemon (with Subreaper) or a container's PID 1.
// Nothing else in the process may then wait for children: run one-shot
// commands with Monitor.Command, which is shaped like exec.Cmd, or with
// Monitor.Launch, which calls back at the exit instead of needing a
// goroutine to wait (for many short commands, such as health probes). Only one
// BackendReaper monitor can run in a process, and never beside another
// monitor (New returns ErrReaperInUse). The first exit it reaps of a child
// that other code started is logged at Warn, with its pid.
//
// BackendPidfd watches one pidfd per child from one epoll loop and reaps
// only its own children, so os/exec keeps working everywhere else in the
// process and several such monitors can coexist (Linux 5.4 or later). A
// daemon that embeds the monitor among other libraries, as Docker's or
// containerd's daemon would, picks BackendPidfd; it cannot be a subreaper,
// so orphans of its processes go to the nearest subreaper or init.
//
// # What the package takes from the process
//
//   - SIGCHLD (os/signal) and all reaping, with BackendReaper only.
//   - PR_SET_CHILD_SUBREAPER while the loop runs, with Options.Subreaper;
//     Shutdown then kills and reaps every child the process still has.
//   - One OS thread locked to the loop goroutine: a child's death signal
//     (Spec.DeathSignal) fires when the thread that forked it ends. Not
//     with RunSpawner, whose thread forks every process instead.
//   - The main thread, only if main hands it over with RunSpawner: every
//     Monitor of the process then forks from that thread, whose own
//     descriptor table holds a handful of descriptors, so a spawn costs the
//     same whatever the program holds open (see RunSpawner).
//   - An init function that turns the binary into the exec shim (Spec.Umask,
//     Spec.Rlimits) or the spawn helper (Options.SpawnHelper) when argv[0]
//     is exactly "corral-exec-shim" or "corral-spawn-helper"; the monitor
//     re-executes Options.ShimPath (default /proc/self/exe) that way. No
//     other program is started with such an argv[0], so it does nothing
//     in a normal run, and it runs before the embedding program's main.
//
// Nothing is logged unless Options.Logger is set.
//
// # Process groups
//
// Every process gets its own process group. When its main process exits,
// for whatever reason, the monitor kills the rest of the group unless
// Spec.KeepGroup is set (supervisord's default, killasgroup=false, keeps
// it), so a shell loop's children never outlive it.
//
// The package never reads configuration files, serves HTTP or writes logs to
// disk; those are the daemon's. It never blocks its loop on a consumer: event
// subscribers have bounded queues and get an EventMissed marker when they fall
// behind.
//
// # Descriptors
//
// A process gets the stdio its Spec gives it (/dev/null for a nil one) and,
// as with os/exec, every descriptor of the embedding program that is not
// close-on-exec. Go opens its own descriptors close-on-exec; the ones the
// program inherited from its parent (a shell's, a service manager's) are
// not. Marking them is a process-wide change, which the package never makes
// on its own: call CloseOnExecInherited at the top of main so that processes
// get nothing but their stdio. A program that opens a pipe or two per
// process for thousands of processes grows its descriptor table once
// before the start with ReserveDescriptors, instead of once per power of
// two, each a wait of a few milliseconds or more.
//
// # Process states
//
// States and their numbers are supervisord's. Every edge below is exercised
// by TestStateTransitions.
//
//	from      on                                   to
//	--------  -----------------------------------  ---------------------------
//	STOPPED   Start                                STARTING
//	STOPPED   Start, spawn error                   FATAL (message in Err)
//	STARTING  up for MinUptime                     RUNNING
//	STARTING  exit, failed starts <= StartRetries  BACKOFF
//	STARTING  exit, failed starts > StartRetries   FATAL
//	STARTING  Stop                                 STOPPING
//	RUNNING   exit, policy says no restart         EXITED
//	RUNNING   exit, restart, up < ResetAfter       BACKOFF (delay doubles)
//	RUNNING   exit, restart, up >= ResetAfter      EXITED, then STARTING at once
//	RUNNING   Stop                                 STOPPING
//	BACKOFF   delay elapsed                        STARTING
//	BACKOFF   Stop                                 STOPPED
//	STOPPING  exit                                 STOPPED
//	STOPPING  StopTimeout elapsed                  SIGKILL to the group, then STOPPED
//	EXITED    Start                                STARTING
//	FATAL     Start                                STARTING
//	FATAL     FatalRetry elapsed                   STARTING (or FATAL again)
//	STARTING  Ready for its pid (ReadyNotified)    RUNNING (once up for MinUptime)
//	STARTING  not ready within Readiness.Timeout   SIGKILL to the group, then BACKOFF or FATAL
//	STARTING  one-shot (ReadyExited) exits 0       EXITED (completed)
//	RUNNING   watchdog miss                        SIGABRT, then the restart policy
//	STOPPED   Start, a dependency not met yet      WAITING
//	WAITING   every dependency met                 STARTING
//	WAITING   a Requires dependency fails          FATAL (Err names it)
//	WAITING   Stop                                 STOPPED
//
// # Readiness and dependencies
//
// With Readiness.Mode ReadyNotified a process stays STARTING until Ready,
// Notify or SetHealth says its pid is ready (and it has been up for
// MinUptime), so RUNNING always means ready. A one-shot (ReadyExited) stays
// STARTING while it runs and ends EXITED with ProcessInfo.Ready.Completed.
// A process with Readiness.Deps is WAITING until every dependency holds
// (NAME:started, :ready, :healthy, :completed); the loop re-examines it on
// every state change of a dependency, so nothing polls and nothing blocks.
// It goes FATAL at once, with the dependency named in Err, when a Requires
// dependency goes FATAL, is stopped, or (for :completed) exits with an
// unexpected code. The monitor does not look for cycles: its members would
// wait forever, so a caller checks its graph first (the daemon does).
//
// A spawn error that names the spec (missing or non-executable binary, bad
// directory, unknown user or group) goes FATAL at once; one that may pass
// (EAGAIN, ENOMEM) counts as a failed start.
//
// # Restart policies
//
// After a RUNNING process exits: no never restarts; always and unless-stopped
// always do (unless-stopped differs only in what a daemon persists);
// on-failure[:N] restarts on a non-zero code or a signal, at most N times since
// the last Start; unexpected restarts when the exit code is not in ExitCodes.
// A death before MinUptime is a failed start whatever the policy.
//
// # Events
//
// Every exit produces exactly one EventExited, with the pid, exit code or
// signal, core dump flag, rusage and start/end times, then the state change
// it caused. Exits of pids the monitor never started (orphans re-parented to
// a subreaper) produce EventOrphanReaped and are counted in Stats.
//
// # Replacing the program image
//
// Monitor.Exec replaces the process image (execve, same pid) with every
// process still running: it saves the state on the loop and execs from the
// thread that forked the processes, whose children alone survive an execve.
// The new image creates its monitor with NewAdopting, adds the same specs and
// calls Adopt with the saved state; exits that happened meanwhile are reaped
// then, once. RunSpawner, called from main, moves every fork and the
// exec to the main thread, so any number of execs in a row keep every
// process; it takes the main thread for good, which is a decision for main,
// never for a library. See docs/UPGRADE.md.
package monitor
