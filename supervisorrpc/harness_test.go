package supervisorrpc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
	"github.com/corralhq/corral/httpguard"
	"github.com/corralhq/corral/monitor"
)

const hang = 60 * time.Second

// supervisorctlPath is Debian's unmodified client. The tests that use it
// fail, not skip, when it is missing: CI installs the supervisor package.
const supervisorctlPath = "/usr/bin/supervisorctl"

func needSupervisor(t *testing.T, bin string) {
	t.Helper()
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is required (apt-get install supervisor): %v", bin, err)
	}
}

// server is a daemon serving Handler on the unix socket (and inet port) of
// a supervisord.conf, the way `corral daemon` does.
type server struct {
	d    *daemon.Daemon
	conf string
	inet net.Addr
}

func startServer(t *testing.T, conf string) *server {
	t.Helper()
	cfg, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Daemon.StateDir = filepath.Join(filepath.Dir(conf), "state")
	// The pidfd backend reaps only the daemon's children, so that the test
	// can run supervisorctl with os/exec in the same process.
	d, err := daemon.New(cfg, daemon.Options{
		Logger:  slog.New(slog.DiscardHandler),
		Monitor: monitor.Options{Backend: monitor.BackendPidfd},
	})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	s := &server{d: d, conf: conf}
	l, err := net.Listen("unix", cfg.UnixHTTP.File)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Username: cfg.UnixHTTP.Username, Password: cfg.UnixHTTP.Password, Logger: slog.New(slog.DiscardHandler)}
	srv := &http.Server{Handler: Handler(d, opts)}
	go srv.Serve(l)
	var inet *httpguard.Server
	if cfg.InetHTTP != nil {
		if inet, s.inet, err = ServeInet(d, cfg.InetHTTP, opts); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		srv.Close()
		if inet != nil {
			inet.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

// ctl runs supervisorctl -c conf args and returns its output and exit code.
func ctl(t *testing.T, conf string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	cmd := exec.CommandContext(ctx, supervisorctlPath, append([]string{"-c", conf}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("supervisorctl %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// wantLines checks output line by line against regular expressions.
func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if out == "" {
		got = nil
	}
	if len(got) != len(want) {
		t.Fatalf("%s: got %d lines, want %d:\n%s\nwant:\n%s", what, len(got), len(want), out, strings.Join(want, "\n"))
	}
	for i := range want {
		if !regexp.MustCompile("^" + want[i] + "$").MatchString(got[i]) {
			t.Fatalf("%s: line %d = %q, want /%s/\nfull output:\n%s", what, i+1, got[i], want[i], out)
		}
	}
}

// statusLine is the regexp of one line of supervisorctl status.
func statusLine(name, state, desc string) string {
	pad := func(s string, n int) string { return s + strings.Repeat(" ", max(n-len(s), 0)) }
	if strings.ContainsAny(state, "(|") { // a regexp, padded by the caller
		return regexp.QuoteMeta(pad(name, 33)) + state + desc
	}
	return regexp.QuoteMeta(pad(name, 33)+pad(state, 10)) + desc
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) state(t *testing.T, name string) daemon.ProcessStatus {
	t.Helper()
	sts, err := s.d.Status(name)
	if err != nil || len(sts) != 1 {
		t.Fatalf("status %s: %v %v", name, sts, err)
	}
	return sts[0]
}

func (s *server) waitState(t *testing.T, name, state string) daemon.ProcessStatus {
	t.Helper()
	var st daemon.ProcessStatus
	waitFor(t, name+" "+state, func() bool { st = s.state(t, name); return st.State == state })
	return st
}

// readUntil reads r until the output contains want.
func readUntil(t *testing.T, r io.Reader, want string) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte(want)) {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("read %q before %q: %v", got, want, err)
		}
	}
	return string(got)
}
