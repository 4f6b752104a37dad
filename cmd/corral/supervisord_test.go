package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// realSupervisord returns the path of Debian's supervisord; the test fails
// without it (CI installs the supervisor package).
func realSupervisord(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("supervisord")
	if err != nil {
		t.Fatalf("supervisord (Debian package supervisor) is needed to compare with: %v", err)
	}
	return p
}

// corralAs runs this test binary as corral, with argv0 as its name, in
// dir, with WORK=work so that reapScript finds what it leaves.
func corralAs(argv0, dir, work string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Args = append([]string{argv0}, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "WORK="+work)
	return cmd
}

func runOut(cmd *exec.Cmd) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return o.String(), e.String(), code
}

// TestSupervisordCommandLineErrorsAreSupervisords runs supervisord 4 and
// `corral supervisord` with the same bad command lines: same exit status
// (2), same "Error: ..." line, same "For help, use PROG -h" line. Where
// the reason is a Python exception's text, only what precedes it must match.
func TestSupervisordCommandLineErrorsAreSupervisords(t *testing.T) {
	sup := realSupervisord(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "supervisord.conf")
	// Never started: every command line below is refused first.
	writeTestFile(t, conf, "[supervisord]\n[unix_http_server]\nfile = %(here)s/s.sock\n[program:x]\ncommand = sleep 1000.501\n")
	tests := []struct {
		args   string
		prefix bool // compare only up to the value's reason
	}{
		{"-x", false},
		{"-c", false},
		{"-nc", false},
		{"--configuration", false},
		{"--nodaemon=1", false},
		{"--no", false},
		{"--frobnicate", false},
		{"-c /nonexist", false},
		{"--configuration=/nonexist", false},
		{"--conf /nonexist", false},
		{"-cn", false},
		{"-n extra", false},
		{"-h extra", false},
		{"-- x", false},
		{"-", false},
		{"-c " + conf + " -c " + conf, false},
		{"-n -n -c " + conf, false},
		{"--nodaemon -n -c " + conf, false},
		{"-e bogus -c " + conf, false},
		{"-q /nonexist -c " + conf, false},
		{"-d /nonexist -c " + conf, false},
		{"-m 999 -c " + conf, false},
		{"-j /nonexist/x.pid -c " + conf, false},
		{"-l /nonexist/x.log -c " + conf, false},
		{"-a x -c " + conf, true},
		{"--minprocs=x -c " + conf, true},
		{"-z x -c " + conf, true},
		{"-a 1 -a x -c " + conf, true},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			args := strings.Fields(tt.args)
			_, wantErr, wantCode := runOut(exec.Command(sup, args...))
			_, gotErr, gotCode := runOut(corralAs("supervisord", dir, dir, args...))
			wantErr = strings.ReplaceAll(wantErr, sup+" -h", "PROG -h")
			gotErr = strings.ReplaceAll(gotErr, "supervisord -h", "PROG -h")
			if tt.prefix {
				cut := func(s string) string {
					first, rest, _ := strings.Cut(s, "\n")
					if i := strings.Index(first, "': "); i >= 0 {
						first = first[:i+3]
					}
					return first + "\n" + rest
				}
				wantErr, gotErr = cut(wantErr), cut(gotErr)
			}
			if gotCode != wantCode || gotErr != wantErr {
				t.Errorf("supervisord %s:\ncorral:      status %d, stderr %q\nsupervisord: status %d, stderr %q", tt.args, gotCode, gotErr, wantCode, wantErr)
			}
		})
	}

	// -h prints supervisord's usage, with the program's name.
	wantOut, _, wantCode := runOut(exec.Command(sup, "-h"))
	gotOut, _, gotCode := runOut(corralAs("supervisord", dir, dir, "-h"))
	if wantCode != 0 || gotCode != 0 || !strings.HasPrefix(gotOut, strings.ReplaceAll(wantOut, sup, "supervisord")) {
		t.Errorf("-h: corral (status %d):\n%s\nsupervisord (status %d):\n%s", gotCode, gotOut, wantCode, wantOut)
	}
	// `corral supervisord -h` is the same text.
	if out, _, code := runOut(corralAs("corral", dir, dir, "supervisord", "-?")); code != 0 || !strings.Contains(out, "Usage: corral supervisord [options]") {
		t.Errorf("corral supervisord -?: status %d\n%s", code, out)
	}
}

// supervisorctlIn runs supervisorctl with the configuration conf.
func supervisorctlIn(t *testing.T, conf string, args ...string) string {
	t.Helper()
	out, err := exec.Command("supervisorctl", append([]string{"-c", conf}, args...)...).CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("supervisorctl: %v", err)
		}
	}
	return string(out)
}

// waitFor polls cond until it holds, or fails the test after hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Installed as supervisord (argv[0]), corral without -c finds its
// configuration where supervisord looks first, ../etc/supervisord.conf
// next to its binary, and with -n runs in the foreground until SIGTERM.
func TestSupervisordNameSearchesTheConfigurationAndRunsInTheForeground(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "bin", "supervisord")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(root, "etc", "supervisord.conf")
	writeTestFile(t, conf, "[supervisord]\nchildlogdir = %(here)s\n[unix_http_server]\nfile = %(here)s/s.sock\n[supervisorctl]\nserverurl = unix://%(here)s/s.sock\n[program:web]\ncommand = sleep 1000.502\nstartsecs = 0\n")
	// A supervisord.conf in the current directory comes later in the search.
	cwd := t.TempDir()
	writeTestFile(t, filepath.Join(cwd, "supervisord.conf"), "[supervisord]\n[unix_http_server]\nfile = %(here)s/wrong.sock\n")
	t.Cleanup(func() { reapScript(root) })

	cmd := corralAs(bin, cwd, root, "-n", "--identifier=box")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second // a leftover holding the pipe must not hang the test
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	waitFor(t, "web RUNNING through supervisorctl", func() bool {
		return strings.Contains(supervisorctlIn(t, conf, "status", "web"), "RUNNING")
	})
	if _, err := os.Stat(filepath.Join(cwd, "wrong.sock")); err == nil {
		t.Error("the supervisord.conf of the current directory was read before ../etc/supervisord.conf")
	}
	if id := xmlrpcCall(t, filepath.Join(root, "etc", "s.sock"), "supervisor.getIdentification"); id != "box" {
		t.Errorf("getIdentification = %q, want the -i value", id)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("after SIGTERM: %v\n%s", waitErr, stderr.Bytes())
		}
	case <-time.After(hang):
		t.Fatal("no exit after SIGTERM")
	}
	if !strings.Contains(stderr.String(), "Supervisord is running as root and it is searching for its configuration file in default locations") {
		t.Errorf("no warning about searching as root:\n%s", stderr.Bytes())
	}
}

// xmlrpcCall calls an XML-RPC method without arguments on the unix socket
// with supervisor's own transport, and returns the result printed.
func xmlrpcCall(t *testing.T, sock, method string) string {
	t.Helper()
	py := "/usr/bin/python3"
	script := fmt.Sprintf(`
import xmlrpc.client
from supervisor.xmlrpc import SupervisorTransport
p = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, "unix://%s"))
print(p.%s())
`, sock, method)
	out, err := exec.Command(py, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s through python3's xmlrpc.client: %v\n%s", method, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Without -n (and nodaemon), `corral supervisord` goes to the background as
// supervisord does: the command returns 0 once the socket answers, and
// the daemon lives on in a session of its own, in the -d directory, with
// the -m umask, its pid in the -j file, until SIGTERM.
func TestSupervisordGoesToTheBackground(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "supervisord.conf")
	writeTestFile(t, conf, "[supervisord]\nchildlogdir = %(here)s\n[unix_http_server]\nfile = %(here)s/s.sock\n[supervisorctl]\nserverurl = unix://%(here)s/s.sock\n[program:web]\ncommand = sleep 1000.503\nstartsecs = 0\n")
	workdir := filepath.Join(dir, "wd")
	if err := os.Mkdir(workdir, 0o755); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(dir, "s.pid")
	t.Cleanup(func() { reapScript(dir) })

	_, stderr, code := runOut(corralAs("corral", dir, dir, "supervisord", "-c", conf, "-j", pidfile, "-d", workdir, "-m", "027"))
	if code != 0 {
		t.Fatalf("corral supervisord: status %d\n%s", code, stderr)
	}
	// The socket listens as soon as the command returns.
	if out := supervisorctlIn(t, conf, "pid"); strings.TrimSpace(out) == "" || strings.Contains(out, "refused") || strings.Contains(out, "no such file") {
		t.Fatalf("supervisorctl pid right after the command returned: %q", out)
	}
	waitFor(t, "the pidfile", func() bool { _, err := os.Stat(pidfile); return err == nil })
	b, _ := os.ReadFile(pidfile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile %q: %v", b, err)
	}
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("daemon %d: session %d (%v), want a session of its own", pid, sid, err)
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err != nil || cwd != workdir {
		t.Errorf("daemon's directory %q (%v), want %s", cwd, err, workdir)
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if !strings.Contains(string(status), "Umask:\t0027") {
		t.Errorf("daemon's umask is not 0027:\n%s", status)
	}
	waitFor(t, "web RUNNING", func() bool { return strings.Contains(supervisorctlIn(t, conf, "status", "web"), "RUNNING") })

	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the daemon to exit", func() bool { return syscall.Kill(pid, 0) != nil })
	if left := scriptProcs(dir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
