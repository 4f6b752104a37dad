package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRotationKeepsEveryLineOnceInOrder(t *testing.T) {
	const lines = 200000
	c := newCapture(t, Options{})
	path := filepath.Join(t.TempDir(), "seq.log")
	s := openStream(t, c, StreamConfig{Path: path, MaxBytes: 64 << 10, Backups: 100})

	run(t, s, fmt.Sprintf("seq 1 %d", lines))

	var want bytes.Buffer
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&want, "%d\n", i)
	}
	got, backups := files(t, path)
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("concatenated files: %d bytes, want %d bytes of seq 1 %d", len(got), want.Len(), lines)
	}
	if wantBackups := want.Len() / (64 << 10); backups != wantBackups {
		t.Errorf("%d backups, want %d", backups, wantBackups)
	}
	for i := 1; i <= backups; i++ {
		fi, err := os.Stat(fmt.Sprintf("%s.%d", path, i))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != 64<<10 {
			t.Errorf("%s: %d bytes, want exactly MaxBytes", fi.Name(), fi.Size())
		}
	}
	st := s.Stats()
	if st.Written != int64(want.Len()) || st.Read != st.Written || st.Dropped != 0 || st.End != st.Written {
		t.Errorf("stats %+v, want %d bytes read, written and at end, none dropped", st, want.Len())
	}
}

// TestConstantGoroutinesAndThreads checks that capturing 1,000 programs that
// log at once costs the goroutines and threads of capturing one.
//
// Goroutines must not grow at all. Threads: the Go runtime never exits a
// thread, and how many it starts depends on how blocking syscalls happen to
// overlap (the capture goroutine's epoll_wait, splice and write; the test's
// clone(CLONE_VFORK) and waitid), not on the number of programs. A warm-up
// phase of 50 programs lets those overlaps happen once; then 1,000 programs
// may use at most 2 threads more than 1 program: a fixed allowance for an
// overlap the warm-up missed (at most one blocked syscall each for the
// capture goroutine and the test goroutine), not a per-program cost.
func TestConstantGoroutinesAndThreads(t *testing.T) {
	// Counted by their function, not by runtime.NumGoroutine: a goroutine
	// of an earlier test (an exec.Cmd's, the testing package's) may end in
	// between, which once made this read 0. An earlier test's capture is
	// closed, but Close returns when its loop closes done, a moment before
	// the goroutine itself is gone (which once made this read 0 too): wait
	// for none to be left first.
	deadline := time.Now().Add(time.Minute) // only turns a hang into a failure
	for captureLoops() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d capture goroutines of earlier tests still run", captureLoops())
		}
		time.Sleep(time.Millisecond)
	}
	c := newCapture(t, Options{})
	if got := captureLoops(); got != 1 {
		t.Fatalf("New started %d capture goroutines, want 1", got)
	}
	dir := t.TempDir()

	phase := func(name string, n int) (maxG, maxT int) {
		sample := func() {
			maxG = max(maxG, runtime.NumGoroutine())
			maxT = max(maxT, threads(t))
		}
		gateR, gateW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer gateR.Close()
		defer gateW.Close()
		var dones []<-chan struct{}
		var cmds []*exec.Cmd
		var streams []*Stream
		for i := range n {
			s := openStream(t, c, StreamConfig{Path: filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, i)), MaxBytes: 16 << 10, Backups: 1})
			w, done, err := s.NewPipe()
			if err != nil {
				t.Fatal(err)
			}
			// Everyone waits at the gate, then logs 400 lines with one write each.
			cmds = append(cmds, spawn(t, w, gateR, `echo ready; read x; i=0; while [ $i -lt 400 ]; do echo "line $i of a chatty program"; i=$((i+1)); done`))
			dones = append(dones, done)
			streams = append(streams, s)
		}
		sample()
		gateW.Close()
		for _, done := range dones {
			sample()
			<-done
		}
		sample()
		for _, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
		}
		want := int64(len("ready\n"))
		for i := range 400 {
			want += int64(len(fmt.Sprintf("line %d of a chatty program\n", i)))
		}
		for _, s := range streams {
			st := s.Stats()
			if st.Read != want || st.Written != st.Read {
				t.Fatalf("%s: stats %+v, want all %d bytes written", s.Path(), st, want)
			}
			s.Close()
		}
		return maxG, maxT
	}

	phase("warm", 50)
	g1, t1 := phase("one", 1)
	g1000, t1000 := phase("thousand", 1000)
	t.Logf("1 program: %d goroutines, %d threads; 1,000 programs: %d goroutines, %d threads", g1, t1, g1000, t1000)
	if g1000 > g1 {
		t.Errorf("goroutines grew from %d (1 program) to %d (1,000 programs)", g1, g1000)
	}
	if t1000 > t1+2 {
		t.Errorf("threads grew from %d (1 program) to %d (1,000 programs), more than the allowance of 2", t1, t1000)
	}
}

func TestFollowAcrossRotationSeesEveryByteOnce(t *testing.T) {
	c := newCapture(t, Options{})
	path := filepath.Join(t.TempDir(), "app.log")
	s := openStream(t, c, StreamConfig{Path: path, MaxBytes: 4096, Backups: 10})
	w, done, err := s.NewPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	f, err := s.Follow(0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var want, got []byte
	for i, n := range []int{3000, 3000, 5000, 100, 9000} {
		chunk := pattern(n, byte(i))
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		want = append(want, chunk...)
		got = append(got, readUntil(t, f, n)...)
		if !bytes.Equal(got, want) {
			t.Fatalf("after chunk %d: followed bytes differ from written bytes", i)
		}
	}
	w.Close()
	<-done
	s.Close()
	if rest := readUntil(t, f, 1); len(rest) != 0 {
		t.Fatalf("%d bytes after the end", len(rest))
	}
	if st := s.Stats(); st.FileStart == 0 || st.End != int64(len(want)) {
		t.Fatalf("stats %+v: want rotations and %d bytes", st, len(want))
	}
	onDisk, _ := files(t, path)
	if !bytes.Equal(onDisk, want) {
		t.Fatal("files differ from written bytes")
	}
}

func TestFollowWhileAProgramWritesAcrossRotations(t *testing.T) {
	c := newCapture(t, Options{})
	path := filepath.Join(t.TempDir(), "seq.log")
	s := openStream(t, c, StreamConfig{Path: path, MaxBytes: 8 << 10, Backups: 1000})
	f, err := s.Follow(0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make(chan []byte, 1)
	go func() { got <- readUntil(t, f, 1<<30) }()

	run(t, s, "seq 1 100000")
	s.Close()
	want, _ := files(t, path)
	if g := <-got; !bytes.Equal(g, want) {
		t.Fatalf("follower read %d bytes, files hold %d", len(g), len(want))
	}
	if st := s.Stats(); st.End != int64(len(want)) || st.FileStart == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFollowerBehindRotationGetsGapWithMissedCount(t *testing.T) {
	c := newCapture(t, Options{})
	s := openStream(t, c, StreamConfig{Path: filepath.Join(t.TempDir(), "app.log"), MaxBytes: 1000, Backups: 1})
	f, err := s.Follow(0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := pattern(5000, 3)
	w, done, err := s.NewPipe()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	<-done
	s.Close()

	_, err = f.Read(context.Background(), make([]byte, 100))
	gap, ok := isGap(err)
	if !ok || gap.Missed != 3000 || gap.Next != 3000 {
		t.Fatalf("Read = %v, want a gap of 3000 bytes", err)
	}
	if rest := readUntil(t, f, 1<<20); !bytes.Equal(rest, data[3000:]) {
		t.Fatalf("after the gap read %d bytes, want the last 2000 kept", len(rest))
	}
}

func TestTailAndReadAtSpanBackups(t *testing.T) {
	c := newCapture(t, Options{})
	s := openStream(t, c, StreamConfig{Path: filepath.Join(t.TempDir(), "app.log"), MaxBytes: 1000, Backups: 3})
	data := pattern(4500, 7)
	w, done, err := s.NewPipe()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	<-done

	// Kept: .3 [1000,2000) .2 [2000,3000) .1 [3000,4000) current [4000,4500).
	st := s.Stats()
	if st.Start != 1000 || st.FileStart != 4000 || st.End != 4500 {
		t.Fatalf("stats %+v, want start 1000, file start 4000, end 4500", st)
	}
	tail, from, err := s.Tail(2500)
	if err != nil || from != 2000 || !bytes.Equal(tail, data[2000:]) {
		t.Fatalf("Tail(2500) = %d bytes from %d, %v; want data[2000:]", len(tail), from, err)
	}
	tail, from, err = s.Tail(1 << 20)
	if err != nil || from != 1000 || !bytes.Equal(tail, data[1000:]) {
		t.Fatalf("Tail(1MiB) = %d bytes from %d, %v; want everything kept", len(tail), from, err)
	}
	if tail, from, err := s.Tail(-1); err != nil || from != 4500 || len(tail) != 0 {
		t.Fatalf("Tail(-1) = %d bytes from %d, %v; want none from the end", len(tail), from, err)
	}
	p := make([]byte, 1200)
	if n, err := s.ReadAt(p, 1900); err != nil || !bytes.Equal(p[:n], data[1900:3100]) {
		t.Fatalf("ReadAt(1900) = %d, %v", n, err)
	}
	if n, err := s.ReadAt(p, 4000); err != io.EOF || !bytes.Equal(p[:n], data[4000:]) {
		t.Fatalf("ReadAt(4000) = %d, %v; want 500 bytes and io.EOF", n, err)
	}
	if _, err := s.ReadAt(p, 10); err == nil {
		t.Fatal("ReadAt before the oldest byte kept succeeded")
	} else if gap, ok := isGap(err); !ok || gap.Missed != 990 {
		t.Fatalf("ReadAt(10) = %v, want a gap of 990 bytes", err)
	}
}

func TestReopenKeepsExistingFilesAndPositions(t *testing.T) {
	c := newCapture(t, Options{})
	path := filepath.Join(t.TempDir(), "app.log")
	cfg := StreamConfig{Path: path, MaxBytes: 1000, Backups: 5}
	first := pattern(2500, 1)
	s := openStream(t, c, cfg)
	w, done, _ := s.NewPipe()
	w.Write(first)
	w.Close()
	<-done
	s.Close()

	s2 := openStream(t, c, cfg)
	if st := s2.Stats(); st.Start != 0 || st.FileStart != 2000 || st.End != 2500 {
		t.Fatalf("reopened stats %+v, want start 0, file start 2000, end 2500", st)
	}
	second := pattern(700, 2)
	w, done, _ = s2.NewPipe()
	w.Write(second)
	w.Close()
	<-done
	want := append(append([]byte{}, first...), second...)
	got, backups := files(t, path)
	if !bytes.Equal(got, want) || backups != 3 {
		t.Fatalf("files hold %d bytes in %d backups, want %d in 3", len(got), backups, len(want))
	}
	if all, from, err := s2.Tail(1 << 20); err != nil || from != 0 || !bytes.Equal(all, want) {
		t.Fatalf("Tail = %d bytes from %d, %v", len(all), from, err)
	}
}

func TestUnwritablePathGivesClearErrorAndProgramStillRuns(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCapture(t, Options{})
	for _, tc := range []struct {
		name, path string
		errno      syscall.Errno
	}{
		{"under a regular file", filepath.Join(regular, "app.log"), syscall.ENOTDIR},
		{"a directory", dir, syscall.EISDIR},
		{"missing directory", filepath.Join(dir, "no", "such", "app.log"), syscall.ENOENT},
		{"in /proc", "/proc/corral-logs-test.log", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := c.OpenStream(StreamConfig{Path: tc.path})
			if err == nil {
				s.Close()
				t.Fatalf("OpenStream(%q) succeeded", tc.path)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name the path", err)
			}
			if tc.errno != 0 && !errors.Is(err, tc.errno) {
				t.Errorf("error %q, want %v", err, tc.errno)
			}
			// The caller runs the program with its output discarded.
			s = openStream(t, c, StreamConfig{})
			w, done, err := s.NewPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd := spawn(t, w, nil, "echo still running; exit 3")
			<-done
			var exit *exec.ExitError
			if err := cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != 3 {
				t.Fatalf("program: %v, want exit status 3", err)
			}
			if st := s.Stats(); st.Read != int64(len("still running\n")) || st.Written != 0 || st.Dropped != 0 {
				t.Fatalf("discarding stream stats %+v", st)
			}
			if _, err := s.Follow(0); err != ErrNotReadable {
				t.Fatalf("Follow on a discarding stream: %v, want ErrNotReadable", err)
			}
		})
	}
}

// TestDiskFullDropsCountsReportsAndResumes fills a small tmpfs, so it needs
// CAP_SYS_ADMIN to mount one.
func TestDiskFullDropsCountsReportsAndResumes(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, 0) })

	events := make(chan DropEvent, 16)
	c := newCapture(t, Options{
		RetryInterval: time.Nanosecond, // retry on the next bytes
		OnDrop: func(ev DropEvent) {
			select {
			case events <- ev:
			default:
			}
		},
	})
	path := filepath.Join(mnt, "app.log")
	s := openStream(t, c, StreamConfig{Path: path, MaxBytes: -1})

	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()

	run(t, s, "head -c 100000 /dev/zero")
	st := s.Stats()
	if st.Read != 100000 || st.Dropped == 0 || st.Written+st.Dropped != st.Read {
		t.Fatalf("stats on a full disk %+v, want 100000 bytes read, some dropped, every byte accounted", st)
	}
	ev := <-events
	if ev.Resumed || ev.Path != path || !errors.Is(ev.Err, syscall.ENOSPC) || ev.Dropped <= 0 {
		t.Fatalf("first event %+v, want an ENOSPC outage of %s", ev, path)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	run(t, s, "echo back")
	ev = <-events
	if !ev.Resumed || ev.Dropped != st.Dropped {
		t.Fatalf("second event %+v, want resumed after %d dropped bytes", ev, st.Dropped)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, []byte("back\n")) || int64(len(b)) != s.Stats().Written {
		t.Fatalf("file holds %d bytes ending %q; want all %d written bytes, ending back", len(b), b[max(0, len(b)-10):], s.Stats().Written)
	}
}

func TestStderrIntoStdoutAndSeveralPipesShareAStream(t *testing.T) {
	c := newCapture(t, Options{})
	path := filepath.Join(t.TempDir(), "app.log")
	s := openStream(t, c, StreamConfig{Path: path})

	// One pipe as both stdout and stderr keeps the order of the writes.
	run(t, s, "echo out; echo err >&2; echo out2")
	// Two pipes (a restart, or separate stdout and stderr pipes) feed the
	// same file; each has its own done channel.
	w1, done1, _ := s.NewPipe()
	w2, done2, _ := s.NewPipe()
	cmd1 := spawn(t, w1, nil, "echo first")
	cmd2 := spawn(t, w2, nil, "echo second")
	<-done1
	<-done2
	cmd1.Wait()
	cmd2.Wait()

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if !strings.HasPrefix(got, "out\nerr\nout2\n") || len(got) != len("out\nerr\nout2\nfirst\nsecond\n") ||
		!strings.Contains(got, "first\n") || !strings.Contains(got, "second\n") {
		t.Fatalf("file holds %q", got)
	}
	if st := s.Stats(); st.Pipes != 0 {
		t.Fatalf("%d pipes left after all were done", st.Pipes)
	}
}

func TestCaptureCloseReleasesPipesAndFollowers(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.OpenStream(StreamConfig{Path: filepath.Join(t.TempDir(), "app.log")})
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Follow(0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, done, err := s.NewPipe()
	if err != nil {
		t.Fatal(err)
	}
	spawn(t, w, nil, "echo hi; exec sleep 1000")
	if got := readUntil(t, f, 3); string(got) != "hi\n" {
		t.Fatalf("followed %q", got)
	}
	c.Close()
	<-done // the process still runs, but the capture let go of its pipe
	if rest := readUntil(t, f, 1); len(rest) != 0 {
		t.Fatalf("read %q after close, want io.EOF", rest)
	}
	if _, _, err := s.NewPipe(); err != ErrClosed {
		t.Fatalf("NewPipe after Close: %v, want ErrClosed", err)
	}
	if _, err := c.OpenStream(StreamConfig{}); err != ErrClosed {
		t.Fatalf("OpenStream after Close: %v, want ErrClosed", err)
	}
}

func TestStreamCloseWaitsForItsPipes(t *testing.T) {
	c := newCapture(t, Options{})
	s := openStream(t, c, StreamConfig{Path: filepath.Join(t.TempDir(), "app.log")})
	w, done, err := s.NewPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, _, err := s.NewPipe(); err != ErrClosed {
		t.Fatalf("NewPipe after Close: %v, want ErrClosed", err)
	}
	// A pipe made before Close is still captured to its end.
	if _, err := w.Write([]byte("last words\n")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	<-done
	if got, _, err := s.Tail(100); err != nil || string(got) != "last words\n" {
		t.Fatalf("Tail = %q, %v", got, err)
	}
}

func TestAutoPathIsUniqueAndNamesTheProgram(t *testing.T) {
	a := AutoPath("/var/log/corral", "web/api", "stdout")
	b := AutoPath("/var/log/corral", "web/api", "stdout")
	if a == b {
		t.Fatalf("AutoPath twice gave %q", a)
	}
	if dir, base := filepath.Split(a); dir != "/var/log/corral/" || !strings.HasPrefix(base, "web_api-stdout---corral-") || !strings.HasSuffix(base, ".log") {
		t.Fatalf("AutoPath = %q", a)
	}
}

func TestSecondStreamOnAnOpenFileIsRefused(t *testing.T) {
	c := newCapture(t, Options{})
	path := filepath.Join(t.TempDir(), "app.log")
	s := openStream(t, c, StreamConfig{Path: path})
	if _, err := c.OpenStream(StreamConfig{Path: path}); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("second OpenStream(%q): %v, want an error naming it", path, err)
	}
	s.Close()
	run(t, openStream(t, c, StreamConfig{}), "true") // the close has been processed
	again, err := c.OpenStream(StreamConfig{Path: path})
	if err != nil {
		t.Fatalf("OpenStream after the first stream closed: %v", err)
	}
	again.Close()
}

// A FIFO whose reader does not keep up must not block the program nor the
// capture: what does not fit is dropped and counted.
func TestFullFIFODropsInsteadOfBlocking(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCapture(t, Options{})
	if _, err := c.OpenStream(StreamConfig{Path: fifo}); !errors.Is(err, syscall.ENXIO) {
		t.Fatalf("OpenStream on a FIFO without reader: %v, want ENXIO", err)
	}
	reader, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	s := openStream(t, c, StreamConfig{Path: fifo, MaxBytes: 10})

	run(t, s, "echo hello through a fifo")
	buf := make([]byte, 100)
	if n, err := reader.Read(buf); err != nil || string(buf[:n]) != "hello through a fifo\n" {
		t.Fatalf("FIFO reader got %q, %v", buf[:n], err)
	}
	run(t, s, "head -c 1000000 /dev/zero") // nobody reads: at most 64 KiB fit
	st := s.Stats()
	if st.Read != 21+1000000 || st.Dropped == 0 || st.Written+st.Dropped != st.Read {
		t.Fatalf("stats %+v, want every byte read, the excess dropped", st)
	}
	if _, err := s.Follow(0); err != ErrNotReadable {
		t.Fatalf("Follow on a FIFO: %v, want ErrNotReadable", err)
	}
}

// captureLoops counts the goroutines New started (a Capture's loop), by
// their creator: one that has not run yet shows only its wrapper.
func captureLoops() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Count(buf[:n], []byte("created by github.com/corralhq/corral/logs.New in "))
		}
		buf = make([]byte, 2*len(buf))
	}
}
