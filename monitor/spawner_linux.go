package monitor

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The spawner thread (docs/design/SPAWN.md).
//
// A fork copies the forking thread's descriptor table and the exec that
// follows closes the copies, so with a pipe or two per program a daemon's
// spawns get slower as it supervises more programs (18,000 descriptors: 7x).
// RunSpawner gives the process's main thread its own descriptor table,
// holding nothing but a socket and the runtime's poller, and forks every
// program from there: each fork copies a handful of descriptors whatever
// the daemon holds. The loop sends a batch of spawns by channel and their
// stdio descriptors by SCM_RIGHTS over an in-process SOCK_SEQPACKET pair,
// a message per 8 spawns; the spawner takes a message's descriptors and
// closes each spawn's own after its fork, so a fork copies (and an exec
// closes) a few spawns' descriptors, not the batch's. It replies with the
// pids. The loop waits for the reply, so it knows every pid before it can
// reap its exit.
//
// Programs are children of the main thread, which ends only when the
// process ends: a death signal (Spec.DeathSignal) still fires on a crash or
// a kill -9 of the process, and never on an execve, which keeps the calling
// thread (fact 3 of SPAWN.md): the upgrade of issue 13 execs from here.

// maxRights is the most descriptors one SCM_RIGHTS message carries (the
// kernel's SCM_MAX_FD is 253).
const maxRights = 252

// spawnJob is one fork and exec, as the spawner runs it. files are
// descriptors of the shared table, sent to the spawner by SCM_RIGHTS.
type spawnJob struct {
	path string
	argv []string
	env  []string
	dir  string
	// sys is built by sysProcAttr, the one place both spawn paths take it
	// from; a CgroupFD in it is a descriptor of the shared table, carried
	// like the stdio.
	sys   *syscall.SysProcAttr
	files [3]int
	// notify, when not -1, is the notification descriptor (Spec.Readiness
	// NotifyFD) to give the child as descriptor notifyAt.
	notify, notifyAt int

	pid int
	err error
	// startTicks is the child's start time as forkTicks took it, or 0.
	startTicks uint64
}

// execJob is an execve of the spawner thread (the upgrade primitive):
// files (descriptors of the shared table) are carried into the new image
// under the same numbers, without close-on-exec; with fdsEnv set, those
// numbers are also appended to env as fdsEnv=N,N,... in order.
type execJob struct {
	path   string
	argv   []string
	env    []string
	files  []int
	fdsEnv string
}

type spawnerRequest struct {
	// jobs' descriptors come a message per jobsPerMessage jobs, in order
	// (spawnJob.sent).
	jobs  []*spawnJob
	exec  *execJob
	stdio bool // the descriptors sent become the spawner's 0, 1 and 2
	nfds  int  // for exec and stdio: descriptors sent with the request, in order
	reply chan error
}

type spawnerThread struct {
	mu   sync.Mutex // one request at a time on the socket
	reqs chan *spawnerRequest
	conn int   // the loop side of the socket pair, in the shared table
	rx   int   // the spawner's side, in the spawner's table
	keep []int // the runtime's descriptors, the same in both tables
	buf  []byte
	oob  []byte
}

var (
	spawner      *spawnerThread
	errNoSpawner = errors.New("monitor: RunSpawner was not called")
	spawnerOn    sync.Once
)

// RunSpawner makes the calling thread, the process's main thread, the
// spawner thread of every Monitor in the process, runs main on another
// goroutine and exits the process with main's return value. It never
// returns.
//
// Every process a Monitor starts is then forked by a thread whose
// descriptor table holds a handful of descriptors, so the cost of a spawn
// does not grow with the descriptors the program holds (pipes to thousands
// of processes), and processes inherit nothing but their stdio, whatever
// is close-on-exec or not in the program. Their death signal
// (Spec.DeathSignal) is tied to the main thread, so it fires only when the
// process ends.
//
// /proc/PID/fd (and /proc/self/fd) then list the main thread's table, the
// spawner's handful; the program's descriptors are in the table of every
// other thread (/proc/thread-self/fd, /proc/PID/task/TID/fd).
//
// Requirements: call it at the start of main, having locked the main
// goroutine to the main thread with runtime.LockOSThread in an init
// function; nothing else runs on the main thread afterwards. Taking the main
// thread is a decision for the program, not for a library, so a Monitor
// never does it by itself: without RunSpawner it forks from its loop's own
// locked thread.
//
// If the spawner cannot be set up (not the main thread, or a system call
// failed), Monitors fork from their loop thread and SpawnerError says why;
// main still runs (on the calling goroutine, or, if the thread's table was
// already unshared, on another while the main thread stays parked).
func RunSpawner(main func() int) {
	var sp *spawnerThread
	unshared := false
	spawnerOn.Do(func() { sp, unshared, errNoSpawner = setupSpawner() })
	if sp == nil && unshared {
		// A private table we could not empty: no goroutine but this one
		// may ever run on this thread again, so it stays parked.
		go func() { os.Exit(main()) }()
		select {}
	}
	if sp == nil {
		runtime.UnlockOSThread()
		os.Exit(main())
	}
	spawner = sp
	go func() { os.Exit(main()) }()
	sp.serve()
}

// SpawnerError returns nil when RunSpawner runs the spawner thread, and
// otherwise the reason Monitors fork from their loop thread.
func SpawnerError() error {
	if spawner != nil {
		return nil
	}
	return errNoSpawner
}

// setupSpawner gives the calling (main) thread its own descriptor table with
// nothing but the spawner's end of the socket and the runtime's poller.
func setupSpawner() (sp *spawnerThread, unshared bool, err error) {
	if unix.Gettid() != unix.Getpid() {
		return nil, false, errors.New("monitor: RunSpawner must run on the main thread (call runtime.LockOSThread in an init function)")
	}
	// The poller's descriptors are used from every thread, this one
	// included (a timer set here wakes it): they must exist before the
	// table is unshared, and stay in the private table.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, false, fmt.Errorf("monitor: spawner: %w", err)
	}
	r.Close()
	w.Close()
	keep, err := runtimeDescriptors()
	if err != nil {
		return nil, false, fmt.Errorf("monitor: spawner: %w", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, false, fmt.Errorf("monitor: spawner: socketpair: %w", err)
	}
	err = unix.Unshare(unix.CLONE_FILES)
	unshared = err == nil
	if err == nil {
		// In the private table: everything goes but the runtime's
		// descriptors and the spawner's end of the socket.
		err = closeAllBut(append(keep, fds[1]))
	}
	if err != nil {
		// Not a thread to fork from. The sockets stay open: closing
		// them from here might hit the wrong table.
		return nil, unshared, fmt.Errorf("monitor: spawner: %w", err)
	}
	// The shared table's copy of the spawner's end is closed from another
	// thread (this one now acts on the private table): only the spawner
	// holds it.
	closed := make(chan struct{})
	go func() { unix.Close(fds[1]); close(closed) }()
	<-closed
	return &spawnerThread{reqs: make(chan *spawnerRequest), conn: fds[0], rx: fds[1], keep: keep}, true, nil
}

// runtimeDescriptors lists the descriptors that are the runtime's poller
// (an epoll instance and the eventfd that wakes it): at the top of main
// nothing else of that kind is open.
func runtimeDescriptors() ([]int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	var keep []int
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the directory's own descriptor, closed since
		}
		if link == "anon_inode:[eventpoll]" || link == "anon_inode:[eventfd]" {
			keep = append(keep, fd)
		}
	}
	if len(keep) == 0 {
		return nil, errors.New("the runtime's poller descriptors were not found in /proc/self/fd")
	}
	return keep, nil
}

// closeAllBut closes every descriptor of the calling thread's table above
// standard error except keep. Stdio stays: the runtime writes a crash on
// this thread to descriptor 2, which must not be a program's pipe.
func closeAllBut(keep []int) error {
	slices.Sort(keep)
	lo := 3
	for _, fd := range keep {
		if fd > lo {
			if err := unix.CloseRange(uint(lo), uint(fd-1), 0); err != nil {
				return fmt.Errorf("close_range: %w", err)
			}
		}
		lo = fd + 1
	}
	if err := unix.CloseRange(uint(lo), ^uint(0), 0); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	return nil
}

// serve is the spawner thread's loop. It never returns: the thread lives as
// long as the process, and with it the death signal of its children.
func (sp *spawnerThread) serve() {
	sp.buf = make([]byte, 16)
	sp.oob = make([]byte, unix.CmsgSpace(maxRights*4))
	for req := range sp.reqs {
		if req.jobs != nil {
			req.reply <- sp.forkJobs(req.jobs)
			continue
		}
		fds, err := sp.receive(req.nfds)
		switch {
		case err != nil:
		case req.exec != nil:
			err = sp.execve(req.exec, fds)
		case req.stdio:
			for i, fd := range fds {
				if e := unix.Dup2(fd, i); e != nil && err == nil {
					err = fmt.Errorf("spawner: standard descriptor %d: %w", i, e)
				}
			}
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
		req.reply <- err
	}
}

// jobsPerMessage is how many jobs' descriptors one message carries. The
// spawner holds one message's at a time, each job's until its fork: at
// most 8 jobs', 3 to 5 each, where a fork copies them and an exec closes
// them. Fewer per message costs more messages, and a batch of more than
// net.unix.max_dgram_qlen (10 by default) messages makes the sender wait
// for the spawner, a wake-up of each side per message past the tenth.
const jobsPerMessage = 8

// messages splits jobs into the groups whose descriptors travel together.
func messages(jobs []*spawnJob) [][]*spawnJob {
	var groups [][]*spawnJob
	for len(jobs) > 0 {
		n := min(len(jobs), jobsPerMessage)
		groups = append(groups, jobs[:n])
		jobs = jobs[n:]
	}
	return groups
}

// forkJobs forks and execs each job with its descriptors, a message of
// them at a time (messages). A receive that fails ends the request: the
// loop sends nothing more (do), and the jobs not forked get the error.
func (sp *spawnerThread) forkJobs(jobs []*spawnJob) error {
	done := 0
	for _, group := range messages(jobs) {
		n := 0
		for _, j := range group {
			n += j.nsent()
		}
		fds, err := sp.receive(n)
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			for _, j := range jobs[done:] {
				j.err = err
			}
			return err
		}
		for _, j := range group {
			mine := fds[:j.nsent()]
			fds = fds[len(mine):]
			sp.fork(j, mine)
			for _, fd := range mine {
				unix.Close(fd)
			}
			done++
		}
	}
	return nil
}

// fork forks and execs j with fds, its descriptors in the spawner's table.
func (sp *spawnerThread) fork(j *spawnJob, fds []int) {
	sys := *j.sys
	if sys.UseCgroupFD {
		sys.CgroupFD = fds[len(fds)-1]
	}
	j.startTicks = forkTicks(func() {
		j.pid, _, j.err = syscall.StartProcess(j.path, j.argv, &syscall.ProcAttr{
			Dir:   j.dir,
			Env:   j.env,
			Files: j.childFiles(fds),
			Sys:   &sys,
		})
	})
}

// receive takes n descriptors from the socket into the spawner's table.
func (sp *spawnerThread) receive(n int) ([]int, error) {
	var fds []int
	for len(fds) < n {
		_, oobn, _, _, err := unix.Recvmsg(sp.rx, sp.buf, sp.oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fds, fmt.Errorf("spawner: receive descriptors: %w", err)
		}
		msgs, err := unix.ParseSocketControlMessage(sp.oob[:oobn])
		if err != nil {
			return fds, fmt.Errorf("spawner: receive descriptors: %w", err)
		}
		got := 0
		for i := range msgs {
			more, err := unix.ParseUnixRights(&msgs[i])
			if err == nil {
				fds = append(fds, more...)
				got += len(more)
			}
		}
		if got == 0 {
			return fds, errors.New("spawner: receive descriptors: a message without descriptors (truncated?)")
		}
	}
	if len(fds) != n {
		return fds, fmt.Errorf("spawner: received %d descriptors, expected %d", len(fds), n)
	}
	return fds, nil
}

// execve replaces the process image from the spawner thread, carrying fds
// (the spawner's copies) into the new image. On failure it clears nothing
// it needs (the copies are closed by the caller) and returns the error:
// the old image goes on.
func (sp *spawnerThread) execve(j *execJob, fds []int) error {
	// Each copy goes to the number its descriptor has in the shared table,
	// so state that names descriptors by number (the upgrade's) stays true
	// in the new image. Those numbers are free in the spawner's table but
	// for its socket and the copies just received: both move above them
	// first. Stdio and the runtime's poller have the same numbers in both
	// tables and are never carried.
	top := 2
	for _, want := range j.files {
		if want <= 2 || slices.Contains(sp.keep, want) {
			return fmt.Errorf("exec %s: descriptor %d cannot be carried (stdio or the runtime's own)", j.path, want)
		}
		top = max(top, want)
	}
	above := func(fd int) (int, error) {
		if fd > top {
			return fd, nil
		}
		n, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, top+1)
		if err != nil {
			return fd, fmt.Errorf("exec %s: move descriptor %d: %w", j.path, fd, err)
		}
		unix.Close(fd)
		return n, nil
	}
	var err error
	if sp.rx, err = above(sp.rx); err != nil {
		return err
	}
	for i := range fds {
		if fds[i], err = above(fds[i]); err != nil {
			return err
		}
	}
	var placed []int
	defer func() {
		for _, fd := range placed { // only reached when the exec failed
			unix.Close(fd)
		}
	}()
	nums := make([]string, len(fds))
	for i, want := range j.files {
		// dup3 without O_CLOEXEC: open in the new image.
		if err := unix.Dup3(fds[i], want, 0); err != nil {
			return fmt.Errorf("exec %s: place descriptor %d: %w", j.path, want, err)
		}
		placed = append(placed, want)
		nums[i] = strconv.Itoa(want)
	}
	env := j.env
	if j.fdsEnv != "" {
		env = append(slices.Clip(env), j.fdsEnv+"="+strings.Join(nums, ","))
	}
	err = syscall.Exec(j.path, j.argv, env)
	return fmt.Errorf("exec %s: %w", j.path, err)
}

// sent is the descriptors of the shared table a job sends to the spawner,
// in order: its stdio, its notification descriptor when it has one, and its
// cgroup directory when it has one (always last).
func (j *spawnJob) sent() []int { return j.appendSent(make([]int, 0, maxSent)) }

// maxSent is the most descriptors a job sends: stdio, notification, cgroup.
const maxSent = len(spawnJob{}.files) + 2

// appendSent appends sent's descriptors to fds.
func (j *spawnJob) appendSent(fds []int) []int {
	fds = append(fds, j.files[:]...)
	if j.notify >= 0 {
		fds = append(fds, j.notify)
	}
	if j.sys.UseCgroupFD {
		fds = append(fds, j.sys.CgroupFD)
	}
	return fds
}

// nsent is len(j.sent()), counted in a buffer on the stack.
func (j *spawnJob) nsent() int {
	var buf [maxSent]int
	return len(j.appendSent(buf[:0]))
}

// childFiles lays out fds, the job's sent descriptors as numbered in the
// forking thread's table, as the child's descriptors: stdio as 0, 1 and 2,
// the notification descriptor as notifyAt (those in between closed).
func (j *spawnJob) childFiles(fds []int) []uintptr {
	files := []uintptr{uintptr(fds[0]), uintptr(fds[1]), uintptr(fds[2])}
	if j.notify < 0 {
		return files
	}
	for len(files) < j.notifyAt {
		files = append(files, ^uintptr(0))
	}
	return append(files, uintptr(fds[3]))
}

// send passes fds to the spawner, maxRights per message.
func (sp *spawnerThread) send(fds []int) error {
	for len(fds) > 0 {
		n := min(len(fds), maxRights)
		err := unix.Sendmsg(sp.conn, []byte{0}, unix.UnixRights(fds[:n]...), nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("spawner: send descriptors: %w", err)
		}
		fds = fds[n:]
	}
	return nil
}

// sendJobs sends jobs' descriptors, a message per group of messages.
func (sp *spawnerThread) sendJobs(jobs []*spawnJob) error {
	for _, group := range messages(jobs) {
		fds := make([]int, 0, maxSent*len(group))
		for _, j := range group {
			fds = j.appendSent(fds)
		}
		if err := sp.send(fds); err != nil {
			return err
		}
	}
	return nil
}

// do runs one request on the spawner thread and waits for it: fds are an
// exec's or stdio's descriptors; a batch of jobs sends each job's own.
func (sp *spawnerThread) do(req *spawnerRequest, fds []int) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	req.nfds = len(fds)
	req.reply = make(chan error, 1)
	// The spawner receives while the descriptors are sent: a batch or an
	// exec may carry more messages than the socket queues
	// (net.unix.max_dgram_qlen).
	sp.reqs <- req
	var err error
	if req.jobs != nil {
		err = sp.sendJobs(req.jobs)
	} else {
		err = sp.send(fds)
	}
	if err != nil {
		// The spawner still waits for the rest: a message without
		// descriptors ends its wait with an error, and it closes what it
		// got.
		for unix.Sendmsg(sp.conn, []byte{0}, nil, nil, 0) == unix.EINTR {
		}
		<-req.reply
		return err
	}
	return <-req.reply
}

// spawn forks and execs jobs on the spawner thread; each job gets its pid
// or its error.
func (sp *spawnerThread) spawn(jobs []*spawnJob) error {
	if len(jobs) == 0 {
		return nil
	}
	return sp.do(&spawnerRequest{jobs: jobs}, nil)
}

// exec asks the spawner thread to execve: see execJob. It returns only on
// failure, with the old image intact (Monitor.Exec, the upgrade).
func (sp *spawnerThread) exec(j *execJob) error {
	return sp.do(&spawnerRequest{exec: j}, j.files)
}

// SetSpawnerStdio makes in, out and errf the spawner thread's standard
// descriptors 0, 1 and 2, as dup2 onto 0, 1 and 2 does for the rest of
// the process: the spawner has its own descriptor table, where a dup2 from
// any other thread does not reach. A daemon that goes to the background
// and points its standard descriptors at /dev/null must call it too, or the
// spawner keeps the old ones open (a pipe its parent waits on to close).
// Without the spawner thread it does nothing.
func SetSpawnerStdio(in, out, errf *os.File) error {
	if spawner == nil {
		return nil
	}
	fds := []int{int(in.Fd()), int(out.Fd()), int(errf.Fd())}
	err := spawner.do(&spawnerRequest{stdio: true}, fds)
	runtime.KeepAlive(in)
	runtime.KeepAlive(out)
	runtime.KeepAlive(errf)
	return err
}
