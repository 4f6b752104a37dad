package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral/config"
)

// settledGoroutines waits for the goroutine count to stop changing.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// Readiness costs no goroutine and no descriptor per program: 100
// programs with ready = "fd:3", a watchdog and a dependency each hold the
// daemon's goroutines and descriptors where 100 plain programs do.
func TestReadinessCostsNoGoroutineOrDescriptorPerProgram(t *testing.T) {
	const n = 100
	measure := func(extra string) (goroutines, fds int) {
		dir := t.TempDir()
		var b strings.Builder
		b.WriteString("[program.base]\ncommand = \"sleep 1000\"\nstart_secs = \"0s\"\n")
		for i := range n {
			fmt.Fprintf(&b, "[program.p%d]\ncommand = \"sleep 1000\"\nstart_secs = \"0s\"\nstdout = { file = \"NONE\" }\nstderr = { file = \"NONE\" }\n%s\n", i, extra)
		}
		cfg, err := config.Load(writeConfig(t, dir, b.String()))
		if err != nil {
			t.Fatal(err)
		}
		d, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		d.Start()
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), hang)
			defer cancel()
			if err := d.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		}()
		want := "RUNNING"
		if extra != "" {
			want = "STARTING"
		}
		for i := range n {
			waitState(t, d, fmt.Sprintf("p%d", i), want)
		}
		return settledGoroutines(), openFDs(t)
	}
	plainG, plainFD := measure("")
	readyG, readyFD := measure("ready = \"fd:3\"\nwatchdog = \"1h\"\nready_timeout = \"1h\"\nrequires = [\"base:started\"]")
	t.Logf("%d programs: goroutines %d plain, %d with readiness; descriptors %d plain, %d with readiness", n, plainG, readyG, plainFD, readyFD)
	// Each daemon is shut down before the next is measured. A few
	// goroutines and descriptors come and go (API-less here: the pump's
	// timers, a spawn in flight): a per-program cost would be 100.
	if readyG > plainG+5 || readyFD > plainFD+5 {
		t.Fatalf("readiness grows with programs: goroutines %d -> %d, descriptors %d -> %d", plainG, readyG, plainFD, readyFD)
	}
}
