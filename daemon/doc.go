// Package daemon wires the monitor, the log capture, the configuration and
// the state store into a supervisor: it turns configured programs into
// supervised processes, applies configuration reloads as a diff, persists
// what users change at run time, and offers the operations the API, the
// supervisord-compatible XML-RPC endpoint and `corral init` call.
//
// The monitor owns every process's state; the daemon holds configuration
// only (which programs exist and where their logs go) and asks the monitor
// for state. It never serves HTTP itself.
package daemon
