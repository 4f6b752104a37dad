package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corralhq/corral/config"
)

// BenchmarkDaemonHeapPerProgram starts a daemon with 1,000 sleep programs,
// logs on, and reports its Go heap per program once all run (live heap after
// GC; the daemon's PSS is measured by bench/cmd/corralbench).
func BenchmarkDaemonHeapPerProgram(b *testing.B) {
	const n = 1000
	for range b.N {
		cfg := benchConfig(b, n, "[program.p%04d]\ncommand = [\"/bin/sleep\", \"3600\"]\nrestart = \"always\"\nstart_secs = \"0s\"\nstdout = { file = \"AUTO\" }\n")
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		d, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		d.Start()
		for {
			sts, _ := d.Status()
			running := 0
			for _, s := range sts {
				if s.State == "RUNNING" {
					running++
				}
			}
			if running == n {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/program")
		if f := os.Getenv("CORRAL_HEAP_PROFILE"); f != "" {
			// A profile of the heap while all programs run, for pprof.
			out, err := os.Create(f)
			if err == nil {
				_ = pprof.WriteHeapProfile(out)
				out.Close()
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_ = d.Shutdown(ctx)
		cancel()
	}
}

// BenchmarkDaemonNew1000 measures daemon.New with corralbench's 1,000
// programs (logs on, cgroups as the environment gives them): everything a
// start does between the configuration and the first fork.
//
// It also reports the process's CPU time (user and system, every thread)
// per New, cpu-ms/op: on a shared machine wall time says more about the
// neighbours than about New.
func BenchmarkDaemonNew1000(b *testing.B) {
	const n = 1000
	var cpu time.Duration
	defer func() { b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op") }()
	for range b.N {
		b.StopTimer()
		cfg := benchConfig(b, n, "[program.p%04d]\ncommand = [\"/bin/sleep\", \"3600\"]\nrestart = \"always\"\nstdout = { file = \"AUTO\" }\nstderr = { redirect = true }\n")
		b.StartTimer()
		cpu0 := processCPU()
		d, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - cpu0
		b.StopTimer()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := d.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		b.StartTimer()
	}
}

// processCPU is the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchConfig loads a configuration of n programs, program being one
// program's table with %04d for its number, whose socket, state and logs
// are in a temporary directory.
func benchConfig(b *testing.B, n int, program string) *config.Config {
	b.Helper()
	dir := b.TempDir()
	var sb strings.Builder
	fmt.Fprintf(&sb, "[daemon]\nsocket = %q\nstate_dir = %q\nlog_dir = %q\n", dir+"/sock", dir+"/state", dir+"/logs")
	for i := range n {
		fmt.Fprintf(&sb, program, i)
	}
	path := filepath.Join(dir, "corral.toml")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}
