package supervisorrpc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
	"github.com/corralhq/corral/httpguard"
)

// Options configure the endpoint.
type Options struct {
	// Username and Password, when Username is set, require HTTP basic
	// authentication on every request, as supervisord's [unix_http_server]
	// and [inet_http_server] do. Password is plain text or "{SHA}" followed
	// by the hex SHA-1 of the password.
	Username, Password string
	// Identification is what supervisor.getIdentification returns
	// (supervisord's identifier); default "supervisor".
	Identification string
	// Restart, when set, is called by supervisor.restart (supervisorctl
	// reload) after the response is sent. When nil, restart re-reads the
	// configuration, applies it, and restarts every process.
	Restart func()
	// Logger receives errors; nil means slog.Default().
	Logger *slog.Logger
}

// handler is the endpoint of one daemon.
type handler struct {
	d    *daemon.Daemon
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux

	// mu guards pending, the configuration read by the last reloadConfig:
	// what addProcessGroup adds and getAllConfigInfo lists, as
	// supervisord's options.process_group_configs.
	mu      sync.Mutex
	pending *config.Config
}

// Handler returns the http.Handler of d's supervisord-compatible endpoint:
// POST /RPC2 (XML-RPC, see the package documentation) and
// GET /logtail/NAME[/stdout|/stderr] (the log followed, chunked, for
// supervisorctl tail -f). Other paths get 404. With opts.Username set,
// every request needs basic authentication (httpguard.Authenticate, with
// failures logged and throttled). A daemon that serves this handler beside
// others on one listener authenticates the whole listener instead (see
// package httpguard) and leaves opts.Username empty.
func Handler(d *daemon.Daemon, opts Options) http.Handler {
	h := &handler{d: d, opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.opts.Identification == "" {
		h.opts.Identification = "supervisor"
	}
	h.mux.HandleFunc("/RPC2", h.serveRPC)
	h.mux.HandleFunc("/logtail/", h.serveLogtail)
	return httpguard.Authenticate(h.mux, httpguard.Auth{Name: "supervisorrpc", Username: opts.Username, Password: opts.Password, Logger: h.log})
}

// serveRPC dispatches one XML-RPC request through the method table, bound
// to the request's context so that waits end when the client goes away.
func (h *handler) serveRPC(w http.ResponseWriter, r *http.Request) {
	h.methods(r.Context()).ServeHTTP(w, r)
}

// ErrInetNeedsCredentials is returned by ListenInet for an
// [inet_http_server] without a username or password.
var ErrInetNeedsCredentials = errors.New("refusing to serve the supervisord XML-RPC interface on TCP without a username and password")

// ListenInet opens the TCP listener of [inet_http_server]. Unlike
// supervisord, it refuses a section without both username and password:
// the interface can run any configured command and read every log, and a
// TCP port is reachable by every local user (and beyond). Serve
// Handler(d, Options{Username: in.Username, Password: in.Password}) on the
// listener, or use ServeInet.
func ListenInet(in *config.InetHTTPServer) (net.Listener, error) {
	if in == nil {
		return nil, errors.New("supervisorrpc: no [inet_http_server] configured")
	}
	where := "[inet_http_server]"
	if in.Source.File != "" {
		where = in.Source.String() + ": " + where
	}
	if in.Username == "" || in.Password == "" {
		return nil, fmt.Errorf("supervisorrpc: %s port %s: %w; set username and password in that section", where, in.Port, ErrInetNeedsCredentials)
	}
	l, err := net.Listen("tcp", in.Port)
	if err != nil {
		return nil, fmt.Errorf("supervisorrpc: %s: %w", where, err)
	}
	return l, nil
}

// ServeInet listens on in's port (see ListenInet) and serves d's endpoint
// there behind an httpguard.Server (in's credentials, throttled failures,
// timeouts, a connection limit), on a goroutine. It returns the server, to
// Shutdown or Close, and the address it listens on.
func ServeInet(d *daemon.Daemon, in *config.InetHTTPServer, opts Options) (*httpguard.Server, net.Addr, error) {
	l, err := ListenInet(in)
	if err != nil {
		return nil, nil, err
	}
	opts.Username, opts.Password = "", ""
	srv := httpguard.NewServer(Handler(d, opts), httpguard.Auth{Name: "tcp " + l.Addr().String(), Username: in.Username, Password: in.Password, Logger: opts.Logger})
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("supervisorrpc: inet server stopped", "addr", l.Addr().String(), "err", err)
		}
	}()
	return srv, l.Addr(), nil
}
