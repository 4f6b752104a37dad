package initmode

// Help is the long help of `corral init`: its modes, signal rules and exit
// code rules. docs/INIT.md says the same with more words.
const Help = `corral init runs as PID 1 in a container (or anywhere, as a child subreaper).

  corral init [flags] [--] CMD [ARGS...]
  corral init --config FILE [--exit-on NAME]...

With CMD (tini's job): CMD runs as corral's only child, in its own process
group. corral forwards signals to it, reaps every zombie (orphans included),
and exits once CMD has exited, with CMD's code.

With --config FILE (TOML or supervisord INI): every program with autostart
runs with the daemon's semantics (restart policy, start_secs, backoff,
stop signal and timeout), started in ascending priority. Their output goes to
corral's own stdout and stderr: log file settings are ignored (containers log
to stdout). Programs with autostart=false are not started. Health checks
([program.x.health], or health_* keys) run and act on on_unhealthy as in
the daemon; with health_listen = "HOST:PORT" in [daemon] (or [supervisord]),
corral serves GET /livez and /readyz there for the orchestrator's probes
(docs/HEALTH.md).

Signals (CMD mode):
  - Every catchable signal corral receives is forwarded to CMD (with -g, to
    CMD's process group): HUP INT QUIT TERM USR1 USR2 WINCH CONT TSTP PIPE
    ALRM ABRT and the rest, real-time signals 34..64 included.
  - Not forwarded: SIGCHLD (corral reaps), SIGKILL and SIGSTOP (cannot be
    caught), SIGURG (Go's runtime sends it to itself), SIGTTIN and SIGTTOU
    (dropped, as tini ignores them: corral never stops for a terminal),
    signals corral sends itself (SIGPIPE when its stderr has no reader).
  - When stdin is a terminal, CMD's process group is made the terminal's
    foreground group before CMD starts (as tini does), so Ctrl-C and Ctrl-Z
    go to CMD's group directly; corral is not stopped by them.
  - Outside PID 1 corral is always a child subreaper (-s is accepted for
    tini compatibility), so orphans of CMD are re-parented to it and reaped.

Signals (--config mode):
  - SIGTERM, SIGINT, SIGQUIT: stop every program gracefully (its stop
    signal, then SIGKILL after its stop timeout) in descending priority, then
    exit 0. A second one kills every process group at once.
  - SIGTTIN, SIGTTOU: dropped. Any other catchable signal: forwarded to the
    main process of every running program.

Exit codes:
  - CMD exited with code N: N (0 when N is given with -e).
  - CMD was killed by signal N: 128+N (SIGKILL 137, SIGTERM 143).
  - CMD cannot be run: 127 when it is not found, 126 when it is not
    executable (corral prints why).
  - --config: a program named by --exit-on (a program name, or a process
    name or group:process full name) exits for good (state EXITED: it ended
    and its restart policy will not run it again) or goes FATAL: the others
    are stopped gracefully in descending priority and corral exits with that
    program's code (128+N for a signal N). A FATAL program that never ran
    (spawn error) gives 127; one that kept dying too fast gives its last
    code, or 1 if that was 0.
  - --config: every program ended on its own: 0, or 1 when one of them
    ended FATAL. SIGTERM, SIGINT or SIGQUIT to corral: 0.
  - --config: a program with on_unhealthy = "shutdown" turned unhealthy:
    the others are stopped as for SIGTERM, and corral exits 1.
  - Bad configuration: 1. Bad flags: 2.
`
