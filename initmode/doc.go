// Package initmode is `corral init`: a PID 1 for containers built on the
// monitor package.
//
// With a command it does what tini does: it runs the command as its only
// child, forwards the signals it receives to it, reaps every zombie in the
// container (orphans are re-parented to PID 1, or to corral as a child
// subreaper when it is not PID 1), and exits with the child's exit code, or
// 128+N when a signal N killed the child. With a configuration file
// (package initmode/programs) it supervises several programs with the
// daemon's semantics and can exit, with a named program's exit code, when
// that program ends.
//
// This package links the monitor and the standard library only, never the
// configuration or daemon packages: the small corral-init binary
// (cmd/corral-init), which `corral init -- CMD` execs, is built from it, and
// every package it imports is paid for by every container's PID 1.
//
// The monitor owns SIGCHLD and all reaping; this package must never wait for
// a child itself, subscribe to SIGCHLD or ignore it. The rules for signals and
// exit codes are written once, in Help, which `corral init --help` prints and
// docs/INIT.md repeats; the tests check them case by case against tini.
package initmode
