// Command goinit is the smallest Go init written the usual way, which
// bench/init-cost.sh measures corral init against: it catches every signal
// with os/signal, starts its command with os/exec, forwards signals to it
// and exits with its code. It reaps nothing else and supervises nothing: it
// shows what the Go runtime with os/signal costs a PID 1 (corral-init
// catches signals without os/signal, see initmode/internal/sigqueue). Its
// threads: sysmon; os/signal's signal-mask thread
// (a goroutine locked to its thread for good) and the template thread that
// its LockOSThread starts; the thread blocked in signal_recv; the thread
// blocked in Wait; one to run goroutines.
//
// Usage:
//
//	goinit CMD [ARG...]
package main

import (
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	runtime.GOMAXPROCS(1)
	if len(os.Args) < 2 {
		os.Stderr.WriteString("usage: goinit CMD [ARG...]\n")
		os.Exit(2)
	}
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		os.Stderr.WriteString("goinit: " + err.Error() + "\n")
		os.Exit(127)
	}
	go func() {
		for s := range sigs {
			if s != syscall.SIGCHLD && s != syscall.SIGURG {
				_ = cmd.Process.Signal(s)
			}
		}
	}()
	_ = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		os.Exit(128 + int(ws.Signal()))
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
