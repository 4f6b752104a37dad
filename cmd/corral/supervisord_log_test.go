package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer a test reads while a process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// activityScenario is a supervisord.conf run by both supervisors: a
// program that stays up, one that fails every start, one that exits 0
// after it was RUNNING; then SIGTERM. The margins (bad's startsecs, quick's
// time after RUNNING) are wide because supervisord, loaded, notices exits
// and startsecs late and would otherwise tell another story. The daemon writes its log to
// logfile and, with nodaemon, to standard output.
const activityScenario = `[supervisord]
nodaemon = true
logfile = %(here)s/activity.log
pidfile = %(here)s/s.pid
childlogdir = %(here)s
[unix_http_server]
file = %(here)s/s.sock
[program:web]
command = sleep 1000.601
startsecs = 1
[program:bad]
command = sh -c 'exit 3'
startsecs = 10
startretries = 1
[program:quick]
command = sh -c 'sleep 3.601; exit 0'
startsecs = 1
autorestart = false
`

// runActivityScenario runs cmd (a supervisor reading dir's
// supervisord.conf) until its log shows the scenario played out, stops it
// with SIGTERM, and returns its standard output and its logfile.
func runActivityScenario(t *testing.T, dir string, cmd *exec.Cmd) (stdout, logfile string) {
	t.Helper()
	var out, errb lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		reapScript(dir)
	})
	waitFor(t, cmd.Args[0]+" to play the scenario", func() bool {
		s := out.String()
		return strings.Contains(s, "exited: quick") && strings.Contains(s, "gave up: bad") && strings.Contains(s, "success: web")
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("%s after SIGTERM: %v\n%s", cmd.Args[0], err, errb.String())
		}
	case <-time.After(hang):
		t.Fatalf("%s: no exit after SIGTERM", cmd.Args[0])
	}
	b, err := os.ReadFile(filepath.Join(dir, "activity.log"))
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), string(b)
}

var (
	activityStamp = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} `)
	activityPid   = regexp.MustCompile(`pid \d+`)
)

// activityLines returns the log's lines without their timestamps and with
// every pid as N; it fails the test on a line not in supervisord's format.
func activityLines(t *testing.T, who, log string) []string {
	t.Helper()
	var lines []string
	for l := range strings.Lines(log) {
		l = strings.TrimSuffix(l, "\n")
		if !activityStamp.MatchString(l) {
			t.Errorf("%s: line not in supervisord's format: %q", who, l)
			continue
		}
		lines = append(lines, activityPid.ReplaceAllString(activityStamp.ReplaceAllString(l, ""), "pid N"))
	}
	return lines
}

// activityOf keeps the lines about one program, in their order (the two
// supervisors interleave programs differently: supervisord starts them at
// its first tick, a second after it starts, and retries a second later).
func activityOf(lines []string, name string) []string {
	re := regexp.MustCompile(`\b` + name + `\b`)
	var out []string
	for _, l := range lines {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// TestSupervisordActivityLogIsSupervisords runs the same supervisord.conf
// under supervisord 4 and `corral supervisord`: both write the same lines
// (modulo timestamps and pids), in supervisord's format and levels, in
// the same order for each program, to logfile and to standard output.
func TestSupervisordActivityLogIsSupervisords(t *testing.T) {
	sup := realSupervisord(t)
	supDir, corDir := t.TempDir(), t.TempDir()
	for _, d := range []string{supDir, corDir} {
		writeTestFile(t, filepath.Join(d, "supervisord.conf"), activityScenario)
	}
	sc := exec.Command(sup, "-c", filepath.Join(supDir, "supervisord.conf"))
	sc.Dir = supDir
	sc.Env = append(os.Environ(), "WORK="+supDir)
	supOut, supLog := runActivityScenario(t, supDir, sc)
	corOut, corLog := runActivityScenario(t, corDir, corralAs("corral", corDir, corDir, "supervisord", "-c", filepath.Join(corDir, "supervisord.conf")))

	want := activityLines(t, "supervisord", supLog)
	got := activityLines(t, "corral", corLog)
	if out := activityLines(t, "corral's stdout", corOut); !slices.Equal(out, got) {
		t.Errorf("corral's standard output differs from its logfile:\nstdout:\n%s\nlogfile:\n%s", corOut, corLog)
	}
	if out := activityLines(t, "supervisord's stdout", supOut); !slices.Equal(out, want) {
		t.Errorf("supervisord's standard output differs from its logfile (the scenario is wrong):\n%s\n%s", supOut, supLog)
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	if !slices.Equal(sorted(got), sorted(want)) {
		t.Errorf("corral's activity log:\n%s\nsupervisord's:\n%s", corLog, supLog)
	}
	for _, name := range []string{"web", "bad", "quick", "supervisord", "SIGTERM"} {
		if g, w := activityOf(got, name), activityOf(want, name); !slices.Equal(g, w) {
			t.Errorf("lines about %s:\ncorral:\n%s\nsupervisord:\n%s", name, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
	}
	for _, l := range []string{
		"INFO spawned: 'web' with pid N",
		"INFO success: web entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)",
		"WARN exited: bad (exit status 3; not expected)",
		"INFO gave up: bad entered FATAL state, too many start retries too quickly",
		"INFO exited: quick (exit status 0; expected)",
		"WARN received SIGTERM indicating exit request",
		"INFO waiting for web to die",
		"WARN stopped: web (terminated by SIGTERM)",
		"INFO supervisord started with pid N",
	} {
		if !slices.Contains(want, l) {
			t.Errorf("supervisord did not write %q: the scenario is not what this test assumes", l)
		}
	}
}

// SIGUSR2 reopens the logfile (after logrotate moved it) and SIGQUIT ends
// the daemon like SIGTERM, with supervisord's lines, in the same files,
// and the same exit status as supervisord.
func TestSupervisordReopensOnUSR2AndQuitsOnQUIT(t *testing.T) {
	sup := realSupervisord(t)
	for _, who := range []string{"supervisord", "corral"} {
		dir := t.TempDir()
		conf := filepath.Join(dir, "supervisord.conf")
		writeTestFile(t, conf, "[supervisord]\nnodaemon = true\nsilent = true\nlogfile = %(here)s/activity.log\npidfile = %(here)s/s.pid\nchildlogdir = %(here)s\n[unix_http_server]\nfile = %(here)s/s.sock\n")
		cmd := supervisorCmd(sup, who, dir, conf)
		rd := runSupervisorCmd(t, who, dir, cmd)
		out := &rd.out
		logf := filepath.Join(dir, "activity.log")
		read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
		waitFor(t, who+" to start", func() bool { return strings.Contains(read(logf), "supervisord started with pid") })
		if err := os.Rename(logf, logf+".1"); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Process.Signal(syscall.SIGUSR2); err != nil {
			t.Fatal(err)
		}
		waitFor(t, who+" to reopen its log", func() bool { _, err := os.Stat(logf); return err == nil })
		if !strings.Contains(read(logf+".1"), "INFO received SIGUSR2 indicating log reopen request\n") {
			t.Errorf("%s: the moved log lacks the SIGUSR2 line:\n%s", who, read(logf+".1"))
		}
		if err := cmd.Process.Signal(syscall.SIGQUIT); err != nil {
			t.Fatal(err)
		}
		if rd.wait(t); rd.err != nil {
			t.Errorf("%s after SIGQUIT: %v\n%s", who, rd.err, out.String())
		}
		if !strings.Contains(read(logf), "WARN received SIGQUIT indicating exit request\n") {
			t.Errorf("%s: the new log lacks the SIGQUIT line:\n%s", who, read(logf))
		}
		if out.String() != "" {
			t.Errorf("%s with silent = true wrote to its output:\n%s", who, out.String())
		}
	}
}

// At loglevel = debug, a process's output is copied into the activity log
// as supervisord copies it: "'name' stdout output:" and the text, or
// "Undecodable: b'...'" for bytes that are not UTF-8.
func TestSupervisordDebugLogsProcessOutput(t *testing.T) {
	sup := realSupervisord(t)
	got := map[string][]string{}
	for _, who := range []string{"supervisord", "corral"} {
		dir := t.TempDir()
		conf := filepath.Join(dir, "supervisord.conf")
		writeTestFile(t, conf, `[supervisord]
nodaemon = true
silent = true
loglevel = debug
logfile = %(here)s/activity.log
pidfile = %(here)s/s.pid
childlogdir = %(here)s
[unix_http_server]
file = %(here)s/s.sock
[program:utf]
command = sh -c 'printf "h\303\251llo it'"'"'s \"x\" \\\\ end\n"; exec sleep 1000.961'
startsecs = 0
[program:bin]
command = sh -c 'printf "a\377b\tc'"'"'\r\n"; exec sleep 1000.962'
startsecs = 0
stdout_logfile = %(here)s/bin.log
`)
		cmd := supervisorCmd(sup, who, dir, conf)
		runSupervisorCmd(t, who, dir, cmd)
		var log string
		waitFor(t, who+" to log both outputs", func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, "activity.log"))
			log = string(b)
			return strings.Count(log, " output:\n") == 2
		})
		lines := strings.Split(log, "\n")
		for i, l := range lines {
			if strings.HasSuffix(l, " output:") && i+1 < len(lines) {
				got[who] = append(got[who], activityStamp.ReplaceAllString(l, "")+"\n"+lines[i+1])
			}
		}
		slices.Sort(got[who])
	}
	want := []string{
		"DEBG 'bin' stdout output:\nUndecodable: b\"a\\xffb\\tc'\\r\\n\"",
		"DEBG 'utf' stdout output:\nhéllo it's \"x\" \\ end",
	}
	if !slices.Equal(got["supervisord"], want) {
		t.Errorf("supervisord wrote (the test's assumption is wrong):\n%q\nwant:\n%q", got["supervisord"], want)
	}
	if !slices.Equal(got["corral"], got["supervisord"]) {
		t.Errorf("corral wrote:\n%q\nsupervisord:\n%q", got["corral"], got["supervisord"])
	}
}
