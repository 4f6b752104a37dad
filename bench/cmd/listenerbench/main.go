// Command listenerbench measures supervisord event listeners under load:
// N programs are started all at once, then stopped all at once, through
// XML-RPC (startProcessGroup, stopProcessGroup of the group holding them), while one listener written
// against Debian's python3-supervisor (childutils) subscribed to
// PROCESS_STATE records every event. It runs supervisord and `corral
// supervisord` one after the other with the same configuration and prints
// a markdown table: the time from each call until the listener has seen
// every STARTING+RUNNING (resp. STOPPING+STOPPED) event of the N programs,
// events per second, events lost, and for corral its goroutines and
// threads (from its /metrics) with N programs and with 10.
//
// Usage (from the module root, as root):
//
//	go run ./bench/cmd/listenerbench -n 1000
//
// -buffer sets the pool's buffer_size (default 10000, so that nothing is
// discarded; with supervisord's default of 10 both lose events under a
// burst: run -buffer 10 to see how many). The harness kills every process
// it started (by pid and process group) and never kills by name.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const listenerPy = `import sys
from supervisor import childutils
out = open(sys.argv[1], 'a', buffering=1)
while True:
    h, p = childutils.listener.wait(sys.stdin, sys.stdout)
    out.write(h['eventname'] + ' ' + p.split(' ', 1)[0] + '\n')
    childutils.listener.ok(sys.stdout)
`

const rpcPy = `import sys, xmlrpc.client
from supervisor.xmlrpc import SupervisorTransport
p = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, "unix://" + sys.argv[1]))
getattr(p.supervisor, sys.argv[2])("b", False)
`

type result struct {
	subject                  string
	start, stop              time.Duration
	startEvents, stopEvents  int
	lost                     int
	goroutines, threads      string
	smallGoroutines, smallTh string
	err                      error
}

func main() {
	n := flag.Int("n", 1000, "programs")
	buffer := flag.Int("buffer", 10000, "the listener pool's buffer_size")
	timeout := flag.Duration("timeout", 300*time.Second, "limit for each phase")
	keep := flag.Bool("keep", false, "keep the temporary directory")
	flag.Parse()
	root, err := os.MkdirTemp("", "listenerbench")
	if err != nil {
		fail(err)
	}
	if !*keep {
		defer os.RemoveAll(root)
	}
	corral := filepath.Join(root, "corral")
	if out, err := exec.Command("go", "build", "-o", corral, "./cmd/corral").CombinedOutput(); err != nil {
		fail(fmt.Errorf("go build: %v\n%s", err, out))
	}
	supervisord, err := exec.LookPath("supervisord")
	if err != nil {
		fail(fmt.Errorf("supervisord (Debian package supervisor) is needed: %w", err))
	}
	var results []result
	for _, s := range []struct {
		name string
		argv []string
	}{
		{"supervisord", []string{supervisord, "-n", "-c"}},
		{"corral", []string{corral, "supervisord", "-n", "-c"}},
	} {
		r := run(filepath.Join(root, "run-"+s.name), s.name, s.argv, *n, *buffer, *timeout)
		if s.name == "corral" && r.err == nil {
			small := run(filepath.Join(root, "run-"+s.name+"-small"), s.name, s.argv, 10, *buffer, *timeout)
			r.smallGoroutines, r.smallTh = small.goroutines, small.threads
		}
		results = append(results, r)
	}
	fmt.Printf("N = %d programs, listener buffer_size = %d, %d events expected per phase\n\n", *n, *buffer, 2**n)
	fmt.Println("| subject | start all: until the listener saw every STARTING+RUNNING | events/s | stop all: until it saw every STOPPING+STOPPED | events/s | events lost | goroutines / threads at N (at 10) |")
	fmt.Println("|---|---|---|---|---|---|---|")
	var base result
	for _, r := range results {
		if r.err != nil {
			fmt.Printf("| %s | failed: %v | | | | | |\n", r.subject, r.err)
			continue
		}
		ratio := ""
		if r.subject == "supervisord" {
			base = r
		} else if base.start > 0 {
			ratio = fmt.Sprintf(" (%.2fx supervisord)", r.start.Seconds()/base.start.Seconds())
		}
		sratio := ""
		if r.subject != "supervisord" && base.stop > 0 {
			sratio = fmt.Sprintf(" (%.2fx supervisord)", r.stop.Seconds()/base.stop.Seconds())
		}
		conc := "-"
		if r.goroutines != "" {
			conc = fmt.Sprintf("%s / %s (%s / %s)", r.goroutines, r.threads, r.smallGoroutines, r.smallTh)
		}
		fmt.Printf("| %s | %.2f s%s | %.0f | %.2f s%s | %.0f | %d | %s |\n", r.subject,
			r.start.Seconds(), ratio, float64(r.startEvents)/r.start.Seconds(),
			r.stop.Seconds(), sratio, float64(r.stopEvents)/r.stop.Seconds(), r.lost, conc)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "listenerbench:", err)
	os.Exit(1)
}

func run(dir, subject string, argv []string, n, buffer int, timeout time.Duration) (r result) {
	r.subject = subject
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.err = err
		return r
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, `[supervisord]
nodaemon = true
logfile = %%(here)s/daemon.log
pidfile = %%(here)s/daemon.pid
childlogdir = %%(here)s
minfds = %d
[unix_http_server]
file = %%(here)s/s.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[eventlistener:count]
command = /usr/bin/python3 %%(here)s/listener.py %%(here)s/events.txt
events = PROCESS_STATE
buffer_size = %d
startsecs = 0
`, 4*n+1024, buffer)
	token := strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	for i := range n {
		fmt.Fprintf(&conf, "[program:b%05d]\ncommand = sleep 86400.%s\nautostart = false\nstartsecs = 0\nstdout_logfile = NONE\nredirect_stderr = true\n", i, token)
	}
	// One group, so the calls start and stop the programs, not the listener.
	conf.WriteString("[group:b]\nprograms = ")
	for i := range n {
		if i > 0 {
			conf.WriteString(",")
		}
		fmt.Fprintf(&conf, "b%05d", i)
	}
	conf.WriteString("\n")
	path := filepath.Join(dir, "supervisord.conf")
	for f, data := range map[string]string{path: conf.String(), filepath.Join(dir, "listener.py"): listenerPy, filepath.Join(dir, "rpc.py"): rpcPy} {
		if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
			r.err = err
			return r
		}
	}
	cmd := exec.Command(argv[0], append(argv[1:], path)...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.err = err
		return r
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		killToken(token)
	}()
	sock := filepath.Join(dir, "s.sock")
	events := filepath.Join(dir, "events.txt")
	// The listener is up once it saw its own RUNNING.
	if err := waitCount(events, "PROCESS_STATE_RUNNING processname:count", 1, timeout); err != nil {
		r.err = fmt.Errorf("listener: %w", err)
		return r
	}
	call := func(method string) error {
		out, err := exec.Command("/usr/bin/python3", filepath.Join(dir, "rpc.py"), sock, method).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", method, err, out)
		}
		return nil
	}
	t0 := time.Now()
	if err := call("startProcessGroup"); err != nil {
		r.err = err
		return r
	}
	if err := waitCount(events, "PROCESS_STATE_RUNNING processname:b", n, timeout); err != nil {
		r.err = fmt.Errorf("start: %w", err)
		return r
	}
	r.start = time.Since(t0)
	r.startEvents = count(events, "PROCESS_STATE_STARTING processname:b") + count(events, "PROCESS_STATE_RUNNING processname:b")
	if subject == "corral" {
		r.goroutines, r.threads = concurrency(sock, cmd.Process.Pid)
	}
	t0 = time.Now()
	if err := call("stopProcessGroup"); err != nil {
		r.err = err
		return r
	}
	if err := waitCount(events, "PROCESS_STATE_STOPPED processname:b", n, timeout); err != nil {
		r.err = fmt.Errorf("stop: %w", err)
		return r
	}
	r.stop = time.Since(t0)
	r.stopEvents = count(events, "PROCESS_STATE_STOPPING processname:b") + count(events, "PROCESS_STATE_STOPPED processname:b")
	r.lost = 4*n - r.startEvents - r.stopEvents
	return r
}

// count returns the lines of file that start with prefix.
func count(file, prefix string) int {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			n++
		}
	}
	return n
}

func waitCount(file, prefix string, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for count(file, prefix) < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d %q after %v", count(file, prefix), want, prefix, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// concurrency reads go_goroutines from corral's /metrics and the threads
// of its process.
func concurrency(sock string, pid int) (goroutines, threads string) {
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	goroutines, threads = "?", "?"
	if resp, err := c.Get("http://corral/metrics"); err == nil {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
				goroutines = v
			}
		}
		resp.Body.Close()
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Threads:"); ok {
				threads = strings.TrimSpace(v)
			}
		}
	}
	return goroutines, threads
}

// killToken kills the programs of this run (argv "sleep 86400.TOKEN"),
// found by exact argv, never by name alone.
func killToken(token string) {
	ents, _ := os.ReadDir("/proc")
	want := "sleep\x0086400." + token + "\x00"
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && string(b) == want {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
