package daemon

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/monitor"
)

// NotifyEnv is the variable that gives processes the daemon's notification
// socket (systemd's sd_notify protocol).
const NotifyEnv = "NOTIFY_SOCKET"

// MaxNotifyMessage is the largest notification datagram read; larger ones
// are dropped, as systemd does.
const MaxNotifyMessage = 4096

// Notifier is the daemon's one notification socket: every process that
// notifies (NOTIFY_SOCKET, or the notification fd of ready = "fd:N") sends
// its datagrams here, and the kernel's credentials (SO_PASSCRED) say which
// pid sent each. One goroutine reads it, whatever the number of programs,
// and hands each message to the monitor's loop. The daemon holds no
// descriptor per program: a process's notification fd is a socket
// connected to this one, created for its spawn and closed in the daemon
// right after.
type Notifier struct {
	conn *net.UnixConn
	addr string // for NOTIFY_SOCKET: a path, or "@name" (abstract)
	path string // the file to remove at close; empty for an abstract socket
	mon  *monitor.Monitor
	log  *slog.Logger
	done chan struct{}
}

// NewNotifier binds the socket as notify.sock in dir, or in the abstract
// namespace (named after id) when dir is empty or the path too long for a
// socket address, and starts reading it for mon. Close it after mon's
// Shutdown.
func NewNotifier(dir, id string, mon *monitor.Monitor, log *slog.Logger) (*Notifier, error) {
	n := &Notifier{mon: mon, log: log, done: make(chan struct{})}
	path := filepath.Join(dir, "notify.sock")
	if dir != "" && len(path) < 100 {
		n.addr, n.path = path, path
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	} else {
		n.addr = "@corral-notify-" + id
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.addr, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	if n.path != "" {
		// Any local user's process may be supervised (user = ...); the
		// credentials, not the file mode, say who may notify what.
		_ = os.Chmod(n.path, 0o666)
	}
	raw, err := conn.SyscallConn()
	if err == nil {
		cerr := raw.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1) })
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	n.conn = conn
	go n.read()
	return n, nil
}

// Addr is the socket's address, as NOTIFY_SOCKET gives it.
func (n *Notifier) Addr() string { return n.addr }

// Close stops reading and removes the socket file.
func (n *Notifier) Close() {
	n.conn.Close()
	<-n.done
	if n.path != "" {
		_ = os.Remove(n.path)
	}
}

func (n *Notifier) read() {
	defer close(n.done)
	buf := make([]byte, MaxNotifyMessage+1)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4*16))
	for {
		nb, noob, flags, _, err := n.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			n.log.Warn("notify socket: read failed", "err", err)
			continue
		}
		cred, fds := parseNotifyOOB(oob[:noob])
		for _, fd := range fds {
			unix.Close(fd) // fd store (FDSTORE=1) is not supported
		}
		if cred == nil || cred.Pid <= 0 {
			n.log.Debug("notify socket: message without credentials; ignored")
			continue
		}
		if nb > MaxNotifyMessage || flags&unix.MSG_TRUNC != 0 {
			n.log.Warn("notify socket: message over 4 KiB; ignored", "pid", cred.Pid)
			continue
		}
		notice, ok := ParseNotify(buf[:nb])
		if !ok {
			continue
		}
		pgid, _ := unix.Getpgid(int(cred.Pid))
		name, err := n.mon.NotifyFrom(int(cred.Pid), pgid, notice)
		switch {
		case errors.Is(err, monitor.ErrClosed):
			return
		case err != nil:
			n.log.Debug("notify socket: message from a pid that is no process's (see notify_access)", "pid", cred.Pid, "err", err)
		default:
			n.log.Debug("notification", "program", name, "pid", cred.Pid, "ready", notice.Ready)
		}
	}
}

func parseNotifyOOB(oob []byte) (*unix.Ucred, []int) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, nil
	}
	var cred *unix.Ucred
	var fds []int
	for i := range msgs {
		if c, err := unix.ParseUnixCredentials(&msgs[i]); err == nil {
			cred = c
		} else if f, err := unix.ParseUnixRights(&msgs[i]); err == nil {
			fds = append(fds, f...)
		}
	}
	return cred, fds
}

// ParseNotify reads one notification datagram: sd_notify's newline-separated
// assignments (READY=1, STATUS=..., MAINPID=, WATCHDOG=1, WATCHDOG=trigger,
// WATCHDOG_USEC=, EXTEND_TIMEOUT_USEC=, RELOADING=1, STOPPING=1; others
// are ignored), or s6's readiness notification, a newline without any
// assignment, which means READY=1. ok is false when nothing in it applies.
func ParseNotify(msg []byte) (n monitor.Notice, ok bool) {
	if !bytes.Contains(msg, []byte("=")) {
		// s6: "the daemon writes a newline to its notification fd".
		return monitor.Notice{Ready: true}, bytes.Contains(msg, []byte("\n"))
	}
	usec := func(v string) (time.Duration, bool) {
		u, err := strconv.ParseUint(v, 10, 63)
		if err != nil || u == 0 || u > uint64(1<<62)/1000 {
			return 0, false
		}
		return time.Duration(u) * time.Microsecond, true
	}
	for _, line := range bytes.Split(msg, []byte("\n")) {
		k, v, found := bytes.Cut(line, []byte("="))
		if !found {
			continue
		}
		val := string(v)
		switch string(k) {
		case "READY":
			n.Ready, ok = val == "1", ok || val == "1"
		case "STATUS":
			s := val
			n.Status, ok = &s, true
		case "MAINPID":
			if pid, err := strconv.Atoi(val); err == nil && pid > 0 {
				n.MainPid, ok = pid, true
			}
		case "WATCHDOG":
			switch val {
			case "1":
				n.Watchdog, ok = true, true
			case "trigger":
				n.WatchdogTrigger, ok = true, true
			}
		case "WATCHDOG_USEC":
			if d, good := usec(val); good {
				n.WatchdogInterval, ok = d, true
			}
		case "EXTEND_TIMEOUT_USEC":
			if d, good := usec(val); good {
				n.ExtendTimeout, ok = d, true
			}
		case "RELOADING":
			n.Reloading, ok = val == "1", ok || val == "1"
		case "STOPPING":
			n.Stopping, ok = val == "1", ok || val == "1"
		}
	}
	return n, ok
}

// notifyFile returns a socket connected to the notification socket, for a
// process's notification fd (ready = "fd:N").
func (n *Notifier) notifyFile() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	// x/sys/unix reads a leading '@' as the abstract namespace, as net does.
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: n.addr}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "notification-fd"), nil
}
