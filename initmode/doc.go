// Package initmode is `corral init`: a PID 1 for containers.
//
// With a command it does what tini does: it runs the command as its only
// child, forwards the signals it receives to it, reaps every zombie in the
// container (orphans are re-parented to PID 1, or to corral as a child
// subreaper when it is not PID 1), and exits with the child's exit code, or
// 128+N when a signal N killed the child. That mode is one loop of its own
// (command.go), tini-sized: it catches signals with package sigqueue rather
// than os/signal and does not use the monitor, so that a container's PID 1
// runs on the Go runtime's own threads only. With a configuration file
// (package initmode/programs) it supervises several programs with the
// daemon's semantics, on the monitor, and can exit, with a named program's
// exit code, when that program ends.
//
// This package links the standard library and golang.org/x/sys only, never
// the monitor, the configuration or daemon packages: the small corral-init
// binary (cmd/corral-init), which `corral init -- CMD` execs, is built from
// it, and every package it imports is paid for by every container's PID 1.
//
// The rules for signals and exit codes are written once, in Help, which
// `corral init --help` prints and docs/INIT.md repeats; the tests check them
// case by case against tini.
package initmode
