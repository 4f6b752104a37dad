package httpguard

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
)

// LimitListener returns a listener that accepts at most n connections at
// once: Accept waits for an accepted connection to close while n are open,
// and the next clients wait in the kernel's backlog. log, when not nil,
// gets a WARN line each time the limit is reached.
//
// golang.org/x/net/netutil has the same thing; these few lines spare the
// daemon a dependency.
func LimitListener(ln net.Listener, n int, log *slog.Logger) net.Listener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{}), log: log}
}

type limitListener struct {
	net.Listener
	sem  chan struct{}
	done chan struct{}
	once sync.Once
	log  *slog.Logger
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	default:
		if l.log != nil {
			l.log.Warn("connection limit reached; new connections wait", "addr", l.Addr().String(), "limit", cap(l.sem))
		}
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// NetConn returns the underlying connection.
func (c *limitConn) NetConn() net.Conn { return c.Conn }

type clientKeyCtx struct{}

// connContext records who is on the other end of c, for throttling and
// logs: the peer's uid on a unix socket (every local client has the same
// empty address there), the remote IP on TCP.
func connContext(ctx context.Context, c net.Conn) context.Context {
	for {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	key := "unix"
	if raw, err := uc.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			if cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
				key = "uid:" + strconv.Itoa(int(cred.Uid))
			}
		})
	}
	return context.WithValue(ctx, clientKeyCtx{}, key)
}

// clientKey names the client of r for throttling: its peer uid on a unix
// socket, its IP on TCP (an IPv6 client's /64, which one host usually
// holds whole).
func clientKey(r *http.Request) string {
	if k, ok := r.Context().Value(clientKeyCtx{}).(string); ok {
		return k
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		if host == "" || host == "@" {
			return "unix"
		}
		return host
	}
	if ip.To4() == nil {
		return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
	}
	return ip.String()
}
