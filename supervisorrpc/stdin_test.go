package supervisorrpc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// stdinConf is a supervisord.conf (nodaemon, so supervisord stays in the
// test's hands) with a program that answers each line it reads, one that
// closes its stdin, and one that is not started. SOCK is replaced.
const stdinConf = `[supervisord]
nodaemon = true
logfile = %(here)s/supervisord.log
pidfile = %(here)s/supervisord.pid
childlogdir = %(here)s
[unix_http_server]
file = SOCK
[supervisorctl]
serverurl = unix://SOCK
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[program:echo]
command = sh -c 'echo ready; while read l; do echo "got: $l"; done; echo eof; sleep 1000.801'
startsecs = 0
stdout_logfile = %(here)s/echo.log
[program:closed]
command = sh -c 'exec 0<&-; echo closed; exec sleep 1000.802'
startsecs = 0
stdout_logfile = %(here)s/closed.log
[program:idle]
command = sleep 1000.803
autostart = false
`

func writeStdinConf(t *testing.T, dir string) (conf, sock string) {
	t.Helper()
	conf = filepath.Join(dir, "supervisord.conf")
	sock = filepath.Join(dir, "s.sock")
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(stdinConf, "SOCK", sock)), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf, sock
}

// startRealSupervisord runs supervisord on conf until the test ends.
func startRealSupervisord(t *testing.T, conf, sock string) {
	t.Helper()
	needSupervisor(t, supervisordPath)
	sv := exec.Command(supervisordPath, "-c", conf)
	sv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { sv.Wait(); close(exited) }()
	var children []int
	t.Cleanup(func() { stopSupervisord(t, conf, sock, sv, exited, children) })
	waitFor(t, "supervisord to run echo and closed", func() bool {
		out, _ := ctl(t, conf, "status")
		return strings.Count(out, "RUNNING") == 2
	})
	pids, _ := ctl(t, conf, "pid", "all")
	for _, f := range strings.Fields(pids) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			children = append(children, pid)
		}
	}
}

// stdinServers runs f against supervisord and against corral, each on its
// own copy of stdinConf.
func stdinServers(t *testing.T, f func(t *testing.T, dir, conf, sock string)) {
	needSupervisor(t, supervisorctlPath)
	for _, who := range []string{"supervisord", "corral"} {
		t.Run(who, func(t *testing.T) {
			dir := t.TempDir()
			conf, sock := writeStdinConf(t, dir)
			if who == "supervisord" {
				startRealSupervisord(t, conf, sock)
			} else {
				s := startServer(t, conf)
				s.waitState(t, "echo", "RUNNING")
				s.waitState(t, "closed", "RUNNING")
			}
			waitLog(t, filepath.Join(dir, "echo.log"), "ready\n")
			waitLog(t, filepath.Join(dir, "closed.log"), "closed\n")
			f(t, dir, conf, sock)
		})
	}
}

func waitLog(t *testing.T, path, want string) {
	t.Helper()
	waitFor(t, path+" to hold "+strconv.Quote(want), func() bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), want)
	})
}

// stdinScript calls sendProcessStdin through Python's xmlrpc.client with
// supervisor's own transport and prints each outcome: True, or the
// fault's code and the first word of its string.
const stdinScript = `
import sys, xmlrpc.client
from supervisor.xmlrpc import SupervisorTransport
p = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, "unix://" + sys.argv[1]))
for name, chars in [("echo", "hello\n"), ("echo", b"bytes\n"), ("echo", ""), ("idle", "x\n"), ("closed", "x\n"), ("nope", "x\n"), ("echo", 1), ("echo:echo", "group\n")]:
    try:
        if isinstance(chars, bytes):
            chars = xmlrpc.client.Binary(chars)
        print(name, repr(p.supervisor.sendProcessStdin(name, chars)))
    except xmlrpc.client.Fault as f:
        print(name, f.faultCode, f.faultString.split(":")[0])
`

// TestSendProcessStdinAsSupervisord sends to a process's stdin with the
// outcomes supervisord gives: True for a running process (which reads the
// lines), NOT_RUNNING for a stopped one, NO_FILE for one that closed its
// stdin, BAD_NAME, INCORRECT_PARAMETERS for chars that are not a string.
func TestSendProcessStdinAsSupervisord(t *testing.T) {
	outs := map[string]string{}
	stdinServers(t, func(t *testing.T, dir, conf, sock string) {
		out, err := exec.Command("/usr/bin/python3", "-c", stdinScript, sock).CombinedOutput()
		if err != nil {
			t.Fatalf("python3: %v\n%s", err, out)
		}
		outs[filepath.Base(t.Name())] = string(out)
		waitLog(t, filepath.Join(dir, "echo.log"), "got: hello\n")
		waitLog(t, filepath.Join(dir, "echo.log"), "got: group\n")
	})
	want := "echo True\necho True\necho True\nidle 70 NOT_RUNNING\nclosed 20 NO_FILE\nnope 10 BAD_NAME\necho 2 INCORRECT_PARAMETERS\necho:echo True\n"
	if outs["supervisord"] != want {
		t.Errorf("supervisord answered (the test's assumption is wrong):\n%s", outs["supervisord"])
	}
	if outs["corral"] != outs["supervisord"] {
		t.Errorf("corral answered:\n%s\nsupervisord:\n%s", outs["corral"], outs["supervisord"])
	}
}

// ptyBuffer collects what a pty's master reads.
type ptyBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (p *ptyBuffer) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.b.String()
}

// openPty returns a new pty's master and its terminal.
func openPty(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

// TestSupervisorctlFg runs `supervisorctl fg echo` on a terminal (a pty):
// a line typed there reaches the process, its answer is shown there, and
// Ctrl-C leaves fg with the process still running. Against supervisord and
// corral.
func TestSupervisorctlFg(t *testing.T) {
	stdinServers(t, func(t *testing.T, dir, conf, sock string) {
		master, tty := openPty(t)
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		cmd := exec.CommandContext(ctx, supervisorctlPath, "-c", conf, "fg", "echo")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tty.Close() // the child's copy keeps the terminal open
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var screen ptyBuffer
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := master.Read(buf)
				screen.mu.Lock()
				screen.b.Write(buf[:n])
				screen.mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
		// fg first shows the output so far ("ready"), then follows it.
		waitFor(t, "fg to show echo's output", func() bool { return strings.Contains(screen.String(), "ready") })
		if _, err := master.Write([]byte("typed line\r")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the answer on the terminal", func() bool { return strings.Contains(screen.String(), "got: typed line") })
		if _, err := master.Write([]byte{3}); err != nil { // Ctrl-C
			t.Fatal(err)
		}
		// supervisorctl's output thread notices Ctrl-C only when its
		// select(2) returns, after 30 s of silence (asyncore's timeout):
		// output wakes it sooner, for either server.
		wake := time.NewTicker(200 * time.Millisecond)
		defer wake.Stop()
		deadline := time.After(hang)
	waiting:
		for {
			select {
			case <-exited:
				exited <- nil
				break waiting
			case <-wake.C:
				rpc(t, sock, call1("supervisor.sendProcessStdin", "<string>echo</string>", "<string>wake\n</string>"))
			case <-deadline:
				t.Fatalf("supervisorctl fg did not end on Ctrl-C; screen:\n%s", screen.String())
			}
		}
		if out, _ := ctl(t, conf, "status", "echo"); !strings.Contains(out, "RUNNING") {
			t.Errorf("echo after leaving fg: %s", out)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "echo.log")); !strings.Contains(string(b), "got: typed line\n") {
			t.Errorf("echo's log lacks the answer:\n%s", b)
		}
	})
}
