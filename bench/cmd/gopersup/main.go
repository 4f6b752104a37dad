// Command gopersup is the naive Go supervisor that corralbench measures corral
// against: one goroutine per child, each blocking in exec.Cmd.Wait and
// restarting its child at once when it exits.
//
// It exists to show the cost of that shape. os.Process.Wait is a blocking
// syscall (waitid on a pidfd since Go 1.23, wait4 before), not a netpoller
// wait, so every child pins one OS thread while it runs. Near 10,000 children
// the runtime stops the program with "program exceeds 10000-thread limit".
//
// Usage:
//
//	gopersup -n N PATH [ARG...]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 1000, "number of children to supervise")
	flag.Parse()
	argv := flag.Args()
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "usage: gopersup -n N PATH [ARG...]")
		os.Exit(2)
	}
	for i := 0; i < *n; i++ {
		go supervise(argv)
	}
	select {}
}

// supervise runs argv forever, restarting it without backoff, as the
// spawn-loop baseline does.
func supervise(argv []string) {
	for {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(os.Stderr, "gopersup: start %s: %v\n", argv[0], err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		_ = cmd.Wait() // pins this goroutine's OS thread until the child exits
	}
}
