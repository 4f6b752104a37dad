package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/config"
)

// fcgiSocket is the listening socket of a supervisord [fcgi-program:x],
// created when the program is registered and closed when it is removed
// (supervisord: when its first process starts, until its last stops). It
// is one descriptor per program (see Budget.add), shared by the program's
// processes: each spawn gets a duplicate as its descriptor 0, which the
// monitor closes in the daemon once the child has it.
type fcgiSocket struct {
	fd   int
	path string // a unix socket's file, removed with it
}

// openFCGISocket creates, binds and listens on s as supervisord does: a
// unix socket replaces whatever file is at its path, then gets socket_mode
// and socket_owner; a TCP socket sets SO_REUSEADDR. The socket stays
// blocking: the processes accept on it.
func openFCGISocket(s *config.FCGISocket) (*fcgiSocket, error) {
	backlog := s.Backlog
	if backlog == 0 {
		backlog = unix.SOMAXCONN
	}
	var (
		fd  int
		err error
		sa  unix.Sockaddr
	)
	switch s.Network {
	case "unix":
		sa = &unix.SockaddrUnix{Name: s.Address}
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			if rerr := os.Remove(s.Address); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				unix.Close(fd)
				return nil, fmt.Errorf("fcgi socket %s: %w", s, rerr)
			}
		}
	case "tcp":
		var addr *net.TCPAddr
		if addr, err = net.ResolveTCPAddr("tcp", s.Address); err != nil {
			return nil, fmt.Errorf("fcgi socket %s: %w", s, err)
		}
		if ip4 := addr.IP.To4(); ip4 != nil || addr.IP == nil {
			sa4 := &unix.SockaddrInet4{Port: addr.Port}
			copy(sa4.Addr[:], ip4)
			sa = sa4
			fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		} else {
			sa6 := &unix.SockaddrInet6{Port: addr.Port}
			copy(sa6.Addr[:], addr.IP.To16())
			sa = sa6
			fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		}
		if err == nil {
			err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		}
	default:
		return nil, fmt.Errorf("fcgi socket %s: unknown network %q", s, s.Network)
	}
	if err != nil {
		if fd > 0 {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("fcgi socket %s: %w", s, err)
	}
	fs := &fcgiSocket{fd: fd}
	fail := func(what string, err error) (*fcgiSocket, error) {
		fs.close()
		return nil, fmt.Errorf("fcgi socket %s: %s: %w", s, what, err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if s.Network == "unix" {
		fs.path = s.Address
		if err := os.Chmod(s.Address, s.Mode); err != nil {
			return fail("socket_mode", err)
		}
		if s.Owner != "" {
			uid, gid, err := lookupOwner(s.Owner)
			if err != nil {
				return fail("socket_owner", err)
			}
			if err := os.Chown(s.Address, uid, gid); err != nil {
				return fail("socket_owner", err)
			}
		}
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return fail("listen", err)
	}
	return fs, nil
}

// lookupOwner reads "user" or "user:group" (names or numbers); without a
// group, the user's primary group.
func lookupOwner(owner string) (uid, gid int, err error) {
	name, group, hasGroup := strings.Cut(owner, ":")
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			return 0, 0, fmt.Errorf("no user %q", name)
		}
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	if hasGroup {
		g, err := user.LookupGroup(group)
		if err != nil {
			if g, err = user.LookupGroupId(group); err != nil {
				return 0, 0, fmt.Errorf("no group %q", group)
			}
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid, nil
}

// stdinFile returns a duplicate of the socket for one spawn.
func (fs *fcgiSocket) stdinFile() (*os.File, error) {
	fd, err := unix.FcntlInt(uintptr(fs.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("fcgi socket: dup: %w", err)
	}
	return os.NewFile(uintptr(fd), "fcgi-socket"), nil
}

func (fs *fcgiSocket) close() {
	if fs == nil || fs.fd < 0 {
		return
	}
	unix.Close(fs.fd)
	fs.fd = -1
	if fs.path != "" {
		_ = os.Remove(fs.path)
	}
}
