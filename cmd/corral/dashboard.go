package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/corralhq/corral/config"
)

func init() { register(newDashboardCmd) }

func newDashboardCmd() *cobra.Command {
	var listen, socket string
	cmd := &cobra.Command{
		Use:   "dashboard [--listen 127.0.0.1:PORT] [--socket PATH]",
		Short: "Serve the web dashboard on a loopback port",
		Long: `Serve the daemon's web dashboard on a loopback address, relaying every
request to the daemon's unix socket, and print the URL to open. The URL's
path is a random token made for this run: every request outside it is
refused, so other users of the machine and other web sites cannot use the
port. Nothing is opened by itself; stop it with Ctrl-C.

Without --listen a free port on 127.0.0.1 is chosen.`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := socket
			if s == "" {
				s = os.Getenv("CORRAL_SOCKET")
			}
			if s == "" {
				s = config.DefaultDaemon().Socket
			}
			return runDashboard(cmd.Context(), listen, s, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "loopback `ADDR:PORT` to serve on")
	cmd.Flags().StringVar(&socket, "socket", "", "daemon's unix socket `PATH` (default $CORRAL_SOCKET, else "+config.DefaultDaemon().Socket+")")
	return cmd
}

// listenLoopback listens on addr, which must be a loopback address.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--listen %q: %v (want 127.0.0.1:PORT)", addr, err)}
	}
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
		addr = net.JoinHostPort(ip.String(), addr[len(host)+1:])
	}
	if ip == nil || !ip.IsLoopback() {
		return nil, usageError{fmt.Sprintf("--listen %q: not a loopback address; the dashboard is served on 127.0.0.1 or ::1 only (put a proxy with its own authentication in front for remote use)", addr)}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	return ln, nil
}

func runDashboard(ctx context.Context, listen, socket string, stdout io.Writer) error {
	if _, err := os.Stat(socket); err != nil {
		return fmt.Errorf("cannot reach daemon at %s: %w", socket, err)
	}
	ln, err := listenLoopback(listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	h := newDashboardProxy(socket, token, ln.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(stdout, "corral dashboard for %s: open\n\n  http://%s/%s/\n\n", socket, ln.Addr(), token)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("dashboard: %w", err)
	case <-ctx.Done():
		return srv.Close()
	}
}

// dashboardProxy relays the dashboard's requests to the daemon's socket
// once they pass its checks: the Host is the listening address (a
// DNS-rebinding page has its own host name), the path starts with the token,
// and state-changing requests are same-origin.
//
// The token is a path prefix rather than a cookie: browsers send a cookie
// of 127.0.0.1 to every port of 127.0.0.1, so a cookie would reach any
// other local server the browser visits, including one another user runs.
// The page uses relative URLs, so it works under the prefix; its
// Referrer-Policy keeps the path from leaking in Referer headers.
type dashboardProxy struct {
	token string
	hosts map[string]bool
	proxy *httputil.ReverseProxy
	cop   *http.CrossOriginProtection
}

func newDashboardProxy(socket, token, addr string) *dashboardProxy {
	_, port, _ := net.SplitHostPort(addr)
	hosts := map[string]bool{addr: true, "localhost:" + port: true}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableCompression: true,
	}
	target := &url.URL{Scheme: "http", Host: "corral"}
	prefix := "/" + token
	p := &dashboardProxy{token: token, hosts: hosts, cop: http.NewCrossOriginProtection()}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.URL.Path = strings.TrimPrefix(r.In.URL.Path, prefix)
			r.Out.URL.RawPath = strings.TrimPrefix(r.In.URL.RawPath, prefix)
			// The daemon checks Origin against Host: keep the browser's.
			r.Out.Host = r.In.Host
		},
		Transport:     tr,
		FlushInterval: -1, // event and log streams
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, fmt.Sprintf("cannot reach daemon at %s: %v", socket, err), http.StatusBadGateway)
		},
		ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
	}
	return p
}

func (p *dashboardProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.hosts[r.Host] {
		http.Error(w, fmt.Sprintf("unknown host %q: open the address corral dashboard printed", r.Host), http.StatusMisdirectedRequest)
		return
	}
	seg, _, slash := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if subtle.ConstantTimeCompare([]byte(seg), []byte(p.token)) != 1 {
		http.Error(w, "no dashboard token: open the URL corral dashboard printed (http://ADDRESS/TOKEN/)", http.StatusForbidden)
		return
	}
	if !slash {
		// The page's relative URLs need the trailing slash.
		http.Redirect(w, r, "/"+p.token+"/", http.StatusSeeOther)
		return
	}
	if err := p.cop.Check(r); err != nil {
		http.Error(w, "cross-origin request refused: "+err.Error(), http.StatusForbidden)
		return
	}
	p.proxy.ServeHTTP(w, r)
}
