package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// recorderPy is an event listener written against Debian's
// python3-supervisor: it records each envelope (the raw header line and the
// payload read by the length the header gives) as a JSON line, then
// answers with childutils.listener. Modes: ok; fail-once (FAIL at the
// first delivery of each serial); die-once (exit without answering the
// first event); hold (answer the first event only once OUT.go exists).
const recorderPy = `import sys, os, json, time
from supervisor import childutils
mode, out = sys.argv[1], sys.argv[2]
seen = set()
while True:
    childutils.listener.ready(sys.stdout)
    line = sys.stdin.readline()
    headers = childutils.get_headers(line)
    payload = sys.stdin.read(int(headers['len']))
    with open(out, 'a') as f:
        f.write(json.dumps({'line': line, 'h': headers, 'p': payload}) + '\n')
    if mode == 'die-once' and not os.path.exists(out + '.died'):
        open(out + '.died', 'w').close()
        os._exit(1)
    if mode == 'fail-once' and headers['serial'] not in seen:
        seen.add(headers['serial'])
        childutils.listener.fail(sys.stdout)
        continue
    if mode == 'hold':
        while not os.path.exists(out + '.go'):
            time.sleep(0.02)
    childutils.listener.ok(sys.stdout)
`

// record is one envelope a recorder received.
type record struct {
	Line string            `json:"line"`
	H    map[string]string `json:"h"`
	P    string            `json:"p"`
}

func readRecords(t *testing.T, path string) []record {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	return out
}

// supervisor is one of the two daemons a listener test runs: Debian's
// supervisord or `corral supervisord`, with the same command line.
type supervisor struct {
	name  string
	start func(t *testing.T, dir, conf string) *exec.Cmd
}

func bothSupervisors(t *testing.T) []supervisor {
	sup := realSupervisord(t)
	return []supervisor{
		{"supervisord", func(t *testing.T, dir, conf string) *exec.Cmd {
			cmd := exec.Command(sup, "-n", "-c", conf)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "WORK="+dir)
			return cmd
		}},
		{"corral", func(t *testing.T, dir, conf string) *exec.Cmd {
			return corralAs("corral", dir, dir, "supervisord", "-n", "-c", conf)
		}},
	}
}

// runningDaemon is a started supervisor; its processes (marked with
// WORK=dir) are killed at the end of the test whatever happens.
type runningDaemon struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
	out    lockedBuffer
}

func startSupervisor(t *testing.T, s supervisor, dir, conf string) *runningDaemon {
	t.Helper()
	return runSupervisorCmd(t, s.name, dir, s.start(t, dir, conf))
}

// runSupervisorCmd starts cmd, a daemon whose programs are marked with WORK=dir,
// with its output in a buffer. When the test ends it is stopped with
// SIGTERM (SIGKILL if it does not exit in time: a daemon killed so leaves
// its cgroups to a next daemon there is none of), and whatever its
// programs left is killed and reported.
func runSupervisorCmd(t *testing.T, name, dir string, cmd *exec.Cmd) *runningDaemon {
	t.Helper()
	rd := &runningDaemon{cmd: cmd, exited: make(chan struct{})}
	rd.cmd.Stdout, rd.cmd.Stderr = &rd.out, &rd.out
	rd.cmd.WaitDelay = time.Second
	if err := rd.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { rd.err = rd.cmd.Wait(); close(rd.exited) }()
	t.Cleanup(func() {
		_ = rd.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-rd.exited:
		case <-time.After(hang):
			_ = rd.cmd.Process.Kill()
			<-rd.exited
		}
		if left := reapScript(dir); len(left) > 0 {
			t.Errorf("%s left processes: %v", name, left)
		}
	})
	return rd
}

// supervisorCmd is the command of one of the two supervisors a comparison
// test runs with conf in dir: Debian's supervisord (sup) when who is
// "supervisord", else `corral supervisord`; their programs are marked with
// WORK=dir.
func supervisorCmd(sup, who, dir, conf string) *exec.Cmd {
	if who != "supervisord" {
		return corralAs("corral", dir, dir, "supervisord", "-c", conf)
	}
	cmd := exec.Command(sup, "-c", conf)
	cmd.Env = append(os.Environ(), "WORK="+dir)
	return cmd
}

// wait returns the daemon's exit status once it exited.
func (rd *runningDaemon) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-rd.exited:
	case <-time.After(hang):
		t.Fatalf("the daemon did not exit\n%s", rd.out.String())
	}
	return rd.cmd.ProcessState.ExitCode()
}

func (rd *runningDaemon) stop(t *testing.T) int {
	t.Helper()
	_ = rd.cmd.Process.Signal(syscall.SIGTERM)
	return rd.wait(t)
}

// listenerConf is the common part of the test configurations: the socket,
// the XML-RPC interface, no log on stdout.
const listenerConf = `[supervisord]
nodaemon = true
logfile = %(here)s/daemon.log
pidfile = %(here)s/daemon.pid
childlogdir = %(here)s
[unix_http_server]
file = %(here)s/s.sock
[supervisorctl]
serverurl = unix://%(here)s/s.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
`

// setupListenerDir writes the configuration and the recorder into a fresh
// directory.
func setupListenerDir(t *testing.T, conf string) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	writeTestFile(t, filepath.Join(dir, "rec.py"), recorderPy)
	path = filepath.Join(dir, "supervisord.conf")
	writeTestFile(t, path, listenerConf+conf)
	return dir, path
}

// hasRecord reports whether the recorder file holds an event named name
// whose payload contains sub.
func hasRecord(t *testing.T, path, name, sub string) bool {
	for _, r := range readRecords(t, path) {
		if r.H["eventname"] == name && strings.Contains(r.P, sub) {
			return true
		}
	}
	return false
}

var pidRe = regexp.MustCompile(`pid:\d+`)

// stateSequences splits what a recorder got into the events that are not
// PROCESS_STATE_* (in order) and, per process, its PROCESS_STATE_* events
// (in order), with pids and ticks left out: the order between two
// processes and the pids are the only things that differ by timing.
func stateSequences(recs []record, skip func(r record) bool) (others []string, perProc map[string][]string) {
	perProc = map[string][]string{}
	for _, r := range recs {
		name := r.H["eventname"]
		if strings.HasPrefix(name, "TICK_") || (skip != nil && skip(r)) {
			continue
		}
		p := pidRe.ReplaceAllString(r.P, "pid:N")
		if !strings.HasPrefix(name, "PROCESS_STATE_") {
			others = append(others, name+" "+p)
			continue
		}
		proc, _, _ := strings.Cut(strings.TrimPrefix(p, "processname:"), " ")
		perProc[proc] = append(perProc[proc], name+" "+p)
	}
	return others, perProc
}

var headerRe = regexp.MustCompile(`^ver:3\.0 server:supervisor serial:(\d+) pool:(\S+) poolserial:(\d+) eventname:([A-Z_0-9]+) len:(\d+)\n$`)

// checkHeaders checks each header line's shape and that a pool's serials
// follow each other from 0.
func checkHeaders(t *testing.T, who string, recs []record) {
	t.Helper()
	next := map[string]int{}
	for _, r := range recs {
		m := headerRe.FindStringSubmatch(r.Line)
		if m == nil {
			t.Errorf("%s: header line %q is not supervisord's", who, r.Line)
			continue
		}
		if want := fmt.Sprint(next[m[2]]); m[3] != want {
			t.Errorf("%s: pool %s: poolserial %s, want %s", who, m[2], m[3], want)
		}
		next[m[2]]++
	}
}

// TestEventListenersGetWhatSupervisordSends runs the same configuration
// under supervisord and corral, with a pool subscribed to EVENT and one to
// PROCESS_STATE_FATAL only, while a program exits, one goes FATAL, one is
// stopped and started again with supervisorctl, a REMOTE_COMMUNICATION is
// sent over XML-RPC and the daemon is stopped. Each listener must get the
// same events with the same payloads (pids aside) and the same header
// lines, in the same order for each process.
func TestEventListenersGetWhatSupervisordSends(t *testing.T) {
	conf := `[program:web]
command = sleep 1000.61
startsecs = 0
[group:site]
programs = web
priority = 500
[program:once]
command = sh -c "sleep 0.2; exit 3"
startsecs = 0
autorestart = false
[program:crash]
command = sh -c "exit 1"
startsecs = 3
startretries = 1
[eventlistener:every]
command = /usr/bin/python3 %(here)s/rec.py ok %(here)s/all.jsonl
events = EVENT
buffer_size = 100
startsecs = 0
[eventlistener:fatal]
command = /usr/bin/python3 %(here)s/rec.py ok %(here)s/fatal.jsonl
events = process_state_fatal
startsecs = 0
`
	type result struct {
		others  []string
		perProc map[string][]string
		fatal   []string
	}
	got := map[string]result{}
	stops := map[string][]string{}
	for _, s := range bothSupervisors(t) {
		dir, path := setupListenerDir(t, conf)
		all := filepath.Join(dir, "all.jsonl")
		rd := startSupervisor(t, s, dir, path)
		waitFor(t, s.name+": crash FATAL, once EXITED, web RUNNING", func() bool {
			return hasRecord(t, all, "PROCESS_STATE_FATAL", "processname:crash") &&
				hasRecord(t, all, "PROCESS_STATE_EXITED", "processname:once") &&
				hasRecord(t, all, "PROCESS_STATE_RUNNING", "processname:web")
		})
		supervisorctlIn(t, path, "stop", "site:web")
		waitFor(t, s.name+": web STOPPED", func() bool { return hasRecord(t, all, "PROCESS_STATE_STOPPED", "processname:web") })
		supervisorctlIn(t, path, "start", "site:web")
		waitFor(t, s.name+": web STARTING again", func() bool {
			return hasRecord(t, all, "PROCESS_STATE_STARTING", "processname:web groupname:site from_state:STOPPED")
		})
		sendRemoteComm(t, filepath.Join(dir, "s.sock"), "note", "hello, listeners\nsecond line é")
		waitFor(t, s.name+": REMOTE_COMMUNICATION", func() bool { return hasRecord(t, all, "REMOTE_COMMUNICATION", "hello") })
		waitFor(t, s.name+": web RUNNING again", func() bool {
			n := 0
			for _, r := range readRecords(t, all) {
				if r.H["eventname"] == "PROCESS_STATE_RUNNING" && strings.Contains(r.P, "processname:web") {
					n++
				}
			}
			return n == 2
		})
		running := len(readRecords(t, all))
		if code := rd.stop(t); code != 0 {
			t.Errorf("%s: exit status %d after SIGTERM, want 0\n%s", s.name, code, rd.out.String())
		}
		recs := readRecords(t, all)
		checkHeaders(t, s.name, recs)
		others, perProc := stateSequences(recs[:running], nil)
		// The shutdown: supervisord stops its listener once web is stopped,
		// whether or not the listener has taken web's last events yet;
		// corral waits for it to take them. So supervisord's listener sees
		// the start of what corral's sees.
		var shutdown []string
		for _, r := range recs[running:] {
			if !strings.HasPrefix(r.H["eventname"], "TICK_") && !strings.Contains(r.P, "processname:every ") && !strings.Contains(r.P, "processname:fatal ") {
				shutdown = append(shutdown, r.H["eventname"]+" "+pidRe.ReplaceAllString(r.P, "pid:N"))
			}
		}
		stops[s.name] = shutdown
		fatal, _ := stateSequences(nil, nil)
		for _, r := range readRecords(t, filepath.Join(dir, "fatal.jsonl")) {
			fatal = append(fatal, r.H["eventname"]+" "+r.P)
		}
		got[s.name] = result{others, perProc, fatal}
	}
	want, have := got["supervisord"], got["corral"]
	if !slices.Equal(want.others, have.others) {
		t.Errorf("events other than PROCESS_STATE:\nsupervisord %q\ncorral      %q", want.others, have.others)
	}
	wantStop := []string{"SUPERVISOR_STATE_CHANGE_STOPPING ",
		"PROCESS_STATE_STOPPING processname:web groupname:site from_state:RUNNING pid:N",
		"PROCESS_STATE_STOPPED processname:web groupname:site from_state:STOPPING pid:N"}
	if !slices.Equal(stops["corral"], wantStop) || len(stops["supervisord"]) == 0 || !slices.Equal(stops["supervisord"], wantStop[:len(stops["supervisord"])]) {
		t.Errorf("at shutdown:\nsupervisord %q\ncorral      %q\nwant        %q", stops["supervisord"], stops["corral"], wantStop)
	}
	for _, p := range []string{"web", "once", "crash", "every", "fatal"} {
		if !slices.Equal(want.perProc[p], have.perProc[p]) {
			t.Errorf("PROCESS_STATE events of %s:\nsupervisord %q\ncorral      %q", p, want.perProc[p], have.perProc[p])
		}
	}
	if len(want.perProc) != len(have.perProc) {
		t.Errorf("processes with events: supervisord %d, corral %d", len(want.perProc), len(have.perProc))
	}
	if !slices.Equal(want.fatal, have.fatal) || len(have.fatal) != 1 {
		t.Errorf("the PROCESS_STATE_FATAL pool got:\nsupervisord %q\ncorral      %q", want.fatal, have.fatal)
	}
}

// sendRemoteComm calls supervisor.sendRemoteCommEvent with supervisor's own
// XML-RPC transport.
func sendRemoteComm(t *testing.T, sock, typ, data string) {
	t.Helper()
	script := fmt.Sprintf(`
import xmlrpc.client, sys
from supervisor.xmlrpc import SupervisorTransport
p = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, "unix://%s"))
r = p.supervisor.sendRemoteCommEvent(sys.argv[1], sys.argv[2])
assert r is True, r
`, sock)
	out, err := exec.Command("/usr/bin/python3", "-c", script, typ, data).CombinedOutput()
	if err != nil {
		t.Fatalf("sendRemoteCommEvent: %v\n%s", err, out)
	}
}

// The listeners that Docker images use to end the container when a
// program goes FATAL: the bash one-liner (dash's kill has no -SIGQUIT) that sends SIGQUIT to its parent
// for every event, and the python variants (childutils, SIGTERM to the
// parent; SIGQUIT to the pid in the pidfile).
var fatalKillers = map[string]string{
	"shell one-liner": `bash -c 'printf "READY\n"; while read line; do kill -SIGQUIT $PPID; done < /dev/stdin'`,
	"python SIGTERM to the parent": `/usr/bin/python3 -c "
import os, signal, sys
from supervisor import childutils
while True:
    headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
    if headers['eventname'] == 'PROCESS_STATE_FATAL':
        os.kill(os.getppid(), signal.SIGTERM)
    childutils.listener.ok(sys.stdout)
"`,
	"python SIGQUIT to the pidfile": `/usr/bin/python3 -c "
import os, signal, sys
from supervisor import childutils
while True:
    headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
    os.kill(int(open('%(here)s/daemon.pid').read()), signal.SIGQUIT)
    childutils.listener.ok(sys.stdout)
"`,
}

// TestFatalListenerEndsTheDaemonAsSupervisord is the container scenario:
// `supervisord -n -c FILE` with a listener that ends the daemon on
// PROCESS_STATE_FATAL and a program that cannot start. supervisord and
// corral must both end, with the same exit status (0), having stopped the
// rest (the long-running program is gone).
func TestFatalListenerEndsTheDaemonAsSupervisord(t *testing.T) {
	for name, killer := range fatalKillers {
		t.Run(name, func(t *testing.T) {
			conf := `[program:app]
command = sleep 1000.62
startsecs = 0
[program:broken]
command = sh -c "exit 1"
startsecs = 1
startretries = 1
[eventlistener:quit_on_fatal]
command = ` + killer + `
events = PROCESS_STATE_FATAL
`
			codes := map[string]int{}
			for _, s := range bothSupervisors(t) {
				dir, path := setupListenerDir(t, conf)
				rd := startSupervisor(t, s, dir, path)
				codes[s.name] = rd.wait(t)
				if left := scriptProcs(dir); len(left) > 0 {
					t.Errorf("%s exited and left processes: %v", s.name, left)
				}
			}
			if codes["corral"] != codes["supervisord"] {
				t.Errorf("exit status: corral %d, supervisord %d", codes["corral"], codes["supervisord"])
			}
		})
	}
}

// TestListenerFailIsSentAgain: a listener that answers FAIL gets the same
// event again (same serial and pool serial) until it answers OK, under
// supervisord and corral alike.
func TestListenerFailIsSentAgain(t *testing.T) {
	conf := `[program:web]
command = sleep 1000.63
startsecs = 0
[eventlistener:picky]
command = /usr/bin/python3 %(here)s/rec.py fail-once %(here)s/picky.jsonl
events = PROCESS_STATE_RUNNING
startsecs = 0
`
	got := map[string][]string{}
	for _, s := range bothSupervisors(t) {
		dir, path := setupListenerDir(t, conf)
		out := filepath.Join(dir, "picky.jsonl")
		rd := startSupervisor(t, s, dir, path)
		waitFor(t, s.name+": web RUNNING twice", func() bool {
			n := 0
			for _, r := range readRecords(t, out) {
				if strings.Contains(r.P, "processname:web") {
					n++
				}
			}
			return n == 2
		})
		rd.stop(t)
		for _, r := range readRecords(t, out) {
			got[s.name] = append(got[s.name], fmt.Sprintf("serial %s poolserial %s %s %s", r.H["serial"], r.H["poolserial"], r.H["eventname"], pidRe.ReplaceAllString(r.P, "pid:N")))
		}
		if log, _ := os.ReadFile(filepath.Join(dir, "daemon.log")); !strings.Contains(string(log), "picky: event was rejected") {
			t.Errorf("%s: no %q in the log", s.name, "picky: event was rejected")
		}
	}
	// The serials of other events (picky's own RUNNING) come first in
	// either order: compare web's.
	for name, recs := range got {
		var web []string
		for _, r := range recs {
			if strings.Contains(r, "processname:web") {
				web = append(web, r)
			}
		}
		if len(web) != 2 || web[0] != web[1] {
			t.Errorf("%s: web's RUNNING was not sent again after FAIL: %q", name, recs)
		}
	}
}

// TestListenerThatDiesMidEventGetsItAgain: a listener that exits while
// BUSY is restarted and gets the same event again, as in supervisord.
func TestListenerThatDiesMidEventGetsItAgain(t *testing.T) {
	conf := `[eventlistener:fragile]
command = /usr/bin/python3 %(here)s/rec.py die-once %(here)s/fragile.jsonl
events = REMOTE_COMMUNICATION
startsecs = 0
autorestart = true
`
	for _, s := range bothSupervisors(t) {
		dir, path := setupListenerDir(t, conf)
		out := filepath.Join(dir, "fragile.jsonl")
		rd := startSupervisor(t, s, dir, path)
		waitFor(t, s.name+": fragile RUNNING", func() bool {
			return strings.Contains(supervisorctlIn(t, path, "status", "fragile"), "RUNNING")
		})
		sendRemoteComm(t, filepath.Join(dir, "s.sock"), "job", "42")
		waitFor(t, s.name+": the event twice", func() bool { return len(readRecords(t, out)) == 2 })
		rd.stop(t)
		recs := readRecords(t, out)
		if recs[0].Line != recs[1].Line || recs[0].P != recs[1].P || recs[0].P != "type:job\n42" {
			t.Errorf("%s: got %q then %q, want the same event twice", s.name, recs[0].Line+recs[0].P, recs[1].Line+recs[1].P)
		}
	}
}

// TestFullListenerBufferDiscardsTheOldest: with buffer_size=2 and a
// listener busy with the first event, five more events keep the last two;
// the three discarded ones are logged with supervisord's line, and the
// listener then gets the first event's successors that were kept.
func TestFullListenerBufferDiscardsTheOldest(t *testing.T) {
	conf := `[eventlistener:slow]
command = /usr/bin/python3 %(here)s/rec.py hold %(here)s/slow.jsonl
events = REMOTE_COMMUNICATION
buffer_size = 2
startsecs = 0
`
	got := map[string][]string{}
	for _, s := range bothSupervisors(t) {
		dir, path := setupListenerDir(t, conf)
		out := filepath.Join(dir, "slow.jsonl")
		rd := startSupervisor(t, s, dir, path)
		waitFor(t, s.name+": slow RUNNING", func() bool {
			return strings.Contains(supervisorctlIn(t, path, "status", "slow"), "RUNNING")
		})
		sock := filepath.Join(dir, "s.sock")
		sendRemoteComm(t, sock, "n", "0")
		waitFor(t, s.name+": the first event", func() bool { return len(readRecords(t, out)) == 1 })
		for i := 1; i <= 5; i++ {
			sendRemoteComm(t, sock, "n", fmt.Sprint(i))
		}
		writeTestFile(t, out+".go", "")
		waitFor(t, s.name+": three events", func() bool { return len(readRecords(t, out)) == 3 })
		rd.stop(t)
		for _, r := range readRecords(t, out) {
			got[s.name] = append(got[s.name], r.Line+r.P)
		}
		log, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
		for serial := 1; serial <= 3; serial++ {
			if line := fmt.Sprintf("pool slow event buffer overflowed, discarding event %d", serial); !strings.Contains(string(log), line) {
				t.Errorf("%s: no %q in the log", s.name, line)
			}
		}
	}
	if !slices.Equal(got["corral"], got["supervisord"]) {
		t.Errorf("the slow listener got:\nsupervisord %q\ncorral      %q", got["supervisord"], got["corral"])
	}
}

// TestOutputEventsAreSupervisords: with stdout_events_enabled,
// stderr_events_enabled and stdout_capture_maxbytes, a program's output
// reaches listeners as PROCESS_LOG_* events and what it writes between the
// XSUPERVISOR tokens as one PROCESS_COMMUNICATION_STDOUT, which stays out
// of its log; supervisord and corral send the same events and write the
// same log.
func TestOutputEventsAreSupervisords(t *testing.T) {
	conf := `[program:talker]
command = sh -c 'printf "hello\n"; sleep 0.3; printf "before<!--XSUPERVISOR:BEGIN-->the message<!--XSUPERVISOR:END-->after, long enough to be logged\n"; sleep 0.3; printf "oops\n" >&2; exec sleep 1000.64'
startsecs = 0
stdout_events_enabled = true
stderr_events_enabled = true
stdout_capture_maxbytes = 1MB
stdout_logfile = %(here)s/talker.out
stderr_logfile = %(here)s/talker.err
[eventlistener:outputs]
command = /usr/bin/python3 %(here)s/rec.py ok %(here)s/outputs.jsonl
events = PROCESS_LOG, PROCESS_COMMUNICATION
startsecs = 0
`
	got := map[string][]string{}
	logged := map[string]string{}
	for _, s := range bothSupervisors(t) {
		dir, path := setupListenerDir(t, conf)
		out := filepath.Join(dir, "outputs.jsonl")
		rd := startSupervisor(t, s, dir, path)
		waitFor(t, s.name+": the stderr event", func() bool { return hasRecord(t, out, "PROCESS_LOG_STDERR", "oops") })
		b, _ := os.ReadFile(filepath.Join(dir, "talker.out"))
		logged[s.name] = string(b)
		rd.stop(t)
		recs := readRecords(t, out)
		checkHeaders(t, s.name, recs)
		for _, r := range recs {
			got[s.name] = append(got[s.name], r.H["eventname"]+" "+pidRe.ReplaceAllString(r.P, "pid:N"))
		}
	}
	if !slices.Equal(got["corral"], got["supervisord"]) {
		t.Errorf("output events:\nsupervisord %q\ncorral      %q", got["supervisord"], got["corral"])
	}
	if logged["corral"] != logged["supervisord"] {
		t.Errorf("stdout log:\nsupervisord %q\ncorral      %q", logged["supervisord"], logged["corral"])
	}
	if !slices.Contains(got["corral"], "PROCESS_COMMUNICATION_STDOUT processname:talker groupname:talker pid:N\nthe message") {
		t.Errorf("no communication event in %q", got["corral"])
	}
}

// TestGroupEventsOnUpdate: `supervisorctl update` after the file dropped
// one program and gained another sends PROCESS_GROUP_REMOVED and
// PROCESS_GROUP_ADDED, with the state events of the stop and the start,
// under supervisord and corral alike.
func TestGroupEventsOnUpdate(t *testing.T) {
	listener := `[eventlistener:groups]
command = /usr/bin/python3 %(here)s/rec.py ok %(here)s/groups.jsonl
events = PROCESS_GROUP, PROCESS_STATE
startsecs = 0
`
	before := "[program:old]\ncommand = sleep 1000.65\nstartsecs = 0\n" + listener
	after := "[program:new]\ncommand = sleep 1000.66\nstartsecs = 0\n" + listener
	type result struct {
		others  []string
		perProc map[string][]string
	}
	got := map[string]result{}
	for _, s := range bothSupervisors(t) {
		dir, path := setupListenerDir(t, before)
		out := filepath.Join(dir, "groups.jsonl")
		rd := startSupervisor(t, s, dir, path)
		waitFor(t, s.name+": old RUNNING", func() bool { return hasRecord(t, out, "PROCESS_STATE_RUNNING", "processname:old") })
		writeTestFile(t, path, listenerConf+after)
		supervisorctlIn(t, path, "update")
		waitFor(t, s.name+": new RUNNING", func() bool { return hasRecord(t, out, "PROCESS_STATE_RUNNING", "processname:new") })
		waitFor(t, s.name+": old removed", func() bool { return hasRecord(t, out, "PROCESS_GROUP_REMOVED", "groupname:old") })
		// What the listener sees of the shutdown that follows depends on
		// supervisord's timing: compare up to here.
		others, perProc := stateSequences(readRecords(t, out), nil)
		rd.stop(t)
		got[s.name] = result{others, perProc}
	}
	want, have := got["supervisord"], got["corral"]
	if !slices.Equal(want.others, have.others) {
		t.Errorf("group events:\nsupervisord %q\ncorral      %q", want.others, have.others)
	}
	for _, p := range []string{"old", "new", "groups"} {
		if !slices.Equal(want.perProc[p], have.perProc[p]) {
			t.Errorf("PROCESS_STATE events of %s:\nsupervisord %q\ncorral      %q", p, want.perProc[p], have.perProc[p])
		}
	}
}
