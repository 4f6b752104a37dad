package monitor_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/corralhq/corral/monitor"
)

// Supervise a program, wait until it runs, and stop it.
func Example() {
	m, err := monitor.New(monitor.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	err = m.Add(monitor.Spec{
		Name:    "worker",
		Path:    "sleep",
		Args:    []string{"sleep", "60"},
		Restart: monitor.RestartPolicy{Kind: monitor.RestartAlways},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := m.StartWait(context.Background(), "worker"); err != nil {
		log.Fatal(err)
	}
	info, _ := m.Process("worker")
	fmt.Println(info.Name, info.State)

	if err := m.StopWait(context.Background(), "worker"); err != nil {
		log.Fatal(err)
	}
	info, _ = m.Process("worker")
	fmt.Println(info.Name, info.State, info.LastExit.Signal)
	// Output:
	// worker RUNNING
	// worker STOPPED terminated
}

// Follow events: every exit comes with its facts.
func ExampleMonitor_Subscribe() {
	m, _ := monitor.New(monitor.Options{})
	defer m.Close()
	sub, _ := m.Subscribe(0)
	defer sub.Close()

	_ = m.Add(monitor.Spec{Name: "job", Path: "sh", Args: []string{"sh", "-c", "exit 3"}})
	_ = m.Start("job")
	for {
		e, err := sub.Next(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		if e.Type == monitor.EventExited {
			fmt.Printf("%s exited with code %d, now %s\n", e.Name, e.Exit.Code, e.State)
			return
		}
	}
	// Output:
	// job exited with code 3, now EXITED
}

// Run a one-shot command without racing the monitor's reaper.
func ExampleMonitor_Command() {
	m, _ := monitor.New(monitor.Options{})
	defer m.Close()
	out, err := m.Command("echo", "hello").Output()
	fmt.Printf("%q %v\n", out, err)
	// Output:
	// "hello\n" <nil>
}

// A daemon that supervises workers until SIGTERM, then stops them all, each
// with its stop signal and grace period, before it exits.
func Example_daemon() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	m, err := monitor.New(monitor.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"web", "queue"} {
		err := m.Add(monitor.Spec{
			Name:    name,
			Path:    "sleep",
			Args:    []string{"sleep", "3600"},
			Restart: monitor.RestartPolicy{Kind: monitor.RestartAlways},
		})
		if err != nil {
			log.Fatal(err)
		}
		if err := m.Start(name); err != nil {
			log.Fatal(err)
		}
	}

	// Here the example sends itself the signal a service manager would.
	_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	<-ctx.Done()

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Shutdown(shutdownCtx); err != nil {
		log.Fatal(err)
	}
	_, _, err = m.Snapshot()
	fmt.Println("after shutdown:", err)
	st, _ := m.Stats()
	fmt.Println("spawned", st.Spawns, "reaped", st.Exits)
	// Output:
	// after shutdown: monitor closed
	// spawned 2 reaped 2
}

// A program that uses os/exec elsewhere picks the pidfd backend: the monitor
// then reaps only its own children, and exec.Cmd.Wait keeps working.
func Example_pidfdBesideOsExec() {
	m, err := monitor.New(monitor.Options{Backend: monitor.BackendPidfd})
	if err != nil {
		log.Fatal(err) // Linux older than 5.4
	}
	defer m.Close()
	if err := m.Add(monitor.Spec{Name: "worker", Path: "sleep", Args: []string{"sleep", "60"}}); err != nil {
		log.Fatal(err)
	}
	if err := m.Start("worker"); err != nil {
		log.Fatal(err)
	}

	out, err := exec.Command("echo", "os/exec still works").Output()
	fmt.Printf("%s%v\n", out, err)
	// Output:
	// os/exec still works
	// <nil>
}

// A slow subscriber never blocks the monitor: when its queue overflows it
// gets an EventMissed marker, re-reads the state with Snapshot, and goes on
// with the events newer than the snapshot.
func ExampleSubscription_resync() {
	m, _ := monitor.New(monitor.Options{})
	defer m.Close()
	sub, _ := m.Subscribe(1) // a tiny queue, to overflow it here
	defer sub.Close()
	for _, name := range []string{"a", "b", "c", "d"} {
		_ = m.Add(monitor.Spec{Name: name, Path: "true"})
	}

	ctx := context.Background()
	var seen uint64 // the Seq up to which this reader's view is current
	for seen < 4 {
		e, err := sub.Next(ctx)
		if err != nil {
			log.Fatal(err)
		}
		if e.Type == monitor.EventMissed {
			procs, seq, err := m.Snapshot()
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("missed %d events; resync:", e.Missed)
			for _, p := range procs {
				fmt.Printf(" %s=%s", p.Name, p.State)
			}
			fmt.Println()
			seen = seq
			continue
		}
		if e.Seq <= seen {
			continue // already in the snapshot
		}
		seen = e.Seq
		fmt.Println(e.Type, e.Name)
	}
	// Output:
	// added a
	// missed 3 events; resync: a=STOPPED b=STOPPED c=STOPPED d=STOPPED
}

// A worker that forks (a shell loop) leaves nothing behind: when its main
// process dies, the rest of its process group is killed with it.
func Example_forkingWorker() {
	m, _ := monitor.New(monitor.Options{})
	defer m.Close()
	sub, _ := m.Subscribe(0)
	defer sub.Close()
	// The shell starts a child and prints its pid; the child ignores SIGTERM.
	r, w, _ := os.Pipe()
	defer r.Close()
	_ = m.Add(monitor.Spec{
		Name:   "loop",
		Path:   "sh",
		Args:   []string{"sh", "-c", "trap '' TERM; sleep 3600 & echo $!; wait"},
		Stdout: w,
	})
	_ = m.Start("loop")
	w.Close()
	var child int
	fmt.Fscan(r, &child)

	info, _ := m.Process("loop")
	_ = syscall.Kill(info.Pid, syscall.SIGKILL) // the main process crashes
	for {
		e, err := sub.Next(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		if e.Type == monitor.EventExited {
			break
		}
	}
	// The child was killed with the group; it is gone once its parent (init
	// or a subreaper) reaps it.
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(child, 0) == nil && !zombie(child) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("child running:", syscall.Kill(child, 0) == nil && !zombie(child))
	// Output:
	// child running: false
}

// zombie reports whether pid has exited but is not reaped yet.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && strings.HasPrefix(s[i+1:], " Z")
}

// The README's snippet; TestReadmeSnippetIsExample keeps the two the same.
func Example_readme() {
	ctx := context.Background()
	m, err := monitor.New(monitor.Options{Backend: monitor.BackendPidfd})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	err = m.Add(monitor.Spec{Name: "worker", Path: "sleep", Args: []string{"sleep", "60"},
		Restart: monitor.RestartPolicy{Kind: monitor.RestartAlways}})
	if err != nil {
		log.Fatal(err)
	}
	if err := m.StartWait(ctx, "worker"); err != nil {
		log.Fatal(err)
	}
	info, _ := m.Process("worker")
	fmt.Println(info.State)
	// Output: RUNNING
}
