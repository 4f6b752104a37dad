// Package supervisorrpc is corral's supervisord-compatible endpoint: the
// XML-RPC interface at /RPC2 and the log-following /logtail/ that the
// unmodified supervisorctl client (and other supervisord clients) use.
//
// [Handler] serves both on one http.Handler, to mount on the daemon's unix
// socket; [ListenInet] and [ServeInet] serve it on the TCP port of
// [inet_http_server], and refuse to do so without a username and password.
//
// Method names are resolved only from an explicit table (see
// [xmlrpc.Methods]): nothing else in the daemon is reachable through a
// method name. Every method maps supervisord's semantics onto the daemon:
//
//   - Names are supervisord namespecs: "group:process", "group:*" (or
//     "group:") for a whole group, and "name" for a process whose group has
//     its name. A name that does not denote a process is a BAD_NAME fault,
//     as in supervisord (a program name inside a group is not enough).
//
//   - Faults carry supervisord's codes and strings ("BAD_NAME: foo",
//     "NOT_RUNNING: foo", "ALREADY_STARTED: foo", "SPAWN_ERROR: foo",
//     "ABNORMAL_TERMINATION: foo"), and group methods return supervisord's
//     per-process result structs {name, group, status, description}.
//
//   - startProcess with wait returns once the process is RUNNING, or fails
//     with SPAWN_ERROR or ABNORMAL_TERMINATION; stopProcess with wait returns
//     once it is stopped. Waits end when the client goes away.
//
//   - getProcessInfo returns supervisord's keys and description texts
//     ("pid 123, uptime 0:01:02", "Not started", the stop date such as
//     "Nov 28 07:30 AM", "Exited too quickly (process log may have
//     details)").
//
//   - reloadConfig, addProcessGroup and removeProcessGroup work on groups,
//     as supervisorctl's reread, update, add and remove expect; the
//     configuration read by reloadConfig is what addProcessGroup adds.
//
//   - Log offsets (readProcessStdoutLog, tailProcessStdoutLog) count bytes of
//     the current log file, as supervisord's do; rotated backups are not
//     reachable through them. Offsets follow supervisord's readFile and
//     tailFile for every int64: a negative offset reads from the end, and
//     impossible values (a negative length, an offset of -2^63) are
//     BAD_ARGUMENTS faults.
//
//   - What one request can make the daemon hold is bounded, where
//     supervisord has no bound: a log-reading call returns at most 1 MiB
//     (a client reads on from the offset after what it got), and a
//     system.multicall response at most xmlrpc.MaxMulticallResponse bytes
//     of results; the calls past it get a FAILED fault without being run.
//
//   - A method that panics answers a FAILED fault and leaves one line in
//     the daemon's log (the stack at debug level).
//
//   - sendProcessStdin writes to the process's stdin pipe (see
//     daemon.SendStdin) without ever waiting: NOT_RUNNING for a process
//     without a pid or stopping, NO_FILE when the pipe is closed or the
//     program has stdin = "null", FAILED when the pipe is full (supervisord
//     buffers without bound; corral's buffer is the pipe's 64 KiB).
//
// What corral does not have is refused with a clear fault rather than
// faked. docs/SUPERVISORD.md lists every method with corral's status.
//
// The package never starts a goroutine per process: a request (and a
// /logtail follower) has one, for as long as it lasts.
package supervisorrpc
