package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// procUID is the real uid of pid, from /proc.
func procUID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^Uid:\t(\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no Uid in /proc/%d/status", pid)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// [supervisord] user = nobody: the daemon becomes nobody before it starts
// any program, so the programs run as nobody too, and its log says so in
// supervisord's words (and not that it runs as root), as supervisord's.
func TestSupervisordUserDropsPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test drops privileges: it must run as root (as CI does)")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	sup := realSupervisord(t)
	logs := map[string][]string{}
	for _, who := range []string{"supervisord", "corral"} {
		dir := t.TempDir()
		// supervisord creates its socket and logs as nobody, so the
		// directory is nobody's; corral creates them as root, then becomes
		// nobody (and refuses a socket directory other users may write).
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if who == "supervisord" {
			gid, _ := strconv.Atoi(nobody.Gid)
			if err := os.Chown(dir, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		conf := filepath.Join(dir, "supervisord.conf")
		writeTestFile(t, conf, `[supervisord]
nodaemon = true
user = nobody
logfile = %(here)s/activity.log
pidfile = %(here)s/s.pid
childlogdir = %(here)s
[unix_http_server]
file = %(here)s/s.sock
[supervisorctl]
serverurl = unix://%(here)s/s.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[program:web]
command = sleep 1000.901
startsecs = 0
`)
		cmd := supervisorCmd(sup, who, dir, conf)
		rd := runSupervisorCmd(t, who, dir, cmd)
		out := &rd.out
		waitFor(t, who+": web RUNNING", func() bool { return strings.Contains(out.String(), "success: web") })
		if got := procUID(t, cmd.Process.Pid); got != uid {
			t.Errorf("%s runs as uid %d, want nobody (%d)", who, got, uid)
		}
		pids, _ := exec.Command("supervisorctl", "-c", conf, "pid", "web").Output()
		pid, err := strconv.Atoi(strings.TrimSpace(string(pids)))
		if err != nil {
			t.Fatalf("%s: supervisorctl pid web: %q", who, pids)
		}
		if got := procUID(t, pid); got != uid {
			t.Errorf("%s: web runs as uid %d, want nobody (%d)", who, got, uid)
		}
		rd.stop(t)
		// supervisord's first lines: which user, the socket's lack of
		// authentication, its pid (its clean-up warnings aside).
		for l := range strings.Lines(out.String()) {
			l = activityStamp.ReplaceAllString(strings.TrimSuffix(l, "\n"), "")
			if !strings.HasPrefix(l, "WARN Failed to clean up") {
				logs[who] = append(logs[who], activityPid.ReplaceAllString(l, "pid N"))
			}
		}
	}
	want := []string{
		"INFO Set uid to user " + nobody.Uid + " succeeded",
		"INFO RPC interface 'supervisor' initialized",
		"CRIT Server 'unix_http_server' running without any HTTP authentication checking",
		"INFO supervisord started with pid N",
	}
	for who, lines := range logs {
		if len(lines) < len(want) || strings.Join(lines[:len(want)], "\n") != strings.Join(want, "\n") {
			t.Errorf("%s's log begins:\n%s\nwant:\n%s", who, strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
	}
}

// -u with a user that does not exist, and user = one in the file, are
// refused before anything starts, with supervisord's message and status.
func TestSupervisordUnknownUser(t *testing.T) {
	sup := realSupervisord(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "supervisord.conf")
	writeTestFile(t, conf, "[supervisord]\n[unix_http_server]\nfile = %(here)s/s.sock\n[program:x]\ncommand = sleep 1000.902\n")
	bad := filepath.Join(dir, "bad.conf")
	writeTestFile(t, bad, "[supervisord]\nuser = nosuchuser\n[unix_http_server]\nfile = %(here)s/s.sock\n[program:x]\ncommand = sleep 1000.903\n")
	t.Cleanup(func() { reapScript(dir) })
	for _, args := range [][]string{{"-c", conf, "-u", "nosuchuser"}, {"-c", bad}} {
		_, wantErr, wantCode := runOut(exec.Command(sup, args...))
		_, gotErr, gotCode := runOut(corralAs("corral", dir, dir, append([]string{"supervisord"}, args...)...))
		first := func(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }
		if gotCode != wantCode || first(gotErr) != first(wantErr) {
			t.Errorf("%q: corral %d %q, supervisord %d %q", args, gotCode, first(gotErr), wantCode, first(wantErr))
		}
	}
}
