package health

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/corralhq/corral/monitor"
)

// serverEnv makes the test binary an HTTP server (for the benchmarks: the
// probes' target must not add goroutines to the process measured).
const serverEnv = "CORRAL_HEALTH_BENCH_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) != "" {
		f := os.NewFile(3, "listener")
		ln, err := net.FileListener(f)
		if err != nil {
			os.Exit(2)
		}
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchServer starts an HTTP server in a child process and returns its
// address. It is started with os/exec before any monitor runs, and waited
// for with os/exec after the monitors are gone.
func benchServer(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), serverEnv+"=1")
	cmd.ExtraFiles = []*os.File{f}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	serverCmd = cmd
	return addr
}

var serverCmd *exec.Cmd

// usage samples the peak goroutines and threads while a run lasts, and
// measures the process's CPU time over it.
type usage struct {
	stop                chan struct{}
	done                chan struct{}
	goroutines, threads int
	cpu0                time.Duration
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func threadCount() int {
	b, _ := os.ReadFile("/proc/self/status")
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

func startUsage() *usage {
	u := &usage{stop: make(chan struct{}), done: make(chan struct{}), cpu0: cpuTime()}
	go func() {
		defer close(u.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			u.goroutines = max(u.goroutines, runtime.NumGoroutine()-1) // not this one
			u.threads = max(u.threads, threadCount())
			select {
			case <-u.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return u
}

// report records the figures; failed probes are a figure too (a model
// that times out under load is a result, not a broken benchmark).
func (u *usage) report(b *testing.B, probes int, failed int) {
	cpu := cpuTime() - u.cpu0
	close(u.stop)
	<-u.done
	b.ReportMetric(float64(cpu.Milliseconds())/(float64(probes)/1000), "cpu-ms/1k-probes")
	b.ReportMetric(float64(u.goroutines), "peak-goroutines")
	b.ReportMetric(float64(u.threads), "peak-threads")
	b.ReportMetric(float64(failed), "failed-probes")
	b.ReportMetric(0, "ns/op") // wall time per probe depends on the interval, not the cost
}

const benchPrograms = 1000

// BenchmarkProbes runs 1,000 programs with a probe each (every 200ms for
// HTTP and TCP, every second for exec: /bin/true, or a 0.5s sleep so that
// about 500 are in flight at once) until b.N probes have completed,
// with corral's Checker and with Docker's and pebble's model (a goroutine
// per check, blocking in the probe: os/exec's Run for exec), and reports
// CPU per 1,000 probes and the peak goroutines and threads.
//
//	go test -run '^$' -bench Probes -benchtime 5000x ./health/
func BenchmarkProbes(b *testing.B) {
	addr := benchServer(b)
	defer func() { _ = serverCmd.Process.Kill(); _ = serverCmd.Wait() }()
	probe := func(kind string) *Probe {
		p := &Probe{Interval: 200 * time.Millisecond, Timeout: 10 * time.Second, StartInterval: time.Second, Retries: 3}
		switch kind {
		case "http":
			p.HTTP = "http://" + addr + "/"
		case "tcp":
			p.TCP = addr
		case "exec":
			p.Exec = &monitor.Spec{Path: "/bin/true"}
			p.Interval = time.Second
		case "exec-slow": // half a second in flight: ~500 probes at once
			p.Exec = &monitor.Spec{Path: "/bin/sleep", Args: []string{"sleep", "0.5"}}
			p.Interval = time.Second
		}
		return p
	}
	for _, kind := range []string{"tcp", "http", "exec", "exec-slow"} {
		b.Run("corral/"+kind, func(b *testing.B) { benchChecker(b, probe(kind)) })
		b.Run("goroutine-per-check/"+kind, func(b *testing.B) { benchGoroutinePerCheck(b, probe(kind)) })
	}
}

func benchChecker(b *testing.B, p *Probe) {
	var m *monitor.Monitor
	if p.Exec != nil {
		var err error
		if m, err = monitor.New(monitor.Options{}); err != nil {
			b.Fatal(err)
		}
		defer m.Close()
	}
	c := New(Options{Monitor: m})
	defer c.Close()
	runtime.GC()
	b.ResetTimer()
	u := startUsage()
	start := time.Now()
	for i := range benchPrograms {
		name := "p" + strconv.Itoa(i)
		c.Set(name, p)
		// Spread the first probes over an interval, as spawns would be.
		c.Spawned(name, 0, start.Add(-p.Interval+time.Duration(i)*p.Interval/benchPrograms))
	}
	for c.Probes() < uint64(b.N) {
		time.Sleep(5 * time.Millisecond)
	}
	u.report(b, b.N, int(c.Failures()))
	b.StopTimer()
}

// benchGoroutinePerCheck is the model of Docker's health checks and
// pebble's checks: each check its own goroutine with a ticker, blocking in
// its probe.
func benchGoroutinePerCheck(b *testing.B, p *Probe) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var done, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	runtime.GC()
	b.ResetTimer()
	u := startUsage()
	for i := range benchPrograms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * p.Interval / benchPrograms)
			tick := time.NewTicker(p.Interval)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				ctx, cancel := context.WithTimeout(context.Background(), p.Timeout)
				var err error
				switch {
				case p.Exec != nil:
					args := p.Exec.Args
					if len(args) > 0 {
						args = args[1:]
					}
					err = exec.CommandContext(ctx, p.Exec.Path, args...).Run()
				case p.HTTP != "":
					var req *http.Request
					req, _ = http.NewRequestWithContext(ctx, "GET", p.HTTP, nil)
					var resp *http.Response
					if resp, err = client.Do(req); err == nil {
						resp.Body.Close()
					}
				default:
					var conn net.Conn
					if conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", p.TCP); err == nil {
						conn.Close()
					}
				}
				cancel()
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
				done.Add(1)
			}
		}()
	}
	for done.Load() < int64(b.N) {
		time.Sleep(5 * time.Millisecond)
	}
	u.report(b, b.N, int(failed.Load()))
	b.StopTimer()
	close(stop)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Logf("%d probes failed, the first with %v", n, firstErr.Load())
	}
}
