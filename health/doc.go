// Package health runs health probes (exec, HTTP and TCP) for many processes
// with a fixed number of goroutines, and keeps each one's health status.
//
// A Checker has one scheduler goroutine, which owns every probe's state and
// keeps all deadlines (next probe, exec timeout) in one timer heap, and a
// fixed pool of Options.Workers goroutines for network probes. Exec probes
// are started through the monitor (monitor.Launch) as processes in their own
// process group: no goroutine waits for them, the monitor reaps them and
// hands the exit back; at their timeout their whole group is killed with
// SIGKILL. So 1 probe or 10,000: the same 1+Workers goroutines. HTTP probes
// never keep connections alive (an idle keep-alive connection costs Go's
// HTTP client two goroutines).
//
// # States
//
//	from       on                                         to
//	---------  -----------------------------------------  ---------
//	(none)     Spawned                                    starting
//	starting   a probe passes                             healthy
//	starting   a failure inside StartPeriod               starting (not counted)
//	starting   Retries failures in a row after it         unhealthy
//	healthy    Retries failures in a row                  unhealthy
//	unhealthy  a probe passes                             healthy
//	any        Spawned (a new process)                    starting
//	any        Stopped (no process)                       (none)
//
// A process is never healthy before its first passing probe, and never
// keeps the health of a previous process: every spawn resets it, and a
// probe still running from before the spawn is not counted. At most one
// probe per process is in flight: a probe that is due while the last one
// still runs waits for it. The first probe runs one StartInterval after the
// spawn when there is a StartPeriod, else one Interval after it (Docker's
// rule); the next one an interval after the previous one ended.
//
// # Limits
//
// Output: an exec probe's stdout and stderr go to one memory file (memfd);
// the first 4 KiB are kept, and the file is closed once the probe is reaped.
// An HTTP probe keeps the first 4 KiB of the body. The last 5 results of
// each process are kept. Network probes wait in a queue when all workers
// are busy; a probe's timeout starts when a worker takes it.
//
// The package never changes process state: it reports status changes
// through Options.OnChange and the caller (corral's daemon) acts on them.
package health
