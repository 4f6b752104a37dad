package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral/health"
)

// acceptor listens on a local port and closes what it accepts: the target
// of TCP health probes.
func acceptor(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// freePort returns a local address nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func probedPrograms(n int, target string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "[program.p%05d]\ncommand = \"sleep 100000\"\nstart_secs = \"0s\"\nstdout = { file = \"NONE\" }\nstderr = { redirect = true }\n", i)
		fmt.Fprintf(&b, "health = { tcp = %q, interval = \"2s\", start_interval = \"2s\" }\n", target)
	}
	return b.String()
}

// waitHealthy polls the daemon until n processes are healthy.
func (td *testDaemon) waitHealthy(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(hang + time.Duration(n)*30*time.Millisecond)
	healthy := 0
	for time.Now().Before(deadline) {
		sts, err := td.client.Status(context.Background())
		if err == nil {
			healthy = 0
			for _, st := range sts {
				if st.Health == "healthy" {
					healthy++
				}
			}
			if healthy == n {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%d of %d processes healthy", healthy, n)
}

// TestGoroutinesDoNotGrowWithHealthProbes is
// TestGoroutinesAndThreadsDoNotGrowWithPrograms with a health probe per
// program: 10 and 1,000 probed programs, the same goroutines, and threads
// within the same allowance plus one per probe worker.
func TestGoroutinesDoNotGrowWithHealthProbes(t *testing.T) {
	// The allowance of TestGoroutinesAndThreadsDoNotGrowWithPrograms (the
	// runtime's parked Ms after a burst of spawns) plus the probe workers:
	// each may be in a connect or close that a loaded machine makes slow,
	// and the runtime then starts another M. Under a load average of 250
	// one run in five read 18 at 1,000 (11 at 10). A constant (the workers
	// are fixed in Options), not a count of programs.
	const maxIdleThreads = 6 + health.DefaultWorkers
	target := acceptor(t)
	measure := func(n int) (goroutines, threads float64) {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			td := startTestDaemon(t, probedPrograms(n, target))
			td.waitRunning(t, n)
			td.waitHealthy(t, n)
			goroutines, threads = td.steadyConcurrency(t)
			t.Logf("%5d programs with a TCP probe every 2s: %v goroutines, %v threads", n, goroutines, threads)
		})
		if t.Failed() {
			t.FailNow()
		}
		return goroutines, threads
	}
	g10, th10 := measure(10)
	g1k, th1k := measure(1000)
	if g1k > g10 {
		t.Errorf("goroutines: %v with 10 probed programs, %v with 1,000", g10, g1k)
	}
	if th1k > th10+maxIdleThreads || th1k > 16+health.DefaultWorkers {
		t.Errorf("threads: %v with 10 probed programs, %v with 1,000 (allowed: +%d, at most %d)", th10, th1k, maxIdleThreads, 16+health.DefaultWorkers)
	}
}

// TestHealthListenAndStatusColumn runs the daemon with health_listen and a
// program with an HTTP health check: /readyz follows it, the API and
// metrics are not served there, and `corral status` shows HEALTH.
func TestHealthListenAndStatusColumn(t *testing.T) {
	var up = make(chan bool, 1)
	up <- false
	web := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := <-up
		up <- ok
		if !ok {
			w.WriteHeader(503)
		}
	})}
	wl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = web.Serve(wl) }()
	t.Cleanup(func() { web.Close() })
	addr := freePort(t)
	td := startTestDaemon(t, fmt.Sprintf("health_listen = %q\n\n[program.web]\ncommand = \"sleep 100000\"\nstart_secs = \"0s\"\n"+
		"[program.web.health]\nhttp = \"http://%s/healthz\"\ninterval = \"50ms\"\nretries = 1\non_unhealthy = \"ignore\"\n", addr, wl.Addr()))
	td.waitRunning(t, 1)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, "/readyz 503 while web is unhealthy", func() bool {
		code, body := get("/readyz?verbose")
		return code == 503 && strings.Contains(body, `"status": "unhealthy"`)
	})
	if code, body := get("/livez"); code != 200 {
		t.Errorf("/livez: %d %s", code, body)
	}
	for _, p := range []string{"/v1/processes", "/metrics", "/RPC2", "/"} {
		if code, _ := get(p); code != 404 {
			t.Errorf("health_listen serves %s: %d, want 404", p, code)
		}
	}
	<-up
	up <- true
	waitFor(t, "/readyz 200 once web is healthy", func() bool {
		code, _ := get("/readyz")
		return code == 200
	})
	fams := td.metrics(t)
	if v := gauge(t, fams, "corral_process_health", "process", "web", "status", "healthy"); v != 1 {
		t.Errorf("corral_process_health{web,healthy} = %v, want 1", v)
	}
	if v := gauge(t, fams, "corral_process_health", "process", "web", "status", "unhealthy"); v != 0 {
		t.Errorf("corral_process_health{web,unhealthy} = %v, want 0", v)
	}
	out, err := runCLI(td, "status")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(out), "\n")
	if f := strings.Fields(lines[0]); len(f) < 3 || f[2] != "HEALTH" {
		t.Errorf("status header %q: want HEALTH third", lines[0])
	}
	if f := strings.Fields(lines[1]); len(f) < 3 || f[0] != "web" || f[2] != "healthy" {
		t.Errorf("status line %q: want web ... healthy", lines[1])
	}
	out, err = runCLI(td, "inspect", "web")
	if err != nil || !strings.Contains(string(out), `"http_status": 200`) {
		t.Errorf("inspect web: %v\n%s", err, out)
	}
}
