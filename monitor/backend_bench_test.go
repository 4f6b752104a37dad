package monitor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkBackends1000 compares, in one run, the two backends and a
// goroutine-per-child os/exec supervisor at 1,000 concurrent children. One
// iteration spawns 1,000 `cat` processes that share the read end of one
// pipe, so all are alive at once; it then closes the write end, and every
// cat exits on EOF and is reaped. Reported: children spawned and reaped per
// second, and the OS threads of the process while the 1,000 children run
// (sampled after a 100 ms settle outside the timer).
func BenchmarkBackends1000(b *testing.B) {
	const n = 1000
	sample := func(b *testing.B, peak *int) {
		b.StopTimer()
		time.Sleep(100 * time.Millisecond)
		*peak = max(*peak, threads(b))
		b.StartTimer()
	}
	for _, be := range []struct {
		name    string
		backend Backend
	}{{"reaper", BackendReaper}, {"pidfd", BackendPidfd}} {
		b.Run(be.name, func(b *testing.B) {
			m, err := New(Options{Backend: be.backend})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			var stdin *os.File // the current round's read end; set before StartEach
			names := make([]string, n)
			for i := range names {
				names[i] = fmt.Sprint("cat", i)
				err := m.Add(Spec{Name: names[i], Path: "/bin/cat", Stdio: func() (*os.File, *os.File, *os.File, error) {
					f, err := dupFile(stdin)
					return f, nil, nil, err
				}})
				if err != nil {
					b.Fatal(err)
				}
			}
			sub, _ := m.Subscribe(8 * n)
			defer sub.Close()
			peak := 0
			b.ResetTimer()
			for range b.N {
				r, w, err := os.Pipe()
				if err != nil {
					b.Fatal(err)
				}
				stdin = r
				for _, err := range m.StartEach(names) {
					if err != nil {
						b.Fatal(err)
					}
				}
				sample(b, &peak)
				w.Close()
				for got := 0; got < n; {
					e, err := sub.Next(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					if e.Type == EventExited {
						got++
					}
				}
				r.Close()
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "children/s")
			b.ReportMetric(float64(peak), "threads")
		})
	}
	b.Run("goroutine-per-child", func(b *testing.B) {
		peak := 0
		for range b.N {
			r, w, err := os.Pipe()
			if err != nil {
				b.Fatal(err)
			}
			errs := make(chan error, n)
			for range n {
				c := exec.Command("/bin/cat")
				c.Stdin = r
				if err := c.Start(); err != nil {
					b.Fatal(err)
				}
				go func() { errs <- c.Wait() }()
			}
			sample(b, &peak)
			w.Close()
			for range n {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			r.Close()
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "children/s")
		b.ReportMetric(float64(peak), "threads")
	})
}

// dupFile returns a new *os.File for the same open file.
func dupFile(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var nf *os.File
	var derr error
	if err := rc.Control(func(fd uintptr) {
		var nfd int
		nfd, derr = dupCloexec(int(fd))
		if derr == nil {
			nf = os.NewFile(uintptr(nfd), f.Name())
		}
	}); err != nil {
		return nil, err
	}
	return nf, derr
}

func dupCloexec(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }
