package monitor

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

// The spawn-and-reap benchmarks run batches of 100 concurrent /bin/true
// processes three ways, so their ratios come from the same run:
//   - monitor: through a Monitor (spawn on the loop, SIGCHLD, wait4(-1));
//   - goroutine-per-child: exec.Cmd.Start plus one goroutine blocked in Wait;
//   - raw: syscall.ForkExec and a blocking wait4(-1) loop, the floor.
const batch = 100

func BenchmarkSpawnReap(b *testing.B) {
	b.Run("monitor", func(b *testing.B) {
		m, err := New(Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		sub, _ := m.Subscribe(4 * batch)
		for i := range batch {
			_ = m.Add(Spec{Name: fmt.Sprint(i), Path: "/bin/true"})
		}
		b.ResetTimer()
		for done := 0; done < b.N; done += batch {
			for i := range batch {
				if err := m.Start(fmt.Sprint(i)); err != nil {
					b.Fatal(err)
				}
			}
			for n := 0; n < batch; {
				e, err := sub.Next(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if e.Type == EventExited {
					n++
				}
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "procs/s")
	})
	b.Run("goroutine-per-child", func(b *testing.B) {
		for done := 0; done < b.N; done += batch {
			errs := make(chan error, batch)
			for range batch {
				c := exec.Command("/bin/true")
				if err := c.Start(); err != nil {
					b.Fatal(err)
				}
				go func() { errs <- c.Wait() }()
			}
			for range batch {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "procs/s")
	})
	b.Run("raw", func(b *testing.B) {
		attr := &syscall.ProcAttr{Files: []uintptr{0, 1, 2}}
		for done := 0; done < b.N; done += batch {
			for range batch {
				if _, err := syscall.ForkExec("/bin/true", []string{"true"}, attr); err != nil {
					b.Fatal(err)
				}
			}
			for range batch {
				var ws syscall.WaitStatus
				if _, err := syscall.Wait4(-1, &ws, 0, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "procs/s")
	})
}

// BenchmarkExitToEvent measures the time from SIGKILL of one of 10,000 idle
// children to its EventExited reaching a subscriber, and the monitor's heap
// per supervised process.
func BenchmarkExitToEvent(b *testing.B) {
	const idle = 10000
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	sub, _ := m.Subscribe(4 * idle)
	for i := range idle {
		name := fmt.Sprintf("idle%05d", i)
		_ = m.Add(Spec{Name: name, Path: "/bin/sleep", Args: []string{"sleep", "3600"}, Restart: RestartPolicy{Kind: RestartAlways}})
		if err := m.Start(name); err != nil {
			b.Fatal(err)
		}
	}
	for n := 0; n < idle; {
		e, _ := sub.Next(context.Background())
		if e.Type == EventRunning {
			n++
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	perProc := float64(after.HeapInuse-before.HeapInuse) / idle

	procs, _, _ := m.Snapshot()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := procs[i%idle]
		info, _ := m.Process(p.Name)
		t0 := time.Now()
		_ = syscall.Kill(info.Pid, syscall.SIGKILL)
		for {
			e, _ := sub.Next(context.Background())
			if e.Type == EventExited && e.Name == p.Name {
				break
			}
		}
		lat = append(lat, time.Since(t0))
		// Wait for its restart so the next round finds it running.
		for {
			e, _ := sub.Next(context.Background())
			if e.Name == p.Name && (e.Type == EventRunning || e.Type == EventStarting) {
				break
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(perProc, "heap-B/proc")
}

// BenchmarkExitToWaitRaw is the floor for BenchmarkExitToEvent: 10,000 idle
// children forked directly, one killed per iteration and its exit taken by a
// blocking wait4, with no monitor in between.
func BenchmarkExitToWaitRaw(b *testing.B) {
	const idle = 10000
	attr := &syscall.ProcAttr{Files: []uintptr{0, 1, 2}}
	pids := make([]int, idle)
	for i := range pids {
		pid, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "3600"}, attr)
		if err != nil {
			b.Fatal(err)
		}
		pids[i] = pid
	}
	defer func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			_, _ = syscall.Wait4(pid, nil, 0, nil)
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % idle
		t0 := time.Now()
		_ = syscall.Kill(pids[j], syscall.SIGKILL)
		if _, err := syscall.Wait4(pids[j], nil, 0, nil); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		pid, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "3600"}, attr)
		if err != nil {
			b.Fatal(err)
		}
		pids[j] = pid
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
