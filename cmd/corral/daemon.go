package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/corralhq/corral/api"
	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
	"github.com/corralhq/corral/dashboard"
	"github.com/corralhq/corral/httpguard"
	"github.com/corralhq/corral/internal/safefs"
	"github.com/corralhq/corral/monitor"
	"github.com/corralhq/corral/supervisorrpc"
)

func init() { register(newDaemonCmd) }

// defaultConfig is read by `corral daemon` without --config when it exists.
const defaultConfig = "/etc/corral/corral.toml"

func newDaemonCmd() *cobra.Command {
	var cfgFile, socket, stateDir string
	cmd := &cobra.Command{
		Use:   "daemon [--config FILE] [--socket PATH] [--state-dir DIR]",
		Short: "Run the supervisor in the foreground",
		Long: `Run the supervisor in the foreground, logging to standard error (or the
configured logfile).

The daemon starts the autostart programs in priority order and serves the
API on a unix socket. Signals:

  SIGTERM, SIGINT  stop every program (highest priority first, each with its
                   stop_timeout), then exit 0; SIGQUIT too, as in supervisord
  SIGHUP           reload the configuration file and apply the difference

Without --config, ` + defaultConfig + ` is read when it exists; otherwise the
daemon starts with no programs (add some with "corral add").

The socket is the configured [daemon] socket, or the [unix_http_server] file
of a supervisord configuration, so corral and supervisorctl share it. When
[daemon] username and password (or those of [unix_http_server]) are set,
every request on the socket needs them, whatever its path (the API,
/metrics, XML-RPC); clients give them with -u/-p or $CORRAL_USERNAME and
$CORRAL_PASSWORD. The socket's directory must belong to the daemon's user
(or root) and not be writable by others.

Limits: the programs must fit in RLIMIT_NOFILE (one or two output pipes
per process, one more for a stdin pipe (stdin = "pipe", and every process
of a supervisord configuration), one socket per fcgi-program, 256 log
files, 257 per API listener, a few for the daemon), pid_max and, for the users it runs programs as, RLIMIT_NPROC. A
configuration, reload or "corral add" that does not fit is refused with the
numbers and the remedies (LimitNOFILE=/ulimit -n, min_fds, redirecting
stderr); see README.md. min_fds and min_procs raise the limits at start, as
supervisord's minfds and minprocs do.

State (programs added at run time, desired states) belongs to one
configuration: without state_dir or --state-dir, each configuration file
(or, without a file, each socket) gets its own directory under
/var/lib/corral (root) or $XDG_STATE_HOME/corral, named after the file and
a hash of its path. At each start a program of the file starts if its
autostart says so, whatever a user did in the last run, as in supervisord;
under restart = "unless-stopped" a user's stop or start persists instead.
Programs added at run time keep their state. On its first start a
configuration imports the programs added at run time and the desired states
of the state.db every configuration shared in earlier versions.`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDaemon(cmd.Context(), cfgFile, socket, stateDir, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfgFile, "config", "c", "", "configuration `FILE` (TOML, or supervisord INI)")
	f.StringVar(&socket, "socket", "", "API unix socket `PATH` (overrides the configuration)")
	f.StringVar(&stateDir, "state-dir", "", "state `DIR` (overrides the configuration)")
	return cmd
}

func loadConfig(file string) (*config.Config, error) {
	if file == "" {
		if _, err := os.Stat(defaultConfig); err != nil {
			return &config.Config{Daemon: config.DefaultDaemon()}, nil
		}
		file = defaultConfig
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	return config.Load(abs)
}

func newLogger(cfg config.Daemon, stderr io.Writer) (*slog.Logger, io.Closer, error) {
	if cfg.Activity != nil {
		return newActivityLogger(cfg, os.Stdout, stderr)
	}
	var level slog.Level
	if cfg.LogLevel != "" {
		if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
			return nil, nil, fmt.Errorf("log level %q: %w", cfg.LogLevel, err)
		}
	}
	w := stderr
	var closer io.Closer = io.NopCloser(nil)
	if cfg.Logfile != "" {
		// Never through a symlink another user could have planted: the
		// daemon often runs as root (see package safefs).
		fd, err := safefs.OpenFile(cfg.Logfile, syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CREAT, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("daemon logfile: %w", err)
		}
		f := os.NewFile(uintptr(fd), cfg.Logfile)
		w, closer = f, f
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), closer, nil
}

// writePidfile replaces path with a new file holding the daemon's pid: a
// symlink or any other file at path is replaced, never written through
// (see package safefs).
func writePidfile(path string) error {
	return safefs.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

func runDaemon(ctx context.Context, cfgFile, socketFlag, stateDir string, stderr io.Writer) error {
	if err := daemonPrelude(); err != nil {
		return err
	}
	cfg, err := loadConfig(cfgFile)
	if err != nil {
		return err
	}
	return runDaemonConfig(ctx, cfg, daemonRun{socket: socketFlag, stateDir: stateDir, stderr: stderr})
}

// daemonPrelude comes first in a daemon process, before it opens anything.
func daemonPrelude() error {
	// Programs get their stdio, not the descriptors the daemon inherited
	// (supervisord's behaviour). Go opens everything else close-on-exec.
	if err := monitor.CloseOnExecInherited(); err != nil {
		return err
	}
	// Reading the configuration is nearly all garbage (the TOML or INI
	// library's tree, a few KiB per program, of which the daemon keeps the
	// program structs): a target of 5x the live heap lets a collection or
	// two run where the steady-state target below would run a dozen. Not
	// during New: a high target mixed the daemon's long-lived records with
	// garbage in the same spans, and cost the daemon 0.3-0.5 KiB more per
	// program (docs/BENCHMARKS.md). runDaemonConfig sets the steady-state
	// target first, and this one again for the spawns of the start.
	setGCTarget(parseGCPercent)
	return nil
}

const (
	parseGCPercent = 400
	startGCPercent = 400
	// The daemon's heap is mostly long-lived records (a few KiB per
	// program): a lower GC target keeps its memory near that, and costs
	// nothing when idle because nothing allocates then.
	steadyGCPercent = 50
)

// setGCTarget sets the GC target, unless GOGC chose one.
func setGCTarget(percent int) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
}

// daemonRun is how a daemon runs, beside its configuration.
type daemonRun struct {
	socket, stateDir string // --socket and --state-dir, or ""
	stderr           io.Writer
	// ready, when set, is called once the socket listens and the state is
	// open, before any program starts (`corral supervisord` goes to the
	// background then).
	ready func(*slog.Logger)
}

// runDaemonConfig runs the daemon on a loaded configuration until a signal
// or a shutdown request ends it.
func runDaemonConfig(ctx context.Context, cfg *config.Config, run daemonRun) error {
	setGCTarget(steadyGCPercent)
	socketFlag, stateDir, stderr := run.socket, run.stateDir, run.stderr
	handedOff := takeHandoff(stderr) // first: it clears its environment variable
	if stateDir != "" {
		cfg.Daemon.StateDir, cfg.Daemon.SharedStateDir = stateDir, ""
	}
	sock := socketSpec{path: cfg.Daemon.Socket, mode: cfg.Daemon.SocketMode, group: cfg.Daemon.SocketGroup,
		username: cfg.Daemon.Username, password: cfg.Daemon.Password}
	if u := cfg.UnixHTTP; u != nil {
		// supervisorctl reads the same section, so both talk to one socket.
		sock.path, sock.mode = u.File, u.Chmod
		if _, g, ok := strings.Cut(u.Chown, ":"); ok {
			sock.group = g
		}
	}
	if socketFlag != "" {
		sock.path = socketFlag
	}
	if cfg.File == "" && stateDir == "" {
		// Without a file, the socket names the configuration: each socket
		// its own state directory (see config.KeyedStateDir).
		abs, err := filepath.Abs(sock.path)
		if err != nil {
			return err
		}
		cfg.Daemon.StateDir, cfg.Daemon.SharedStateDir = config.KeyedStateDir(cfg.Daemon.StateDir, abs), cfg.Daemon.StateDir
	}
	log, logCloser, err := newLogger(cfg.Daemon, stderr)
	if err != nil {
		return err
	}
	defer logCloser.Close()
	if err := raiseLimits(cfg, log); err != nil {
		return err
	}

	// The socket comes first: a second daemon must fail before it touches
	// the state of the running one.
	ln, err := listenCarried(handedOff, carriedSocket, sock.listen, log)
	if err != nil {
		return err
	}
	defer ln.Close()
	// The TCP listener exists only when [inet_http_server] asks for it, and
	// is refused without a username and password.
	var inet net.Listener
	if cfg.InetHTTP != nil {
		listenInet := func() (net.Listener, error) { return supervisorrpc.ListenInet(cfg.InetHTTP) }
		if inet, err = listenCarried(handedOff, carriedInet, listenInet, log); err != nil {
			return err
		}
		defer inet.Close()
	}

	var healthLn net.Listener
	if addr := cfg.Daemon.HealthListen; addr != "" {
		listen := func() (net.Listener, error) { return listenHealth(addr) }
		if healthLn, err = listenCarried(handedOff, carriedHealth, listen, log); err != nil {
			return err
		}
	}
	listeners := 1
	if inet != nil {
		listeners++
	}
	if healthLn != nil {
		defer healthLn.Close()
		listeners++
	}
	d, err := daemon.New(cfg, daemon.Options{Logger: log, Listeners: listeners, Handoff: handedOff,
		Carry: carryListeners(map[string]net.Listener{carriedSocket: ln, carriedInet: inet, carriedHealth: healthLn})})
	if err != nil {
		return err
	}
	// The signals are caught before the daemon says it has started (its
	// "started" line, the parent of `corral supervisord` returning): a
	// SIGUSR2 sent on seeing supervisord's line was otherwise dropped by
	// the runtime (not yet notified), and a SIGTERM ended the daemon
	// without its clean stop. One that comes before the loop below waits
	// in the channel.
	sigs := make(chan os.Signal, 4)
	// SIGQUIT too, as supervisord: an event listener that ends the daemon
	// with `kill -QUIT $PPID` gets the same clean stop and exit status 0.
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP)
	if cfg.Daemon.Activity != nil {
		// supervisord's: SIGUSR2 reopens its log.
		signal.Notify(sigs, syscall.SIGUSR2)
	}
	defer signal.Stop(sigs)

	if run.ready != nil {
		run.ready(log)
	}
	if cfg.Daemon.Pidfile != "" {
		if err := writePidfile(cfg.Daemon.Pidfile); err != nil {
			log.Error("cannot write pidfile", "file", cfg.Daemon.Pidfile, "err", err)
		} else {
			defer safefs.Remove(cfg.Daemon.Pidfile)
		}
	}
	setUID := -1
	if name := cfg.Daemon.User; name != "" {
		// After the socket, the state and the log directory are open, so
		// that they may sit where only root can create them.
		uid, failed := dropPrivileges(name)
		if failed != "" {
			_ = d.Shutdown(context.Background())
			return fmt.Errorf("user %s: %s", name, failed)
		}
		setUID = uid
	}
	logSupervisordStart(cfg, log, setUID)

	// One guard per listener: its credentials apply to every path it
	// serves, with its timeouts and connection limit.
	srv := httpguard.NewServer(newServeMux(d, log), httpguard.Auth{Name: "socket " + sock.path, Username: sock.username, Password: sock.password, Logger: log})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", "socket", sock.path, "config", cfg.File, "pid", os.Getpid())
	if err := monitor.SpawnerError(); err != nil {
		// Spawns still work, at a cost that grows with open descriptors.
		log.Info("programs are forked from the monitor's thread", "reason", err)
	}
	sock.warnIfOpen(log)
	if inet != nil {
		addr := inet.Addr().String()
		// The same paths as the socket (XML-RPC, the JSON API, /metrics, the
		// dashboard in place of supervisord's page), behind this listener's
		// credentials.
		isrv := httpguard.NewServer(newServeMux(d, log), httpguard.Auth{Name: "tcp " + addr, Username: cfg.InetHTTP.Username, Password: cfg.InetHTTP.Password, Logger: log})
		go func() { _ = isrv.Serve(inet) }()
		defer isrv.Close()
		log.Info("listening on TCP, with basic auth (supervisorctl, API, dashboard)", "addr", addr)
	}
	if healthLn != nil {
		defer serveHealth(healthLn, d, log)()
	}

	// The start's allocations are nearly all garbage (spawn requests,
	// events, state-file batches): a collection every few hundred spawns
	// took CPU from the forks and stopped the world while the spawner
	// thread sat in a vfork. The records the daemon keeps were made in
	// New, at the steady target (see daemonPrelude); what the start keeps
	// (each running process's pipe, timers) lands among its garbage, at
	// about 0.15 KiB more per program (docs/BENCHMARKS.md, issue 14 at
	// e412025).
	setGCTarget(startGCPercent)
	d.Start()
	setGCTarget(steadyGCPercent)
	// Starting thousands of programs leaves garbage (the parsed config, event
	// bursts) the runtime would return to the OS only slowly; return it once
	// the start has settled, so the daemon's resident memory is what it keeps.
	settled := time.AfterFunc(5*time.Second, debug.FreeOSMemory)
	defer settled.Stop()

	var reason string
loop:
	for {
		select {
		case sig := <-sigs:
			d.ReportSignal(sig.(syscall.Signal))
			if sig == syscall.SIGHUP {
				reload(ctx, d, log)
				continue
			}
			if sig == syscall.SIGUSR2 {
				reopenLog(logCloser, log)
				continue
			}
			reason = "signal " + sig.String()
			break loop
		case <-d.Quit():
			reason = "shutdown requested through the API"
			break loop
		case err := <-served:
			log.Error("API server stopped; shutting down", "err", err)
			reason = "API server failure"
			break loop
		case <-ctx.Done():
			reason = "context done"
			break loop
		}
	}
	log.Info("shutting down", "reason", reason)
	// A second SIGTERM or SIGINT skips the remaining grace periods.
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for sig := range sigs {
			if sig != syscall.SIGHUP {
				log.Warn("second signal: killing what is left", "signal", sig.String())
				cancel()
				return
			}
		}
	}()
	reported := make(chan struct{})
	go reportUnstopped(d, reported)
	err = d.Shutdown(sctx)
	close(reported)
	// Event streams and log followers ended with the monitor and the
	// streams; Close drops what is left.
	_ = srv.Close()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func reload(ctx context.Context, d *daemon.Daemon, log *slog.Logger) {
	log.Info("SIGHUP: reloading the configuration")
	df, err := d.Reload(ctx)
	if err != nil {
		// A reload applies its diff program by program: say what it did
		// before failing rather than claim nothing changed.
		log.Error("reload failed", "err", err, "applied_added", df.Added, "applied_changed", df.Changed, "applied_removed", df.Removed)
		return
	}
	log.Info("reload applied", "added", df.Added, "changed", df.Changed, "removed", df.Removed)
}

// newServeMux routes the daemon's socket: corral's API, /metrics, and the
// supervisord-compatible XML-RPC endpoint (/RPC2, /logtail/) so the
// unmodified supervisorctl works on the same socket, and the dashboard at "/".
// Authentication is not here but around the whole mux (httpguard), so that
// no path, present or future, escapes it.
func newServeMux(d *daemon.Daemon, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/", api.Handler(d))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Registry(), promhttp.HandlerOpts{}))
	rpc := supervisorrpc.Handler(d, supervisorrpc.Options{Logger: log, Identification: d.Config().Daemon.Identifier})
	mux.Handle("/RPC2", rpc)
	mux.Handle("/logtail/", rpc)
	return dashboard.Mount(mux) // the page at "/", and one cross-site rule for every path
}

// socketSpec is the API socket to create.
type socketSpec struct {
	path  string
	mode  os.FileMode
	group string
	// username and password, when set, are required on every request.
	username, password string
}

// warnIfOpen warns when users other than the daemon's can connect to the
// socket (group or other write bits) and no credentials are required: each of
// them can then run any command as the daemon's user.
func (s socketSpec) warnIfOpen(log *slog.Logger) {
	fi, err := os.Stat(s.path)
	if err != nil || s.username != "" {
		return
	}
	// Connecting to a unix socket takes write permission.
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		log.Warn("the socket lets other users connect and no username/password is set: any of them can run commands as the daemon's user; set [daemon] username and password (or [unix_http_server] ones), or a mode of 0600",
			"socket", s.path, "mode", fmt.Sprintf("%04o", perm), "daemon_uid", os.Geteuid())
	}
}

// listen creates the unix socket: its directory when missing (0700, or 0750
// with a group), the socket itself with its mode set before anyone can
// connect (0600, or 0660 with a group). A directory another user could
// replace the socket in is refused (httpguard.CheckSocketDir). A socket
// left by a dead daemon is replaced; one a live daemon answers on is an
// error.
func (s socketSpec) listen() (net.Listener, error) {
	if s.path == "" {
		return nil, errors.New("no socket path: set [daemon] socket or --socket")
	}
	gid := -1
	if s.group != "" {
		g, err := user.LookupGroup(s.group)
		if err != nil {
			return nil, fmt.Errorf("socket group %q: %w", s.group, err)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return nil, fmt.Errorf("socket group %q: gid %q: %w", s.group, g.Gid, err)
		}
	}
	mode := s.mode
	if mode == 0 || (gid >= 0 && mode == 0o600) {
		mode = 0o600
		if gid >= 0 {
			mode = 0o660
		}
	}
	dir := filepath.Dir(s.path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		dmode := os.FileMode(0o700)
		if gid >= 0 {
			dmode = 0o750
		}
		if err := os.MkdirAll(dir, dmode); err != nil {
			return nil, fmt.Errorf("socket directory: %w", err)
		}
		if err := os.Chmod(dir, dmode); err != nil {
			return nil, fmt.Errorf("socket directory: %w", err)
		}
		if gid >= 0 {
			if err := os.Chown(dir, -1, gid); err != nil {
				return nil, fmt.Errorf("socket directory: %w", err)
			}
		}
	}
	// Checked after creating it too: another user may have made it
	// between the Stat and the MkdirAll.
	if err := httpguard.CheckSocketDir(dir); err != nil {
		return nil, err
	}
	if err := s.clearStale(); err != nil {
		return nil, err
	}
	// Nothing else runs yet, so the process-wide umask is ours to change
	// for the bind.
	old := syscall.Umask(int(0o777 &^ mode))
	ln, err := net.Listen("unix", s.path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", s.path, err)
	}
	if err := os.Chmod(s.path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("socket %s: %w", s.path, err)
	}
	if gid >= 0 {
		if err := os.Chown(s.path, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("socket %s: %w", s.path, err)
		}
	}
	return ln, nil
}

func (s socketSpec) clearStale() error {
	fi, err := os.Lstat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("socket %s: %w", s.path, err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("socket %s: exists and is not a socket", s.path)
	}
	conn, err := net.DialTimeout("unix", s.path, 5*time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("a daemon is already running at %s", s.path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("socket %s: %w", s.path, err)
	}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", s.path, err)
	}
	return nil
}
