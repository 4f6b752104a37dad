// Command spawnpath measures the kernel facts that docs/design/SPAWN.md builds
// on, so anyone can check them on their own kernel:
//
//   - fork+exec from a thread that shares the process's descriptor table costs
//     time in proportion to the descriptors open; from a thread that unshared
//     its table (CLONE_FILES) and closed its copy, it does not;
//   - Go's death-signal check passes for a child forked by such a thread (its
//     parent is the same process), unlike a CLONE_PARENT helper process;
//   - after execve from that thread, the children it forked are still alive
//     and still children, children of any other thread got their death signal,
//     and descriptors carried into its table without close-on-exec are open;
//   - clone3 with CLONE_INTO_CGROUP places a child in a cgroup v2 directory
//     and cgroup.kill ends the child's whole tree (when cgroup2 is mounted).
//
// Run as root from the module root: go run ./bench/cmd/spawnpath -n 1000 -fds 18000
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	n := flag.Int("n", 1000, "spawns per measurement")
	nfds := flag.Int("fds", 18000, "descriptors held open in the shared table")
	flag.Parse()
	if len(os.Args) > 2 && os.Args[1] == "after-exec" {
		afterExec(os.Args[2:])
		return
	}
	// The runtime's poller must exist before any thread unshares its table:
	// its epoll descriptor is used from every thread.
	r, w, err := os.Pipe()
	check(err)
	r.Close()
	w.Close()

	var held []int
	for len(held) < *nfds {
		p := make([]int, 2)
		if err := unix.Pipe2(p, unix.O_CLOEXEC); err != nil {
			fmt.Fprintf(os.Stderr, "stopped at %d descriptors: %v\n", len(held), err)
			break
		}
		held = append(held, p...)
	}
	fmt.Printf("descriptors open: %d\n", len(held)+3)

	shared := onThread(false, func() time.Duration { return spawnMany(*n) })
	private := onThread(true, func() time.Duration { return spawnMany(*n) })
	fmt.Printf("spawn+reap /bin/true x%d, shared table:  %v (%v each)\n", *n, shared, shared/time.Duration(*n))
	fmt.Printf("spawn+reap /bin/true x%d, private table: %v (%v each)\n", *n, private, private/time.Duration(*n))
	fmt.Printf("ratio shared/private: %.2f\n", float64(shared)/float64(private))

	cgroupProbe()
	execProbe(held[1])
}

// onThread runs f on a locked thread, first giving that thread its own, empty
// descriptor table when private is set. The thread is never unlocked: it ends
// with the goroutine.
func onThread(private bool, f func() time.Duration) time.Duration {
	out := make(chan time.Duration)
	go func() {
		runtime.LockOSThread()
		if private {
			check(unix.Unshare(unix.CLONE_FILES))
			check(unix.CloseRange(3, ^uint(0), 0))
		}
		out <- f()
	}()
	return <-out
}

func spawnMany(n int) time.Duration {
	start := time.Now()
	for range n {
		pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{
			Files: []uintptr{0, 1, 2},
			Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
		})
		check(err)
		var ws syscall.WaitStatus
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		check(err)
		if ws.Signaled() {
			fail("child %d was killed by %v: the death-signal check failed", pid, ws.Signal())
		}
	}
	return time.Since(start)
}

func cgroupProbe() {
	root := "/sys/fs/cgroup"
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err != nil {
		root = "/sys/fs/cgroup/unified" // hybrid hierarchy
	}
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err != nil {
		fmt.Println("cgroup2: not mounted; skipped")
		return
	}
	dir := filepath.Join(root, fmt.Sprintf("corral-spawnpath-%d", os.Getpid()))
	check(os.Mkdir(dir, 0o755))
	defer func() {
		// A cgroup can be removed only once its last process is gone,
		// which trails cgroup.kill and the reaping of its members.
		for i := 0; os.Remove(dir) != nil && i < 200; i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}()
	cfd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_PATH|unix.O_CLOEXEC, 0)
	check(err)
	defer unix.Close(cfd)
	pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", "sleep 100 & (sleep 100 &); wait"}, &syscall.ProcAttr{
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true, UseCgroupFD: true, CgroupFD: cfd},
	})
	check(err)
	members := func() int {
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		return strings.Count(string(b), "\n")
	}
	deadline := time.Now().Add(2 * time.Second)
	for members() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("cgroup2 at %s: CLONE_INTO_CGROUP placed a tree of %d processes\n", root, members())
	check(os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0))
	var ws syscall.WaitStatus
	_, err = syscall.Wait4(pid, &ws, 0, nil)
	check(err)
	for members() > 0 && time.Now().Before(deadline.Add(2*time.Second)) {
		time.Sleep(10 * time.Millisecond)
	}
	// The double-forked sleep was re-parented to init (or a subreaper) and
	// reaped there; what matters is that nothing is left in the cgroup.
	fmt.Printf("cgroup.kill: shell %v, %d processes left\n", ws.Signal(), members())
}

// execProbe forks one child from a private-table thread and one from an
// ordinary thread, carries one descriptor into the private table, and
// re-executes this program from the private-table thread.
func execProbe(carry int) {
	other := make(chan int)
	go func() {
		runtime.LockOSThread()
		other <- spawnSleeper()
		select {} // this thread lives until the exec ends it
	}()
	b := <-other
	go func() {
		runtime.LockOSThread()
		check(unix.Unshare(unix.CLONE_FILES))
		check(unix.CloseRange(3, ^uint(0), 0))
		a := spawnSleeper()
		self, err := unix.PidfdOpen(os.Getpid(), 0)
		check(err)
		// The leader's table is still the shared one: this thread is not
		// the leader.
		fd, err := unix.PidfdGetfd(self, carry, 0)
		check(err)
		unix.Close(self)
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
		check(err)
		exe, err := os.Executable()
		check(err)
		err = syscall.Exec(exe, []string{exe, "after-exec", strconv.Itoa(a), strconv.Itoa(b), strconv.Itoa(fd)}, os.Environ())
		fail("exec: %v", err)
	}()
	select {}
}

func spawnSleeper() int {
	pid, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "100"}, &syscall.ProcAttr{
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	check(err)
	return pid
}

func afterExec(args []string) {
	a, _ := strconv.Atoi(args[0])
	b, _ := strconv.Atoi(args[1])
	fd, _ := strconv.Atoi(args[2])
	time.Sleep(100 * time.Millisecond) // let a death signal land
	var ws syscall.WaitStatus
	if p, err := syscall.Wait4(a, &ws, syscall.WNOHANG, nil); p != 0 || err != nil {
		fail("child of the exec'ing thread did not survive: %v %v", err, ws.Signal())
	}
	fmt.Printf("after exec: child %d of the exec'ing thread is alive and still our child\n", a)
	if p, _ := syscall.Wait4(b, &ws, 0, nil); p == b {
		fmt.Printf("after exec: child %d of another thread got its death signal: %v\n", b, ws.Signal())
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		fail("carried descriptor %d: %v", fd, err)
	}
	fmt.Printf("after exec: carried descriptor %d is open\n", fd)
	check(syscall.Kill(a, syscall.SIGKILL))
	_, err := syscall.Wait4(a, nil, 0, nil)
	check(err)
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "spawnpath: "+format+"\n", args...)
	os.Exit(1)
}
