package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FCGISocket is the socket of a supervisord [fcgi-program:x]: the daemon
// creates it and gives it, listening, to every process of the program as
// its descriptor 0 (its stdin), as supervisord does for FastCGI programs.
type FCGISocket struct {
	// Network is "tcp" or "unix"; Address is host:port or the socket's
	// absolute path (from socket = tcp://host:port or unix:///path).
	Network, Address string
	// Owner is socket_owner, "user" or "user:group" (unix sockets only);
	// empty: the daemon's user, or the program's user when it has one.
	Owner string
	// Mode is socket_mode (unix sockets only), default 0700.
	Mode os.FileMode
	// Backlog is socket_backlog (1 to 65535); 0 means SOMAXCONN.
	Backlog int
}

// String is the socket as written in the configuration.
func (s *FCGISocket) String() string {
	if s.Network == "unix" {
		return "unix://" + s.Address
	}
	return "tcp://" + s.Address
}

// fcgiKeys are the keys [fcgi-program:x] has beyond [program:x]'s.
var fcgiKeys = map[string]bool{"socket": true, "socket_owner": true, "socket_mode": true, "socket_backlog": true}

// fcgiSocket reads the socket keys of an [fcgi-program:x] section into p,
// with supervisord's checks (options.py): socket is required, unix://
// paths are absolute, socket_owner and socket_mode go with unix sockets
// only, socket_backlog is 1 to 65535.
func (ip *iniParser) fcgiSocket(s *iniSection, ex *expander, p *Program) error {
	sock := &FCGISocket{}
	if v, ok, err := ip.value(s, ex, "socket_backlog"); err != nil {
		return err
	} else if ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 65535 {
			return s.err("socket_backlog", fmt.Errorf("invalid socket_backlog value %s (want 1 to 65535)", v))
		}
		sock.Backlog = n
	}
	owner, ownerSet, err := ip.value(s, ex, "socket_owner")
	if err != nil {
		return err
	}
	if ownerSet {
		u, g, hasGroup := strings.Cut(owner, ":")
		if u == "" || hasGroup && g == "" {
			return s.err("socket_owner", fmt.Errorf("invalid socket_owner value %s (want user or user:group)", owner))
		}
		sock.Owner = owner
	}
	mode, modeSet, err := ip.value(s, ex, "socket_mode")
	if err != nil {
		return err
	}
	sock.Mode = 0o700
	if modeSet {
		m, err := ParseUmask(mode)
		if err != nil {
			return s.err("socket_mode", fmt.Errorf("invalid socket_mode value %s", mode))
		}
		sock.Mode = os.FileMode(m)
	}
	v, ok, err := ip.value(s, ex, "socket")
	if err != nil {
		return err
	}
	if !ok || strings.TrimSpace(v) == "" {
		return s.err("", errors.New(`section requires a "socket" line`))
	}
	switch {
	case strings.HasPrefix(v, "unix://"):
		path := v[len("unix://"):]
		if !filepath.IsAbs(path) {
			return s.err("socket", fmt.Errorf("unix socket path %s is not an absolute path", path))
		}
		sock.Network, sock.Address = "unix", filepath.Clean(path)
		if sock.Owner == "" && p.User != "" {
			sock.Owner = p.User
		}
	default:
		if ownerSet || modeSet {
			return s.err("socket", errors.New("socket_owner and socket_mode params should only be used with a Unix domain socket"))
		}
		hostport, isTCP := strings.CutPrefix(v, "tcp://")
		host, port, err := net.SplitHostPort(hostport)
		if !isTCP || err != nil || host == "" || strings.ContainsAny(host, " \t") {
			return s.err("socket", fmt.Errorf("bad socket format %s (want tcp://host:port or unix:///path)", v))
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return s.err("socket", fmt.Errorf("bad socket format %s (port %q)", v, port))
		}
		sock.Network, sock.Address = "tcp", hostport
	}
	p.Socket = sock
	p.Stdin = "" // the socket is the processes' stdin
	return nil
}
