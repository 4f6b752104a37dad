package main

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/corralhq/corral/api"
	"github.com/corralhq/corral/daemon"
	"github.com/corralhq/corral/httpguard"
)

// listenHealth opens health_listen's TCP port: it is opened before the
// daemon starts anything, so a port in use fails the start. An upgrade
// carries it, as the API's sockets.
func listenHealth(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health_listen %q: %w", addr, err)
	}
	return ln, nil
}

// serveHealth serves /livez and /readyz (api.HealthzHandler) on ln, with
// the guard's timeouts and connection limit and no credentials: it has no
// path that acts or shows more than health. It returns the server's Close.
func serveHealth(ln net.Listener, d *daemon.Daemon, log *slog.Logger) func() error {
	srv := httpguard.NewServer(api.HealthzHandler(d), httpguard.Auth{Name: "health " + ln.Addr().String(), Logger: log})
	go func() { _ = srv.Serve(ln) }()
	log.Info("serving /livez and /readyz (health_listen)", "addr", ln.Addr().String())
	return srv.Close
}
