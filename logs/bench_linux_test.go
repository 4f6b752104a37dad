package logs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkCaptureThroughput copies the same 64 MiB, written by `cat src`
// into a pipe, into a log file through the capture (default rotation) and,
// as the baseline, through `cat src | cat > dst`. Each iteration runs both,
// alternately, so that both see the same machine load; it reports the MB/s
// of each, their ratio, and the capture's CPU per MB (this whole process,
// whose only busy goroutine is the capture's).
func BenchmarkCaptureThroughput(b *testing.B) {
	const size = 64 << 20
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, pattern(size, 5), 0o644); err != nil {
		b.Fatal(err)
	}
	c := newCapture(b, Options{})
	var captureTime, catTime time.Duration
	var cpu float64
	b.SetBytes(2 * size)
	for i := 0; b.Loop(); i++ {
		// Capture.
		path := filepath.Join(dir, fmt.Sprintf("capture-%d.log", i))
		s, err := c.OpenStream(StreamConfig{Path: path})
		if err != nil {
			b.Fatal(err)
		}
		start, before := time.Now(), rusageSelf(b)
		w, done, err := s.NewPipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command("cat", src)
		cmd.Stdout = w
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		w.Close()
		<-done
		captureTime += time.Since(start)
		cpu += rusageSelf(b) - before
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		if st := s.Stats(); st.Written != size {
			b.Fatalf("wrote %d bytes, want %d", st.Written, size)
		}
		s.Close()
		removeLogs(b, path)

		// Baseline.
		path = filepath.Join(dir, fmt.Sprintf("cat-%d.log", i))
		start = time.Now()
		cmd = exec.Command("/bin/sh", "-c", `cat "$1" | cat > "$2"`, "sh", src, path)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		catTime += time.Since(start)
		removeLogs(b, path)
	}
	mb := float64(b.N) * size / (1 << 20)
	b.ReportMetric(mb/captureTime.Seconds(), "capture-MB/s")
	b.ReportMetric(mb/catTime.Seconds(), "cat-MB/s")
	b.ReportMetric(catTime.Seconds()/captureTime.Seconds(), "capture/cat-speed")
	b.ReportMetric(cpu*1000/mb, "capture-cpu-ms/MB")
}

// BenchmarkCapture1000Programs measures the capture's CPU per MB while 1,000
// programs write 128 KiB each at once, into files that never rotate (the
// default 50 MiB) or rotate every 64 KiB (two rotations per program). The
// programs are spawned and wait at a gate outside the timed part; cpu-ms/MB
// is this process's CPU time from opening the gate until every pipe is done.
func BenchmarkCapture1000Programs(b *testing.B) {
	for _, bc := range []struct {
		name     string
		maxBytes int64
	}{
		{"rotate=50MiB", 0},
		{"rotate=64KiB", 64 << 10},
	} {
		b.Run(bc.name, func(b *testing.B) { bench1000(b, bc.maxBytes) })
	}
}

func bench1000(b *testing.B, maxBytes int64) {
	const programs, each = 1000, 128 << 10
	c := newCapture(b, Options{})
	dir := b.TempDir()
	b.SetBytes(programs * each)
	var cpu float64
	for b.Loop() {
		b.StopTimer()
		gateR, gateW, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		var dones []<-chan struct{}
		var cmds []*exec.Cmd
		var streams []*Stream
		for i := range programs {
			s, err := c.OpenStream(StreamConfig{Path: filepath.Join(dir, fmt.Sprintf("p%d.log", i)), MaxBytes: maxBytes, Backups: 2})
			if err != nil {
				b.Fatal(err)
			}
			w, done, err := s.NewPipe()
			if err != nil {
				b.Fatal(err)
			}
			cmd := exec.Command("/bin/sh", "-c", fmt.Sprintf("read x; exec head -c %d /dev/zero", each))
			cmd.Stdin, cmd.Stdout, cmd.Stderr = gateR, w, w
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			w.Close()
			dones = append(dones, done)
			cmds = append(cmds, cmd)
			streams = append(streams, s)
		}
		gateR.Close()
		before := rusageSelf(b)
		b.StartTimer()
		gateW.Close()
		for _, done := range dones {
			<-done
		}
		b.StopTimer()
		cpu += rusageSelf(b) - before
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				b.Fatal(err)
			}
			if st := streams[i].Stats(); st.Written != each {
				b.Fatalf("program %d: wrote %d bytes, want %d", i, st.Written, each)
			}
			streams[i].Close()
			removeLogs(b, streams[i].Path())
		}
		b.StartTimer()
	}
	b.ReportMetric(cpu*1000/float64(b.N)/(programs*each>>20), "cpu-ms/MB")
}

// rusageSelf returns this process's user+system CPU seconds.
func rusageSelf(b testing.TB) float64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func removeLogs(b testing.TB, path string) {
	for _, name := range []string{path, path + ".1", path + ".2"} {
		if err := os.Remove(name); err != nil && !os.IsNotExist(err) {
			b.Fatal(err)
		}
	}
}
