package supervisorrpc

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral/daemon"
)

const header = `[unix_http_server]
file=%[1]s/s.sock

[inet_http_server]
port=%[2]s
username=admin
password={SHA}%[3]s

[supervisord]
logfile=%[1]s/supervisord.log
childlogdir=%[1]s/logs

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%[1]s/s.sock
`

const programs = `
[program:alpha]
command=/bin/sh -c 'echo alpha-out; echo alpha-err >&2; exec sleep 1000'
startsecs=0

[program:web]
command=sleep 1000
process_name=%%(program_name)s_%%(process_num)02d
numprocs=2
startsecs=0

[group:grp]
programs=one,two

[program:one]
command=sleep 1000
startsecs=1

[program:two]
command=sleep 1000
startsecs=0
autostart=false
`

const crash = `
[program:crash]
command=/bin/sh -c 'exit 3'
startsecs=1
startretries=0
autostart=false
`

// writeConf writes a supervisord.conf with an inet port on 127.0.0.1 that
// was free a moment ago.
func writeConf(t *testing.T, dir, port, body string) string {
	t.Helper()
	sum := sha1.Sum([]byte("s3cret"))
	conf := filepath.Join(dir, "supervisord.conf")
	text := fmt.Sprintf(header, dir, port, hex.EncodeToString(sum[:])) + body
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

const (
	uptime  = `pid \d+, uptime 0:00:\d\d`
	stopped = `[A-Z][a-z][a-z] \d\d \d\d:\d\d [AP]M`
)

func TestSupervisorctlAgainstCorral(t *testing.T) {
	needSupervisor(t, supervisorctlPath)
	dir := t.TempDir()
	port := freePort(t)
	conf := writeConf(t, dir, port, strings.ReplaceAll(programs, "%%", "%")+crash)
	s := startServer(t, conf)
	for _, n := range []string{"alpha", "web:web_00", "web:web_01", "grp:one"} {
		s.waitState(t, n, "RUNNING")
	}

	t.Run("status", func(t *testing.T) {
		out, code := ctl(t, conf, "status")
		wantLines(t, "status", out,
			statusLine("alpha", "RUNNING", uptime),
			statusLine("crash", "STOPPED", "Not started"),
			statusLine("grp:one", "RUNNING", uptime),
			statusLine("grp:two", "STOPPED", "Not started"),
			statusLine("web:web_00", "RUNNING", uptime),
			statusLine("web:web_01", "RUNNING", uptime))
		if code != 3 {
			t.Errorf("status exit code %d, want 3 (some not running)", code)
		}
		out, _ = ctl(t, conf, "status", "web:*", "nosuch")
		wantLines(t, "status web:* nosuch", out,
			regexp.QuoteMeta("nosuch: ERROR (no such process)"),
			statusLine("web:web_00", "RUNNING", uptime),
			statusLine("web:web_01", "RUNNING", uptime))
		pid := s.state(t, "alpha").Pid
		out, _ = ctl(t, conf, "status", "alpha")
		wantLines(t, "status alpha", out, statusLine("alpha", "RUNNING", fmt.Sprintf(`pid %d, uptime 0:00:\d\d`, pid)))
	})

	t.Run("start stop restart", func(t *testing.T) {
		out, _ := ctl(t, conf, "start", "grp:two")
		wantLines(t, "start grp:two", out, "grp:two: started")
		out, _ = ctl(t, conf, "start", "grp:two")
		wantLines(t, "start grp:two again", out, regexp.QuoteMeta("grp:two: ERROR (already started)"))
		out, _ = ctl(t, conf, "start", "nosuch", "grp")
		wantLines(t, "start nosuch grp", out, regexp.QuoteMeta("nosuch: ERROR (no such process)"), regexp.QuoteMeta("grp: ERROR (no such process)"))

		out, _ = ctl(t, conf, "stop", "grp:*")
		wantLines(t, "stop grp:*", out, "grp:(one|two): stopped", "grp:(one|two): stopped")
		for _, n := range []string{"grp:one", "grp:two"} {
			if st := s.state(t, n); st.State != "STOPPED" {
				t.Errorf("%s is %s after stop", n, st.State)
			}
		}
		out, _ = ctl(t, conf, "stop", "grp:one")
		wantLines(t, "stop grp:one again", out, regexp.QuoteMeta("grp:one: ERROR (not running)"))
		out, _ = ctl(t, conf, "status", "grp:one")
		wantLines(t, "status after stop", out, statusLine("grp:one", "STOPPED", stopped))

		// startsecs=1: start blocks until RUNNING.
		begin := time.Now()
		out, _ = ctl(t, conf, "start", "grp:one")
		wantLines(t, "start grp:one", out, "grp:one: started")
		if el := time.Since(begin); el < time.Second {
			t.Errorf("start with startsecs=1 returned after %v", el)
		}
		if st := s.state(t, "grp:one"); st.State != "RUNNING" {
			t.Errorf("grp:one is %s right after start returned", st.State)
		}

		out, code := ctl(t, conf, "start", "crash")
		wantLines(t, "start crash", out, regexp.QuoteMeta("crash: ERROR (abnormal termination)"))
		if code != 7 {
			t.Errorf("start crash exit code %d, want 7", code)
		}
		s.waitState(t, "crash", "FATAL")
		out, _ = ctl(t, conf, "status", "crash")
		wantLines(t, "status crash", out, statusLine("crash", "FATAL", regexp.QuoteMeta(exitedTooQuickly)))

		before := []int{s.state(t, "web:web_00").Pid, s.state(t, "web:web_01").Pid}
		out, _ = ctl(t, conf, "restart", "web:*")
		wantLines(t, "restart web:*", out, "web:web_0[01]: stopped", "web:web_0[01]: stopped", "web:web_00: started", "web:web_01: started")
		for i, n := range []string{"web:web_00", "web:web_01"} {
			if st := s.state(t, n); st.State != "RUNNING" || st.Pid == before[i] {
				t.Errorf("%s after restart: %s pid %d (was %d)", n, st.State, st.Pid, before[i])
			}
		}

		out, _ = ctl(t, conf, "stop", "all")
		// grp:two is stopped, crash FATAL: stop all leaves them out.
		wantLines(t, "stop all", out, "(alpha|grp:one|web:web_0[01]): stopped", "(alpha|grp:one|web:web_0[01]): stopped", "(alpha|grp:one|web:web_0[01]): stopped", "(alpha|grp:one|web:web_0[01]): stopped")
		out, _ = ctl(t, conf, "start", "all")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		slices.Sort(lines)
		want := []string{"alpha: started", "crash: ERROR (abnormal termination)", "grp:one: started", "grp:two: started", "web:web_00: started", "web:web_01: started"}
		if !slices.Equal(lines, want) {
			t.Fatalf("start all:\n%s\nwant (in any order):\n%s", out, strings.Join(want, "\n"))
		}
	})

	t.Run("signal", func(t *testing.T) {
		out, _ := ctl(t, conf, "signal", "WINCH", "web:*")
		wantLines(t, "signal web:*", out, "web:web_00: signalled", "web:web_01: signalled")
		out, _ = ctl(t, conf, "signal", "BOGUS", "alpha")
		wantLines(t, "signal BOGUS", out, regexp.QuoteMeta("alpha: ERROR (bad signal name)"))
		out, _ = ctl(t, conf, "signal", "WINCH", "crash")
		wantLines(t, "signal a dead process", out, regexp.QuoteMeta("crash: ERROR (not running)"))
		out, _ = ctl(t, conf, "signal", "WINCH", "all")
		if n := strings.Count(out, ": signalled\n"); n != 5 {
			t.Fatalf("signal all signalled %d processes, want 5:\n%s", n, out)
		}
		pid := s.state(t, "alpha").Pid
		out, _ = ctl(t, conf, "signal", "KILL", "alpha")
		wantLines(t, "signal KILL", out, "alpha: signalled")
		waitFor(t, "alpha restarted after KILL", func() bool {
			st := s.state(t, "alpha")
			return st.State == "RUNNING" && st.Pid != pid
		})
	})

	t.Run("tail", func(t *testing.T) {
		waitFor(t, "alpha's output", func() bool {
			out, _ := ctl(t, conf, "tail", "alpha")
			return strings.Contains(out, "alpha-out\n")
		})
		out, _ := ctl(t, conf, "tail", "alpha", "stderr")
		if !strings.Contains(out, "alpha-err\n") || strings.Contains(out, "alpha-out") {
			t.Fatalf("tail alpha stderr = %q", out)
		}
		out, _ = ctl(t, conf, "tail", "-5", "alpha")
		if out != "-out\n\n" {
			t.Fatalf("tail -5 alpha = %q, want the last 5 bytes", out)
		}
		out, _ = ctl(t, conf, "tail", "nosuch")
		wantLines(t, "tail nosuch", out, regexp.QuoteMeta("nosuch: ERROR (no such process name)"))

		tailF(t, conf, nil, "alpha", "alpha-out")
		tailF(t, conf, nil, "alpha stderr", "alpha-err")
	})

	t.Run("pid", func(t *testing.T) {
		out, _ := ctl(t, conf, "pid")
		wantLines(t, "pid", out, strconv.Itoa(os.Getpid()))
		out, _ = ctl(t, conf, "pid", "web:web_01")
		wantLines(t, "pid web:web_01", out, strconv.Itoa(s.state(t, "web:web_01").Pid))
		out, _ = ctl(t, conf, "pid", "all")
		wantLines(t, "pid all", out, `\d+`, "0", `\d+`, `\d+`, `\d+`, `\d+`)
	})

	t.Run("clear", func(t *testing.T) {
		out, _ := ctl(t, conf, "clear", "alpha")
		wantLines(t, "clear alpha", out, "alpha: cleared")
		out, _ = ctl(t, conf, "tail", "alpha")
		if out != "\n" {
			t.Fatalf("tail after clear = %q, want nothing", out)
		}
		out, _ = ctl(t, conf, "clear", "all")
		if n := strings.Count(out, ": cleared\n"); n != 6 {
			t.Fatalf("clear all cleared %d, want 6:\n%s", n, out)
		}
	})

	t.Run("avail and version", func(t *testing.T) {
		out, _ := ctl(t, conf, "avail")
		wantLines(t, "avail", out,
			regexp.QuoteMeta(fmt.Sprintf("%-32s %-9s %-9s %s", "alpha", "in use", "auto", "999:999")),
			regexp.QuoteMeta(fmt.Sprintf("%-32s %-9s %-9s %s", "crash", "in use", "manual", "999:999")),
			regexp.QuoteMeta(fmt.Sprintf("%-32s %-9s %-9s %s", "grp:one", "in use", "auto", "999:999")),
			regexp.QuoteMeta(fmt.Sprintf("%-32s %-9s %-9s %s", "grp:two", "in use", "manual", "999:999")),
			regexp.QuoteMeta(fmt.Sprintf("%-32s %-9s %-9s %s", "web:web_00", "in use", "auto", "999:999")),
			regexp.QuoteMeta(fmt.Sprintf("%-32s %-9s %-9s %s", "web:web_01", "in use", "auto", "999:999")))
		out, _ = ctl(t, conf, "version")
		wantLines(t, "version", out, regexp.QuoteMeta(daemon.Version))
	})

	t.Run("reread update add remove", func(t *testing.T) {
		out, _ := ctl(t, conf, "reread")
		wantLines(t, "reread unchanged", out, "No config updates to processes")

		alpha := s.state(t, "alpha").Pid
		edited := strings.Replace(programs, "process_name=%%(program_name)s_%%(process_num)02d\nnumprocs=2", "process_name=%%(program_name)s_%%(process_num)02d\nnumprocs=3", 1)
		edited += "\n[program:newp]\ncommand=sleep 1000\nstartsecs=0\n"
		writeConf(t, dir, port, strings.ReplaceAll(edited, "%%", "%"))
		out, _ = ctl(t, conf, "reread")
		wantLines(t, "reread", out, "crash: disappeared", "newp: available", "web: changed")
		if _, err := s.d.Status("newp"); err == nil {
			t.Fatal("reread applied the new configuration")
		}
		out, _ = ctl(t, conf, "update")
		wantLines(t, "update", out, "crash: stopped", "crash: removed process group", "web: stopped", "web: updated process group", "newp: added process group")
		out, _ = ctl(t, conf, "status")
		wantLines(t, "status after update", out,
			statusLine("alpha", "RUNNING", fmt.Sprintf(`pid %d, uptime 0:00:\d\d`, alpha)),
			statusLine("grp:one", "RUNNING", uptime),
			statusLine("grp:two", "RUNNING", uptime),
			statusLine("newp", "(STARTING  |RUNNING   )", `.*`),
			statusLine("web:web_00", "(STARTING  |RUNNING   )", `.*`),
			statusLine("web:web_01", "(STARTING  |RUNNING   )", `.*`),
			statusLine("web:web_02", "(STARTING  |RUNNING   )", `.*`))
		s.waitState(t, "newp", "RUNNING")

		out, _ = ctl(t, conf, "remove", "newp")
		wantLines(t, "remove running", out, regexp.QuoteMeta("ERROR: process/group still running: newp"))
		out, _ = ctl(t, conf, "stop", "newp")
		wantLines(t, "stop newp", out, "newp: stopped")
		out, _ = ctl(t, conf, "remove", "newp")
		wantLines(t, "remove", out, "newp: removed process group")
		out, _ = ctl(t, conf, "avail")
		if !strings.Contains(out, fmt.Sprintf("%-32s %-9s", "newp", "avail")) {
			t.Fatalf("avail after remove:\n%s", out)
		}
		out, _ = ctl(t, conf, "add", "newp")
		wantLines(t, "add", out, "newp: added process group")
		out, _ = ctl(t, conf, "add", "newp")
		wantLines(t, "add again", out, "ERROR: process group already active")
		out, _ = ctl(t, conf, "add", "bogus")
		wantLines(t, "add bogus", out, "ERROR: no such process/group: bogus")
		s.waitState(t, "newp", "RUNNING")
		if st := s.state(t, "alpha"); st.Pid != alpha {
			t.Errorf("update restarted an unchanged program: pid %d -> %d", alpha, st.Pid)
		}
	})

	t.Run("inet with basic auth", func(t *testing.T) {
		url := "http://" + s.inet.String()
		out, _ := ctl(t, conf, "-s", url, "-u", "admin", "-p", "s3cret", "status", "alpha")
		wantLines(t, "inet status", out, statusLine("alpha", "RUNNING", uptime))
		out, code := ctl(t, conf, "-s", url, "-u", "admin", "-p", "wrong", "status")
		// supervisorctl retries the command once after a 401 and prints the
		// second ProtocolError too, whatever the server.
		wantLines(t, "inet wrong password", out, "Server requires authentication", "error: .*401 Unauthorized.*")
		if code == 0 {
			t.Error("a wrong password exited 0")
		}
		out, _ = ctl(t, conf, "-s", url, "status")
		wantLines(t, "inet no password", out, "Server requires authentication", "error: .*401 Unauthorized.*")
		tailF(t, conf, []string{"-s", url, "-u", "admin", "-p", "s3cret"}, "grp:one", "==> Press Ctrl-C to exit <==")
	})

	t.Run("shutdown", func(t *testing.T) {
		out, _ := ctl(t, conf, "shutdown")
		wantLines(t, "shutdown", out, "Shut down")
		select {
		case <-s.d.Quit():
		case <-time.After(hang):
			t.Fatal("shutdown did not ask the daemon to quit")
		}
		out, _ = ctl(t, conf, "shutdown")
		wantLines(t, "shutdown again", out, "ERROR: already shutting down")
	})
}

// tailF runs supervisorctl tail -f for a moment: it reads until want shows,
// then kills the client.
func tailF(t *testing.T, conf string, pre []string, what, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	args := append(append([]string{"-c", conf}, pre...), "tail", "-f")
	args = append(args, strings.Fields(what)...)
	cmd := exec.CommandContext(ctx, supervisorctlPath, args...)
	r, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	got := readUntil(t, r, want)
	if !strings.HasPrefix(got, "==> Press Ctrl-C to exit <==\n") {
		t.Fatalf("tail -f %s started with %q", what, got)
	}
}
