package monitor

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/cgroup"
)

// spawnError is an error in the spec itself (missing binary, bad directory,
// unknown user): retrying will not help, so the process goes FATAL at once.
type spawnError struct{ err error }

func (e *spawnError) Error() string { return e.err.Error() }
func (e *spawnError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return &spawnError{fmt.Errorf(format, args...)}
}

func isPermanent(err error) bool {
	var se *spawnError
	if errors.As(err, &se) {
		return true
	}
	// Errors from execve itself that describe the file, not the moment.
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EACCES) ||
		errors.Is(err, syscall.ENOEXEC) || errors.Is(err, syscall.ENOTDIR) ||
		errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EISDIR) ||
		errors.Is(err, syscall.ELIBBAD) || errors.Is(err, syscall.ETXTBSY)
}

// setSubreaper makes the process a child subreaper and reports whether it
// was one already.
func setSubreaper() (was bool, err error) {
	var v int32
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0); err != nil {
		return false, err
	}
	return v != 0, unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

func clearSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
}

// lookPath resolves a program name the way a shell would, using PATH from env.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, checkExecutable(file)
	}
	path, ok := envPathOK(env)
	if !ok {
		if env == nil {
			return exec.LookPath(file)
		}
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
}

// envPathOK is the value of env's last PATH, and whether it has one.
func envPathOK(env []string) (path string, ok bool) {
	for _, kv := range env {
		if v, found := strings.CutPrefix(kv, "PATH="); found {
			path, ok = v, true
		}
	}
	return path, ok
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return &fs.PathError{Op: "exec", Path: path, Err: syscall.EISDIR}
	}
	if fi.Mode()&0o111 == 0 {
		return &fs.PathError{Op: "exec", Path: path, Err: fs.ErrPermission}
	}
	return nil
}

// credential resolves the spec's user and groups.
func credential(s *Spec) (*syscall.Credential, error) {
	if s.User == "" && s.Group == "" && s.Groups == nil && !s.DropGroups {
		return nil, nil
	}
	c := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid()), NoSetGroups: true}
	var u *user.User
	if s.User != "" {
		var err error
		u, err = lookupUser(s.User)
		if err != nil {
			return nil, permanent("user %q: %w", s.User, err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		c.Uid, c.Gid = uint32(uid), uint32(gid)
	}
	if s.Group != "" {
		gid, err := lookupGroup(s.Group)
		if err != nil {
			return nil, permanent("group %q: %w", s.Group, err)
		}
		c.Gid = gid
	}
	switch {
	case s.DropGroups:
		c.NoSetGroups = false
		c.Groups = []uint32{}
	case s.Groups != nil:
		c.NoSetGroups = false
		for _, g := range s.Groups {
			gid, err := lookupGroup(g)
			if err != nil {
				return nil, permanent("supplementary group %q: %w", g, err)
			}
			c.Groups = append(c.Groups, gid)
		}
	case u != nil:
		// initgroups(3): the user's own groups.
		ids, err := u.GroupIds()
		if err != nil {
			return nil, permanent("groups of user %q: %w", s.User, err)
		}
		c.NoSetGroups = false
		for _, id := range ids {
			gid, _ := strconv.ParseUint(id, 10, 32)
			c.Groups = append(c.Groups, uint32(gid))
		}
	}
	return c, nil
}

func lookupUser(name string) (*user.User, error) {
	if _, err := strconv.ParseUint(name, 10, 32); err == nil {
		if u, err := user.LookupId(name); err == nil {
			return u, nil
		}
		// A bare uid with no passwd entry is allowed.
		return &user.User{Uid: name, Gid: name, Username: name}, nil
	}
	return user.Lookup(name)
}

func lookupGroup(name string) (uint32, error) {
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(n), nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, err
	}
	n, _ := strconv.ParseUint(g.Gid, 10, 32)
	return uint32(n), nil
}

// startProcess forks and execs one process of s in its own process group. It
// runs on the loop goroutine, so the pid is known to the loop before any exit
// can be reaped. watch receives the pid and, on the pidfd backend, its pidfd.
func (l *loop) startProcess(s *Spec, watch func(pid, pidfd int)) (int, error) {
	pid, _, err := l.startProcessTicks(s, watch)
	return pid, err
}

// startProcessTicks is startProcess that also returns the process's start
// time in ticks after boot when it was taken without reading /proc, or 0
// (ticks_linux.go).
func (l *loop) startProcessTicks(s *Spec, watch func(pid, pidfd int)) (pid int, ticks uint64, err error) {
	j, release, err := l.prepareProcess(s, nil)
	if err != nil {
		return 0, 0, err
	}
	defer release()
	if spawner != nil {
		if err := spawner.spawn([]*spawnJob{j}); err != nil {
			return 0, 0, fmt.Errorf("exec %s: %w", j.path, err)
		}
		return l.spawnedBySpawner(j, watch)
	}
	if l.helper != nil && s.DeathSignal == 0 && j.notify < 0 && !j.sys.UseCgroupFD {
		pid, err := l.helper.spawn(&helperRequest{Path: j.path, Argv: j.argv, Env: j.env, Dir: j.dir, Cred: j.sys.Credential, Pdeathsig: s.DeathSignal}, j.files)
		var broken *helperBroken
		if !errors.As(err, &broken) {
			if err != nil {
				return 0, 0, fmt.Errorf("exec %s: %w", j.path, err)
			}
			watch(pid, -1)
			return pid, 0, nil
		}
		l.log.Error("spawn helper failed; spawning directly from now on", "err", err)
		l.helper.close()
		l.helper = nil
	}
	pidfd := -1
	if l.pidfds != nil {
		j.sys.PidFD = &pidfd
	}
	ticks = forkTicks(func() {
		pid, _, err = syscall.StartProcess(j.path, j.argv, &syscall.ProcAttr{
			Dir:   j.dir,
			Env:   j.env,
			Files: j.childFiles(j.sent()),
			Sys:   j.sys,
		})
	})
	if err != nil {
		return 0, 0, fmt.Errorf("exec %s: %w", j.path, err)
	}
	ticks = checkedTicks(pid, ticks)
	watch(pid, pidfd)
	return pid, ticks, nil
}

// environ is the environment of a spawn: Env, or the monitor's own when
// Env is nil, followed by ExtraEnv. Nil when both are nil (the monitor's
// own, looked up as exec.LookPath does).
func (s *Spec) environ() []string {
	if len(s.ExtraEnv) == 0 {
		return s.Env
	}
	base := s.Env
	if base == nil {
		base = os.Environ()
	}
	env := make([]string, 0, len(base)+len(s.ExtraEnv))
	return append(append(env, base...), s.ExtraEnv...)
}

// resolved remembers, for one batch of spawns, the programs and working
// directories already looked up: a thousand programs running the same
// command cost one stat, not a thousand. A batch is prepared in one turn
// of the loop, so an answer is as fresh as the stat a single spawn makes.
// A nil resolved looks everything up.
type resolved map[resolveKey]resolution

type resolveKey struct{ kind, name, path string }

type resolution struct {
	path string
	err  error
}

// lookPath is lookPath(file, env), once per batch for a file and PATH.
func (r resolved) lookPath(file string, env []string) (string, error) {
	if r == nil {
		return lookPath(file, env)
	}
	k := resolveKey{kind: "path", name: file}
	if !strings.Contains(file, "/") {
		// The three ways lookPath finds a search path: the daemon's own
		// (no environment), the default (no PATH), env's PATH.
		path, ok := envPathOK(env)
		switch {
		case env == nil:
			k.kind = "path:own"
		case !ok:
			k.kind = "path:default"
		}
		k.path = path
	}
	res, ok := r[k]
	if !ok {
		res.path, res.err = lookPath(file, env)
		r[k] = res
	}
	return res.path, res.err
}

// checkDir is checkDir(dir), once per batch.
func (r resolved) checkDir(dir string) error {
	if r == nil {
		return checkDir(dir)
	}
	k := resolveKey{kind: "dir", name: dir}
	res, ok := r[k]
	if !ok {
		res.err = checkDir(dir)
		r[k] = res
	}
	return res.err
}

// checkDir reports whether dir is a directory a process can start in.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return permanent("directory: %w", err)
	}
	if !fi.IsDir() {
		return permanent("directory %s: not a directory", dir)
	}
	return nil
}

// prepareProcess does everything of a spawn but the fork: it resolves the
// program, its directory and credentials, and opens its stdio. release
// closes what was opened for the spawn, once it is done. seen is the
// batch's record of paths and directories looked up (nil for one spawn).
func (l *loop) prepareProcess(s *Spec, seen resolved) (j *spawnJob, release func(), err error) {
	env := s.environ()
	path, err := seen.lookPath(s.Path, env)
	if err != nil {
		return nil, nil, permanent("%w", err)
	}
	if s.Dir != "" {
		if err := seen.checkDir(s.Dir); err != nil {
			return nil, nil, err
		}
	}
	cred, err := credential(s)
	if err != nil {
		return nil, nil, err
	}
	stdin, stdout, stderr := s.Stdin, s.Stdout, s.Stderr
	var opened []*os.File
	release = func() {
		for _, f := range opened {
			f.Close()
		}
	}
	if s.Stdio != nil {
		in, out, errf, err := s.Stdio()
		for _, f := range []*os.File{in, out, errf} {
			if f != nil {
				opened = append(opened, f)
			}
		}
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("stdio: %w", err)
		}
		stdin, stdout, stderr = in, out, errf
	}
	notifyFile, err := readyFile(s)
	if err != nil {
		release()
		return nil, nil, err
	}
	notifyFD := -1
	if notifyFile != nil {
		opened = append(opened, notifyFile)
		notifyFD = int(notifyFile.Fd())
	}
	fd := func(f *os.File) int {
		if f == nil {
			return int(l.devnull.Fd())
		}
		return int(f.Fd())
	}
	if env == nil {
		env = os.Environ()
	}
	argv := s.Args
	if s.Umask != nil || len(s.Rlimits) > 0 {
		path, argv, env = shimArgs(l.m.opts.ShimPath, path, argv, env, s)
	}
	sys := sysProcAttr(s, cred)
	if s.Cgroup != "" {
		// Held only for the spawn (the spawner gets its own copy).
		cgfd, err := openCgroup(s.Cgroup)
		if err != nil {
			release()
			return nil, nil, err
		}
		opened = append(opened, os.NewFile(uintptr(cgfd), "cgroup"))
		sys.UseCgroupFD, sys.CgroupFD = true, cgfd
	}
	return &spawnJob{path: path, argv: argv, env: env, dir: s.Dir, sys: sys,
		files: [3]int{fd(stdin), fd(stdout), fd(stderr)}, notify: notifyFD, notifyAt: s.Readiness.NotifyFD}, release, nil
}

// spawnedBySpawner finishes a job the spawner thread ran: the pid is
// watched, or the error is returned as startProcessTicks returns it.
func (l *loop) spawnedBySpawner(j *spawnJob, watch func(pid, pidfd int)) (int, uint64, error) {
	if j.err != nil {
		return 0, 0, fmt.Errorf("exec %s: %w", j.path, j.err)
	}
	ticks := checkedTicks(j.pid, j.startTicks)
	pidfd := -1
	if l.pidfds != nil {
		// Not reaped yet (this loop reaps it), so the pid is still this
		// child's.
		if fd, err := unix.PidfdOpen(j.pid, 0); err == nil {
			pidfd = fd
		}
	}
	watch(j.pid, pidfd)
	return j.pid, ticks, nil
}

// sysProcAttr is the one place both spawn paths (the spawner thread and
// the loop's thread) take a process's attributes from.
func sysProcAttr(s *Spec, cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred, Pdeathsig: s.DeathSignal}
}

// watch arranges for the exit of pid to be seen: the reaper backend sees every
// child anyway; the pidfd backend adds the pidfd to its epoll set.
func (l *loop) watch(pid, pidfd int) {
	if l.pidfds == nil {
		return
	}
	if pidfd < 0 {
		l.lost(pid, "the kernel gave no pidfd")
		return
	}
	if err := l.pidfds.add(pidfd, pid); err != nil {
		unix.Close(pidfd)
		l.lost(pid, err.Error())
	}
}

// lost handles a child whose exit cannot be watched: it is killed and reaped
// at once so it never runs unsupervised.
func (l *loop) lost(pid int, why string) {
	l.log.Error("cannot watch child; killing it", "pid", pid, "err", why)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	if _, err := syscall.Wait4(pid, &ws, 0, &ru); err == nil {
		name := ""
		if p, ok := l.byPid[pid]; ok {
			name = p.spec.Name
		}
		l.emit(Event{Type: EventLost, Name: name, Pid: pid, Err: why})
		l.exited(pid, ws, &ru)
	}
}

// reapAll reaps every child that has exited: one SIGCHLD may stand for many.
// Each exit is first looked at without reaping (WNOWAIT), so beforeReap can
// signal the process group while its id is still reserved by the zombie.
func (l *loop) reapAll() {
	for {
		pid, err := exitedChild(unix.P_ALL, 0)
		if pid <= 0 || err != nil {
			return
		}
		l.beforeReap(pid)
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, &ru)
		for err == syscall.EINTR {
			got, err = syscall.Wait4(pid, &ws, syscall.WNOHANG, &ru)
		}
		if got <= 0 || err != nil {
			// Reaped by someone else between the peek and the reap.
			continue
		}
		l.exited(got, ws, &ru)
	}
}

// siPidOffset is where si_pid sits in siginfo_t: after three ints, aligned
// to a pointer (the union holds pointers).
const siPidOffset = (12 + unsafe.Sizeof(uintptr(0)) - 1) &^ (unsafe.Sizeof(uintptr(0)) - 1)

// exitedChild returns the pid of an exited child (idtype/id as waitid(2)
// takes them) without reaping it, or 0 when none has exited.
func exitedChild(idtype, id int) (int, error) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(idtype, id, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return int(*(*int32)(unsafe.Add(unsafe.Pointer(&info), siPidOffset))), nil
	}
}

// reapPidfds reaps the children whose pidfds became readable.
func (l *loop) reapPidfds(fds []int) {
	for _, fd := range fds {
		pid, ok := l.pidfds.pids[fd]
		if !ok {
			continue
		}
		if zombie, err := exitedChild(unix.P_PID, pid); err == nil && zombie == pid {
			l.beforeReap(pid)
		}
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, &ru)
		for err == syscall.EINTR {
			got, err = syscall.Wait4(pid, &ws, syscall.WNOHANG, &ru)
		}
		if got == 0 && err == nil {
			l.pidfds.rearm(fd) // not exited after all
			continue
		}
		l.pidfds.remove(fd)
		if err != nil {
			l.log.Error("wait4 on a watched child failed", "pid", pid, "err", err)
			l.emit(Event{Type: EventLost, Pid: pid, Err: err.Error()})
			continue
		}
		l.exited(got, ws, &ru)
	}
}

// killOrphans kills and reaps every child the process still has: as a
// subreaper, leftovers of the monitor's process groups (and their children)
// were re-parented to it. The reaper backend owns all reaping in the process,
// so every child is the monitor's to end. Killed children's own children are
// re-parented here in turn, so it repeats until none is left, for at most
// orphanKillTimeout: a child stuck in an uninterruptible sleep (a hung
// network file system) ignores SIGKILL, and Shutdown must still return.
func (l *loop) killOrphans() {
	deadline := time.Now().Add(orphanKillTimeout)
	for round := 0; ; round++ {
		l.reapAll()
		kids := children()
		if len(kids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			l.log.Warn("shutdown: children that SIGKILL did not end are left unreaped", "count", len(kids), "pids", slices.Sorted(maps.Keys(kids)))
			return
		}
		for pid := range kids {
			// Not reaped yet, so the pid is still this child's.
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if round == 0 {
			l.log.Info("shutdown: killed leftover children", "count", len(kids))
		}
		time.Sleep(10 * time.Millisecond) // let them die before the next reap
	}
}

// orphanKillTimeout bounds killOrphans.
const orphanKillTimeout = 10 * time.Second

// children lists the children of this process from /proc, with the state
// letter of each (R, S, Z, ...).
func children() map[int]string {
	self := os.Getpid()
	out := map[int]string{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == self {
			out[pid] = f[0]
		}
	}
	return out
}

// openCgroup opens the cgroup directory for CLONE_INTO_CGROUP, making it
// first if it is missing (a first spawn). The descriptor is held only for
// the spawn. A restart finds its cgroup and pays one open.
func openCgroup(dir string) (int, error) {
	fd, err := openPath(dir)
	if err == unix.ENOENT {
		if err := cgroup.Make(dir); err != nil {
			return -1, fmt.Errorf("cgroup %s: %w", dir, err)
		}
		fd, err = openPath(dir)
	}
	if err != nil {
		return -1, fmt.Errorf("cgroup %s: %w", dir, err)
	}
	return fd, nil
}

func openPath(dir string) (int, error) {
	for {
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// killCgroup kills everything in p's cgroup, if it has one and anything is
// left in it. A cgroup that holds nothing (cgroup.events says "populated
// 0"; an exited process waiting to be reaped is not a member) is not
// killed and not counted: the next spawn goes into the same cgroup, with
// no mkdir or rmdir (see freshCgroup). That is the restart of a process
// that forked nothing, or whose children all ended before it. The answer
// cannot go stale: no process of the program is left to fork into the
// cgroup, and only the monitor spawns into it. Group members the caller
// has just sent SIGKILL are members until they end, so their cgroup is
// killed as before. When the check itself fails, the cgroup is killed as
// if something were left.
func (l *loop) killCgroup(p *process) {
	if p.spec.Cgroup == "" {
		return
	}
	if pop, err := cgroup.Populated(p.spec.Cgroup); err == nil && !pop {
		return
	}
	if err := cgroup.Kill(p.spec.Cgroup); err != nil {
		l.log.Warn("cannot kill the cgroup of a process", "program", p.spec.Name, "cgroup", p.spec.Cgroup, "err", err)
	}
	p.cgKills++
}

// freshCgroup returns a copy of p's spec that spawns into a new cgroup
// below Spec.Cgroup: a cgroup once killed through cgroup.kill is not
// spawned into again, because some kernels (seen on 6.18) kill at once
// every process spawned into it with CLONE_INTO_CGROUP afterwards (its kill
// sequence number no longer matches). The previous one is removed when it
// is empty (otherwise at its owner's clean-up: removal is recursive, or at
// a later spawn: until the next kill, each spawn goes into the same fresh
// cgroup and retries the removal).
func (l *loop) freshCgroup(p *process) *Spec {
	s := p.spec
	s.Cgroup = filepath.Join(p.spec.Cgroup, "k"+strconv.Itoa(p.cgKills))
	if p.cgKills > 1 {
		_ = unix.Rmdir(filepath.Join(p.spec.Cgroup, "k"+strconv.Itoa(p.cgKills-1)))
	}
	return &s
}
