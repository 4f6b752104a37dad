package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// A fork copies the parent's file descriptor table, and the exec that follows
// closes every close-on-exec descriptor: both cost time in proportion to the
// descriptors the parent holds. A supervisor holds at least one pipe per
// program, so with 10,000 programs each spawn gets ten times slower (2,000
// spawns: 1.1 s with no extra descriptors, 8.5 s with 16,000).
//
// The spawn helper avoids this. It is the monitor's own binary re-executed
// with a marker argv[0] (handled in this package's init), holding nothing but
// a socket to the monitor. For each spawn the loop sends it the program and
// the three stdio descriptors (SCM_RIGHTS); the helper forks with CLONE_PARENT,
// so the new process is the monitor's child, not the helper's: the monitor
// still reaps it with wait4 and gets its SIGCHLD. The loop blocks on the
// helper's reply, as it blocks in fork/exec otherwise, so the pid is known to
// the loop before it can reap the exit.
//
// A spec with a DeathSignal bypasses the helper: Go's fork code checks, in the
// child, that its parent is the process that forked it, and with CLONE_PARENT
// it is not, so the child would kill itself with its death signal at once.

const helperArgv0 = "corral-spawn-helper"

// helperRequest is one spawn, as the helper receives it.
type helperRequest struct {
	Path      string
	Argv      []string
	Env       []string
	Dir       string
	Cred      *syscall.Credential
	Pdeathsig syscall.Signal
}

// helperReply is the helper's answer: the pid, or the errno of the failure.
type helperReply struct {
	Pid   int
	Errno int
	Err   string
}

// spawnHelper is the monitor's end of the helper.
type spawnHelper struct {
	pid  int
	conn int // SOCK_SEQPACKET
	buf  []byte
}

// startHelper starts the helper. It must run on the loop's thread: a child's
// death signal follows the thread that is its parent, and the helper's
// children are re-parented to exactly that thread.
func startHelper(exe string) (*spawnHelper, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("spawn helper: socketpair: %w", err)
	}
	pid, _, err := syscall.StartProcess(exe, []string{helperArgv0}, &syscall.ProcAttr{
		Env: []string{},
		// No stdin or stdout; stderr for its own last words; fd 3 the socket.
		Files: []uintptr{^uintptr(0), ^uintptr(0), 2, uintptr(fds[1])},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true},
	})
	unix.Close(fds[1])
	if err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("spawn helper: start %s: %w", exe, err)
	}
	return &spawnHelper{pid: pid, conn: fds[0], buf: make([]byte, 512)}, nil
}

// helperBroken reports that the helper itself failed (not the spawn): the
// monitor then spawns directly.
type helperBroken struct{ err error }

func (e *helperBroken) Error() string { return "spawn helper: " + e.err.Error() }

// spawn asks the helper to start one process. A spawn error comes back as
// the errno of the failed fork or exec; a *helperBroken means the helper
// could not be asked.
func (h *spawnHelper) spawn(req *helperRequest, files [3]int) (int, error) {
	msg, err := json.Marshal(req)
	if err != nil {
		return 0, &helperBroken{err}
	}
	if err := unix.Sendmsg(h.conn, msg, unix.UnixRights(files[:]...), nil, 0); err != nil {
		return 0, &helperBroken{fmt.Errorf("send: %w", err)}
	}
	n, _, _, _, err := unix.Recvmsg(h.conn, h.buf, nil, 0)
	for err == unix.EINTR {
		n, _, _, _, err = unix.Recvmsg(h.conn, h.buf, nil, 0)
	}
	if err != nil || n == 0 {
		return 0, &helperBroken{fmt.Errorf("no reply: %v", err)}
	}
	var rep helperReply
	if err := json.Unmarshal(h.buf[:n], &rep); err != nil {
		return 0, &helperBroken{fmt.Errorf("bad reply: %w", err)}
	}
	if rep.Errno != 0 {
		return 0, syscall.Errno(rep.Errno)
	}
	if rep.Err != "" {
		return 0, errors.New(rep.Err)
	}
	return rep.Pid, nil
}

// close ends the helper (it exits on EOF) and reaps it.
func (h *spawnHelper) close() {
	unix.Close(h.conn)
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(h.pid, &ws, 0, nil); err != syscall.EINTR {
			return
		}
	}
}

// runHelper is the helper process: fd 3 is its socket to the monitor.
func runHelper() {
	const conn = 3
	unix.CloseOnExec(conn) // not for the programs it starts
	buf := make([]byte, 4<<20)
	oob := make([]byte, unix.CmsgSpace(3*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(conn, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			os.Exit(0) // the monitor is gone
		}
		rep := helperSpawn(buf[:n], oob[:oobn])
		out, _ := json.Marshal(rep)
		if err := unix.Sendmsg(conn, out, nil, nil, 0); err != nil {
			os.Exit(0)
		}
	}
}

func helperSpawn(msg, oob []byte) helperReply {
	var files []int
	if cmsgs, err := unix.ParseSocketControlMessage(oob); err == nil {
		for _, c := range cmsgs {
			if fds, err := unix.ParseUnixRights(&c); err == nil {
				files = append(files, fds...)
			}
		}
	}
	defer func() {
		for _, fd := range files {
			unix.Close(fd)
		}
	}()
	var req helperRequest
	if err := json.Unmarshal(msg, &req); err != nil || len(files) != 3 {
		return helperReply{Err: fmt.Sprintf("spawn helper: bad request (%d descriptors): %v", len(files), err)}
	}
	pid, _, err := syscall.StartProcess(req.Path, req.Argv, &syscall.ProcAttr{
		Dir:   req.Dir,
		Env:   req.Env,
		Files: []uintptr{uintptr(files[0]), uintptr(files[1]), uintptr(files[2])},
		Sys: &syscall.SysProcAttr{
			Setpgid:    true,
			Credential: req.Cred,
			Pdeathsig:  req.Pdeathsig,
			// The monitor, not the helper, is the new process's parent.
			Cloneflags: syscall.CLONE_PARENT,
		},
	})
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return helperReply{Errno: int(errno)}
		}
		return helperReply{Err: err.Error()}
	}
	return helperReply{Pid: pid}
}
