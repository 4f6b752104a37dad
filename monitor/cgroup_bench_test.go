package monitor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/corralhq/corral/cgroup"
)

// BenchmarkStartCgroup starts N long-running processes (sleep) at once
// (StartEach) and waits until all run (wall time, and CPU time of this
// process: the spawns and cgroup calls, not the children's), without cgroups and with a cgroup
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
			var total, cpu time.Duration
			for range b.N {
				wall, c := startAll(b, n, mode, own)
				total += wall
				cpu += c
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N*n), "µs/process")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*n), "cpu-µs/process")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// startAll times one start of n processes, in wall time and in CPU time
// of this process (user + system); mode "cgroup" makes each leaf at the
// spawn (a first start), "cgroup-existing" finds it made (a restart).
func startAll(b *testing.B, n int, mode, own string) (wall, cpu time.Duration) {
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
	c0, t0 := cpuTime(), time.Now()
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
	wall, cpu = time.Since(t0), cpuTime()-c0
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
	return wall, cpu
}

// BenchmarkRecoverCgroup runs 2N processes in one monitor (sleep,
// restart always, no backoff): N without a cgroup ("plain") and N with a
// cgroup leaf each. Each iteration kills the N of one set at once with
// SIGKILL and times until every one has been spawned again (its
// EventStarting with a new pid), then the same for the other set,
// alternating which goes first, so both see the same machine. It reports
// the wall time and the CPU time of this process (user + system: the
// loop's reaping, cgroup calls and forks; not the children's) per restart,
// and the ratios cgroup / plain. Each killed sleep leaves nothing in its
// cgroup, the common case of a kill storm. N is 1,000, or CORRAL_BENCH_N:
//
//	go test -run '^$' -bench RecoverCgroup -benchtime 5x ./monitor/
func BenchmarkRecoverCgroup(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("CORRAL_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	own, _, err := cgroup.Own()
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	root := filepath.Join(own, fmt.Sprintf("corral-bench.%d", os.Getpid()))
	m, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = m.Shutdown(context.Background())
		if err := cgroup.KillAndRemove(root, time.Minute); err != nil {
			b.Error(err)
		}
	})
	sub, _ := m.Subscribe(16 * n)
	b.Cleanup(sub.Close)
	var names [2][]string // plain, cgroup
	var wall, cpu [2]time.Duration
	for k, prefix := range []string{"plain", "cgroup"} {
		for i := range n {
			name := prefix + strconv.Itoa(i)
			s := Spec{Name: name, Path: "/bin/sleep", Args: []string{"sleep", "3600"},
				Restart: RestartPolicy{Kind: RestartAlways}, Backoff: Backoff{Immediate: true}}
			if k == 1 {
				s.Cgroup = filepath.Join(root, name)
			}
			if err := m.Add(s); err != nil {
				b.Fatal(err)
			}
			names[k] = append(names[k], name)
		}
		for i, err := range m.StartEach(names[k]) {
			if err != nil {
				b.Fatalf("start %s: %v", names[k][i], err)
			}
		}
		waitStarting(b, sub, n)
	}
	for it := range b.N {
		for j := range 2 {
			k := (it + j) % 2
			pids := make([]int, 0, n)
			for _, name := range names[k] {
				info, err := m.Process(name)
				if err != nil || info.Pid == 0 {
					b.Fatalf("%s: no pid (%v)", name, err)
				}
				pids = append(pids, info.Pid)
			}
			b.StartTimer()
			c0, t0 := cpuTime(), time.Now()
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			waitStarting(b, sub, n)
			wall[k] += time.Since(t0)
			cpu[k] += cpuTime() - c0
			b.StopTimer()
		}
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N*n) }
	b.ReportMetric(per(wall[0]), "plain-µs/restart")
	b.ReportMetric(per(wall[1]), "cgroup-µs/restart")
	b.ReportMetric(float64(wall[1])/float64(wall[0]), "wall-ratio")
	b.ReportMetric(per(cpu[0]), "plain-cpu-µs/restart")
	b.ReportMetric(per(cpu[1]), "cgroup-cpu-µs/restart")
	b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "cpu-ratio")
	b.ReportMetric(0, "ns/op")
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitStarting waits for n EventStarting events.
func waitStarting(b *testing.B, sub *Subscription, n int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for started := 0; started < n; {
		e, err := sub.Next(ctx)
		if err != nil {
			b.Fatalf("%d of %d spawned: %v", started, n, err)
		}
		if e.Type == EventStarting {
			started++
		}
	}
}
