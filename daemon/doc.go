// Package daemon wires the monitor, the log capture, the configuration and
// the state store into a supervisor: it turns configured programs into
// supervised processes, applies configuration reloads as a diff, persists
// what users change at run time, and offers the operations the API, the
// supervisord-compatible XML-RPC endpoint and `corral init` call.
//
// The monitor owns every process's state; the daemon holds configuration
// only (which programs exist and where their logs go) and asks the monitor
// for state. It never serves HTTP itself.
//
// # What survives the daemon
//
// The state store (store.FileName in the state directory) holds the programs
// added at run time, the desired state users gave processes, and the live
// processes with the daemon run that started them. The state directory is
// the configuration's own (config.KeyedStateDir): when it is created, it
// imports what the state directory all configurations shared before held
// (config.Daemon.SharedStateDir, store.OpenImport).
//
// A desired state is kept across daemon restarts for programs added at run
// time and for programs of the configuration file whose policy is
// restart = "unless-stopped" (an operator's stop persists, as in Docker).
// Any other program of the file starts at a daemon start if its autostart
// says so, whatever a user did in the last run, as in supervisord; the
// daemon records nothing for it. A daemon that ends
// without stopping its processes (SIGKILL, a crash) leaves the next one a
// list to reclaim: each recorded process is killed with its process group
// only if its pid still names the very process recorded (same start time in
// clock ticks since boot, same boot id), so a pid reused by an unrelated
// process is left alone. Because live processes are recorded in batches, a
// daemon killed between a spawn and its record would leave that process
// unknown; so every process also gets the run's random token in its
// environment (RunEnv, CORRAL_RUN_ID), recorded before anything starts, and
// the next daemon kills whatever still carries the last run's token (a
// program's double-forked grandchildren included). A process that rewrites
// its environment before its record is written escapes this net.
//
// # Limits
//
// Every process holds descriptors (its output pipes) and a pid, and the
// daemon holds its own (log files, API connections). New, Reload and
// AddProgram check that the programs fit in RLIMIT_NOFILE, pid_max and
// RLIMIT_NPROC (see ComputeBudget and Budget.Check) and refuse, changing
// nothing, with ErrOverBudget and a message giving the numbers and the
// remedies, so that no program fails at random on "too many open files".
//
// A corrupt state file stops the daemon at start (see package store): it is
// moved aside and starting again begins with an empty state.
package daemon
