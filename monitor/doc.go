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
// Because the default backend reaps every child of the process, nothing else
// in the process may wait for children: run one-shot commands with
// Monitor.Command, which is shaped like exec.Cmd. A program that cannot give
// up all reaping selects BackendPidfd, which watches one pidfd per child from
// one epoll loop and reaps only its own children.
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
// get nothing but their stdio.
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
package monitor
