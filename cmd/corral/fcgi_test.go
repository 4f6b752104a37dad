package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// fcgiApp is a FastCGI-style program: it accepts connections on its
// descriptor 0, as supervisord's [fcgi-program:x] processes do, and
// answers each with its pid and what it read.
const fcgiApp = `import os, socket
s = socket.socket(fileno=0)
while True:
    c, _ = s.accept()
    d = c.recv(100)
    c.sendall(b"%d %s %s" % (os.getpid(), s.getsockname().__class__.__name__.encode(), d))
    c.close()
`

// fcgiClient connects to the socket given as argv[1] (unix:///path or
// tcp://host:port) a few times and prints what comes back, pids as N, plus
// the set of pids that answered.
const fcgiClient = `import re, socket, sys
addr = sys.argv[1]
pids = set()
for i in range(6):
    if addr.startswith("unix://"):
        c = socket.socket(socket.AF_UNIX)
        c.connect(addr[7:])
    else:
        host, port = addr[6:].rsplit(":", 1)
        c = socket.create_connection((host, int(port)))
    c.sendall(b"hello %d" % i)
    out = b""
    while True:
        b = c.recv(100)
        if not b:
            break
        out += b
    pid, rest = out.split(b" ", 1)
    pids.add(pid)
    print(rest.decode())
print("pids", len(pids))
`

// TestFCGIProgramGetsTheSocketAsStdin runs an [fcgi-program:x] with two
// processes and a unix socket (socket_mode, socket_owner), and another on
// TCP, under supervisord 4 and `corral supervisord`: both create the
// sockets with the same mode and owner, every process accepts on its
// descriptor 0, and a client gets the same answers from both.
func TestFCGIProgramGetsTheSocketAsStdin(t *testing.T) {
	sup := realSupervisord(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is needed for the FastCGI-style program and client: %v", err)
	}
	type result struct {
		answers string
		mode    os.FileMode
		uid     uint32
		gid     uint32
	}
	run := func(who string) result {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, filepath.Join(dir, "app.py"), fcgiApp)
		port := freeTCPPort(t)
		conf := filepath.Join(dir, "supervisord.conf")
		writeTestFile(t, conf, fmt.Sprintf(`[supervisord]
nodaemon = true
logfile = %%(here)s/supervisord.log
pidfile = %%(here)s/s.pid
childlogdir = %%(here)s
[unix_http_server]
file = %%(here)s/s.sock
[fcgi-program:app]
command = %[1]s %%(here)s/app.py
socket = unix://%%(here)s/%%(program_name)s.sock
socket_mode = 0660
socket_owner = nobody:nogroup
process_name = %%(program_name)s_%%(process_num)d
numprocs = 2
startsecs = 0
[fcgi-program:tcpapp]
command = %[1]s %%(here)s/app.py
socket = tcp://127.0.0.1:%[2]d
socket_backlog = 16
startsecs = 0
`, py, port))
		cmd := supervisorCmd(sup, who, dir, conf)
		out := &runSupervisorCmd(t, who, dir, cmd).out
		sock := filepath.Join(dir, "app.sock")
		waitFor(t, who+": the three processes running", func() bool {
			return strings.Count(out.String(), "success: ") == 3
		})
		client := func(addr string) string {
			b, err := exec.Command(py, "-c", fcgiClient, addr).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: client of %s: %v\n%s\nlog:\n%s", who, addr, err, b, out.String())
			}
			return string(b)
		}
		var r result
		r.answers = client("unix://"+sock) + client("tcp://127.0.0.1:"+strconv.Itoa(port))
		var st syscall.Stat_t
		if err := syscall.Stat(sock, &st); err != nil {
			t.Fatal(err)
		}
		r.mode, r.uid, r.gid = os.FileMode(st.Mode&0o7777), st.Uid, st.Gid
		return r
	}
	want := run("supervisord")
	got := run("corral")
	// The unix socket's name is a str, the TCP one's a tuple.
	if !strings.Contains(want.answers, "str hello 0") || !strings.Contains(want.answers, "tuple hello 0") {
		t.Fatalf("supervisord's answers are not what this test assumes:\n%s", want.answers)
	}
	// Which processes answer is the kernel's choice; that each answer
	// comes from the socket on descriptor 0 is not.
	strip := func(s string) []string {
		var out []string
		for l := range strings.Lines(s) {
			if !strings.HasPrefix(l, "pids ") {
				out = append(out, l)
			}
		}
		return out
	}
	if !slices.Equal(strip(got.answers), strip(want.answers)) {
		t.Errorf("corral's answers:\n%s\nsupervisord's:\n%s", got.answers, want.answers)
	}
	if got.mode != want.mode || got.mode != 0o660 {
		t.Errorf("socket mode %o, supervisord's %o (socket_mode = 0660)", got.mode, want.mode)
	}
	if got.uid != want.uid || got.gid != want.gid {
		t.Errorf("socket owner %d:%d, supervisord's %d:%d", got.uid, got.gid, want.uid, want.gid)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
