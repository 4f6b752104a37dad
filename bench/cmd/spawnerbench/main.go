// Command spawnerbench measures what the spawner thread (monitor.RunSpawner)
// changes for a Monitor in a process that holds many descriptors, as a
// daemon with a pipe per program does: the time to StartEach N programs
// (/bin/true) and reap their N exits, with the spawner thread and without
// it (the loop's own thread forks), alternated in separate processes so
// that load on the machine falls on both alike.
//
// Run as root from the module root (it raises RLIMIT_NOFILE for -fds):
//
//	go run ./bench/cmd/spawnerbench -n 2000 -fds 0,18000 -rounds 3
//
// It prints one line per run and the ratio without/with per round.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/monitor"
)

func init() { runtime.LockOSThread() }

func main() {
	n := flag.Int("n", 2000, "programs to start and reap per run")
	fdsFlag := flag.String("fds", "0,18000", "comma-separated descriptors to hold open (pipes) in the monitor's process")
	rounds := flag.Int("rounds", 3, "rounds, each running without and with the spawner thread")
	child := flag.String("child", "", "internal: run one measurement (spawner or loop)")
	fds := flag.Int("child-fds", 0, "internal")
	flag.Parse()
	if *child != "" {
		if *child == "spawner" {
			monitor.RunSpawner(func() int { return measure(*n, *fds) })
		}
		runtime.UnlockOSThread()
		os.Exit(measure(*n, *fds))
	}
	for _, f := range strings.Split(*fdsFlag, ",") {
		nf, err := strconv.Atoi(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad -fds:", err)
			os.Exit(2)
		}
		for r := 1; r <= *rounds; r++ {
			loop := run("loop", *n, nf)
			sp := run("spawner", *n, nf)
			fmt.Printf("fds %d round %d: loop thread %.2f s, spawner thread %.2f s, ratio %.2fx\n",
				nf, r, loop.Seconds(), sp.Seconds(), loop.Seconds()/sp.Seconds())
		}
	}
}

func run(mode string, n, nfds int) time.Duration {
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-child", mode, "-n", strconv.Itoa(n), "-child-fds", strconv.Itoa(nfds))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s run: %v\n", mode, err)
		os.Exit(1)
	}
	d, err := time.ParseDuration(strings.TrimSpace(string(out)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s run said %q\n", mode, out)
		os.Exit(1)
	}
	return d
}

func measure(n, nfds int) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "spawnerbench:", err)
		return 1
	}
	if nfds > 0 {
		var cur unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err != nil {
			return fail(err)
		}
		lim := max(cur.Max, uint64(nfds+1000))
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: lim, Max: lim}); err != nil {
			return fail(fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", lim, err))
		}
	}
	var held []int
	for len(held) < nfds {
		p := make([]int, 2)
		if err := unix.Pipe2(p, unix.O_CLOEXEC); err != nil {
			return fail(err)
		}
		held = append(held, p...)
	}
	m, err := monitor.New(monitor.Options{})
	if err != nil {
		return fail(err)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprint("p", i)
		if err := m.Add(monitor.Spec{Name: names[i], Path: "/bin/true", DeathSignal: syscall.SIGKILL}); err != nil {
			return fail(err)
		}
	}
	sub, err := m.Subscribe(4*n + 16)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t0 := time.Now()
	for i, err := range m.StartEach(names) {
		if err != nil {
			return fail(fmt.Errorf("%s: %w", names[i], err))
		}
	}
	for exits := 0; exits < n; {
		e, err := sub.Next(ctx)
		if err != nil {
			return fail(err)
		}
		if e.Type == monitor.EventExited {
			exits++
		}
	}
	fmt.Println(time.Since(t0))
	_ = m.Shutdown(ctx)
	return 0
}
