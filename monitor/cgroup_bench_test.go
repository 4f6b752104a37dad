package monitor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/corralhq/corral/cgroup"
)

// BenchmarkStartCgroup starts N long-running processes (sleep) at once
// (StartEach) and waits until all run, without cgroups and with a cgroup
// leaf per process (CLONE_INTO_CGROUP; the leaf made at the spawn, or
// made before as for a restart), in the same run; then stops them (not timed) and removes the cgroups. N is 1,000, or
// CORRAL_BENCH_N (10,000 by hand):
//
//	go test -run '^$' -bench StartCgroup -benchtime 3x ./monitor/
//	CORRAL_BENCH_N=10000 go test -run '^$' -bench StartCgroup -benchtime 1x -timeout 30m ./monitor/
func BenchmarkStartCgroup(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("CORRAL_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	own, _, err := cgroup.Own()
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"plain", "cgroup", "cgroup-existing"} {
		b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) {
			var total time.Duration
			for range b.N {
				total += startAll(b, n, mode, own)
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N*n), "µs/process")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// startAll times one start of n processes; mode "cgroup" makes each leaf
// at the spawn (a first start), "cgroup-existing" finds it made (a restart).
func startAll(b *testing.B, n int, mode, own string) time.Duration {
	withCgroup := mode != "plain"
	b.StopTimer()
	m, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	root := filepath.Join(own, fmt.Sprintf("corral-bench.%d", os.Getpid()))
	names := make([]string, n)
	for i := range names {
		names[i] = "p" + strconv.Itoa(i)
		s := Spec{Name: names[i], Path: "/bin/sleep", Args: []string{"sleep", "3600"}}
		if withCgroup {
			s.Cgroup = filepath.Join(root, names[i])
			if mode == "cgroup-existing" {
				if err := cgroup.Make(s.Cgroup); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := m.Add(s); err != nil {
			b.Fatal(err)
		}
	}
	sub, _ := m.Subscribe(2 * n)
	b.StartTimer()
	t0 := time.Now()
	for i, err := range m.StartEach(names) {
		if err != nil {
			b.Fatalf("start %s: %v", names[i], err)
		}
	}
	for running := 0; running < n; {
		e, err := sub.Next(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if e.Type == EventRunning {
			running++
		}
	}
	d := time.Since(t0)
	b.StopTimer()
	sub.Close()
	if err := m.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	if withCgroup {
		if err := cgroup.KillAndRemove(root, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	b.StartTimer()
	return d
}
