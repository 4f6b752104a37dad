package logs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fds returns the number of open descriptors of this process and how many
// of them are files under dir.
func fds(t testing.TB, dir string) (all, under int) {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		// The descriptor ReadDir used is closed by now: it shows as a
		// dangling entry and is not counted.
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue
		}
		all++
		if strings.HasPrefix(target, dir+"/") {
			under++
		}
	}
	return all, under
}

// openLogFiles returns how many log files c holds open, read on its loop.
func openLogFiles(t testing.TB, c *Capture) int {
	t.Helper()
	got := make(chan int, 1)
	if err := c.do(func() { got <- c.nopen }); err != nil {
		t.Fatal(err)
	}
	return <-got
}

// feed writes b into a new pipe of s and waits until it is stored.
func feed(t testing.TB, s *Stream, b []byte) {
	t.Helper()
	w, done, err := s.NewPipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	w.Close()
	<-done
}

func numbered(stream, lines int) []byte {
	var b bytes.Buffer
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&b, "stream %d line %d\n", stream, i)
	}
	return b.Bytes()
}

// TestOpenLogFilesStayWithinMaxOpenFiles runs 50 programs at once, each
// logging numbered lines into its own stream, with room for 4 open log
// files: while they write, the process holds one descriptor per pipe and at
// most 4 log files, and every file holds exactly its program's lines.
func TestOpenLogFilesStayWithinMaxOpenFiles(t *testing.T) {
	const streams, lines, maxOpen = 50, 2000, 4
	c := newCapture(t, Options{MaxOpenFiles: maxOpen})
	dir := t.TempDir()
	gateR, gateW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer gateW.Close()
	base, _ := fds(t, dir)

	var dones []<-chan struct{}
	var cmds []*exec.Cmd
	var ss []*Stream
	for i := range streams {
		s := openStream(t, c, StreamConfig{Path: filepath.Join(dir, fmt.Sprintf("p%d.log", i))})
		w, done, err := s.NewPipe()
		if err != nil {
			t.Fatal(err)
		}
		script := fmt.Sprintf(`read x; i=1; while [ $i -le %d ]; do echo "stream %d line $i"; i=$((i+1)); done`, lines, i)
		cmds = append(cmds, spawn(t, w, gateR, script))
		dones = append(dones, done)
		ss = append(ss, s)
	}
	gateR.Close()
	// Each program: its pipe's read end here, and the os.Process's pidfd.
	ready, open := fds(t, dir)
	if open != 0 {
		t.Fatalf("%d log files open before any byte was written", open)
	}
	if ready > base+2*streams+2 {
		t.Fatalf("%d descriptors before writing, baseline %d: more than a pipe and a pidfd per program", ready, base)
	}

	gateW.Close()
	maxAll, maxFiles, samples := 0, 0, 0
	for _, done := range dones {
	wait:
		for {
			select {
			case <-done:
				break wait
			default:
			}
			// The capture's own count, read on its goroutine: a /proc
			// listing is not atomic (a pipe's number closed at EOF and
			// reused for a log file would be counted twice).
			all, _ := fds(t, dir)
			maxAll, maxFiles = max(maxAll, all), max(maxFiles, openLogFiles(t, c))
			samples++
			time.Sleep(time.Millisecond)
		}
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("descriptors: %d baseline, %d with %d programs spawned, at most %d while writing (%d samples), at most %d log files open; %d files closed to make room",
		base, ready, streams, maxAll, samples, maxFiles, c.evictions.Load())
	if maxFiles > maxOpen {
		t.Errorf("%d log files open at once, want at most MaxOpenFiles = %d", maxFiles, maxOpen)
	}
	// +1: the new file of a rotation is created before the old one closes.
	if maxAll > ready+maxOpen+1 {
		t.Errorf("%d descriptors while writing, want at most %d (%d before writing + %d log files + 1)", maxAll, ready+maxOpen+1, ready, maxOpen)
	}
	if c.evictions.Load() == 0 {
		t.Error("no log file was closed to make room")
	}
	for i, s := range ss {
		got, _ := files(t, s.Path())
		if want := numbered(i, lines); !bytes.Equal(got, want) {
			t.Fatalf("%s holds %d bytes, want exactly its %d lines in order (%d bytes)", s.Path(), len(got), lines, len(want))
		}
	}
}

// TestRotationOfEvictedFilesKeepsEveryLineOnceInOrder sends seq 1 200000
// through four streams at once, rotating every 64 KiB, with room for one
// open log file: each stream's file keeps being closed by the others'
// writes, including when it is due to rotate.
func TestRotationOfEvictedFilesKeepsEveryLineOnceInOrder(t *testing.T) {
	const lines, streams = 200000, 4
	c := newCapture(t, Options{MaxOpenFiles: 1})
	dir := t.TempDir()
	var want bytes.Buffer
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&want, "%d\n", i)
	}
	var dones []<-chan struct{}
	var cmds []*exec.Cmd
	var ss []*Stream
	for i := range streams {
		s := openStream(t, c, StreamConfig{Path: filepath.Join(dir, fmt.Sprintf("seq%d.log", i)), MaxBytes: 64 << 10, Backups: 100})
		w, done, err := s.NewPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, spawn(t, w, nil, fmt.Sprintf("seq 1 %d", lines)))
		dones = append(dones, done)
		ss = append(ss, s)
	}
	for i, done := range dones {
		<-done
		if err := cmds[i].Wait(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d files closed to make room, %d rotations of a closed file", c.evictions.Load(), c.coldRotations.Load())
	if c.coldRotations.Load() == 0 {
		t.Error("no rotation happened while the file was closed")
	}
	for _, s := range ss {
		got, backups := files(t, s.Path())
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%s: concatenated files hold %d bytes, want the %d bytes of seq 1 %d", s.Path(), len(got), want.Len(), lines)
		}
		if wantBackups := want.Len() / (64 << 10); backups != wantBackups {
			t.Errorf("%s: %d backups, want %d", s.Path(), backups, wantBackups)
		}
		for i := 1; i <= backups; i++ {
			if fi, err := os.Stat(fmt.Sprintf("%s.%d", s.Path(), i)); err != nil || fi.Size() != 64<<10 {
				t.Fatalf("%s.%d: %v, %v; want exactly MaxBytes", s.Path(), i, fi, err)
			}
		}
		if st := s.Stats(); st.Written != int64(want.Len()) || st.Dropped != 0 || st.End != st.Written {
			t.Errorf("%s: stats %+v", s.Path(), st)
		}
	}
}

// TestRotationOfAClosedFile rotates a full file while it is closed: the
// backups are renamed and the next write creates the new file.
func TestRotationOfAClosedFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backups int
	}{
		{"with backups", 2},
		{"without backups", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCapture(t, Options{MaxOpenFiles: 1})
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			s := openStream(t, c, StreamConfig{Path: path, MaxBytes: 1000, Backups: tc.backups})
			other := openStream(t, c, StreamConfig{Path: filepath.Join(dir, "other.log")})
			first, second := pattern(1000, 1), pattern(300, 2)
			feed(t, s, first)         // full, but rotates only with bytes for the new file
			feed(t, other, []byte{1}) // closes app.log
			if _, open := fds(t, path); open != 0 {
				t.Fatalf("app.log still open after another file took the only slot")
			}
			feed(t, s, second)
			if n := c.coldRotations.Load(); n != 1 {
				t.Fatalf("%d rotations of a closed file, want 1", n)
			}
			if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, second) {
				t.Fatalf("app.log holds %d bytes (%v), want the 300 written after the rotation", len(b), err)
			}
			b, err := os.ReadFile(path + ".1")
			if tc.backups > 0 && (err != nil || !bytes.Equal(b, first)) {
				t.Fatalf("app.log.1 holds %d bytes (%v), want the first 1000", len(b), err)
			}
			if tc.backups < 0 && !os.IsNotExist(err) {
				t.Fatalf("app.log.1 exists (%v) without backups", err)
			}
			st := s.Stats()
			if st.FileStart != 1000 || st.End != 1300 {
				t.Fatalf("stats %+v, want file start 1000, end 1300", st)
			}
			if tail, from, err := s.Tail(300); err != nil || from != 1000 || !bytes.Equal(tail, second) {
				t.Fatalf("Tail = %d bytes from %d, %v", len(tail), from, err)
			}
		})
	}
}

func TestFollowAcrossEvictionAndRotationSeesEveryByteOnce(t *testing.T) {
	c := newCapture(t, Options{MaxOpenFiles: 1})
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	s := openStream(t, c, StreamConfig{Path: path, MaxBytes: 4096, Backups: 10})
	other := openStream(t, c, StreamConfig{Path: filepath.Join(dir, "other.log")})
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
	// 4096 and 3000+1096 leave the file exactly full when it is closed.
	for i, n := range []int{4096, 3000, 1096, 5000, 100, 9000, 4096} {
		chunk := pattern(n, byte(i))
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		want = append(want, chunk...)
		got = append(got, readUntil(t, f, n)...)
		if !bytes.Equal(got, want) {
			t.Fatalf("after chunk %d: followed bytes differ from written bytes", i)
		}
		feed(t, other, []byte("x\n")) // closes app.log
	}
	w.Close()
	<-done
	s.Close()
	if rest := readUntil(t, f, 1); len(rest) != 0 {
		t.Fatalf("%d bytes after the end", len(rest))
	}
	if c.coldRotations.Load() == 0 {
		t.Error("no rotation happened while the file was closed")
	}
	onDisk, _ := files(t, path)
	if !bytes.Equal(onDisk, want) {
		t.Fatal("files differ from written bytes")
	}
}

func TestSecondStreamOnAClosedFileIsRefused(t *testing.T) {
	c := newCapture(t, Options{MaxOpenFiles: 1})
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	s := openStream(t, c, StreamConfig{Path: path})
	feed(t, s, []byte("mine\n"))
	feed(t, openStream(t, c, StreamConfig{Path: filepath.Join(dir, "other.log")}), []byte("x\n"))
	if _, open := fds(t, path); open != 0 {
		t.Fatal("app.log still open after another file took the only slot")
	}
	if _, err := c.OpenStream(StreamConfig{Path: path}); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("second OpenStream(%q) while its file is closed: %v, want an error naming it", path, err)
	}
}

// TestReopenFailureDropsCountsReportsAndResumes makes the path of a closed
// log file a directory for a while: bytes written meanwhile are dropped and
// reported as for a failed write, and writing resumes at the end of the
// file once it is back.
func TestReopenFailureDropsCountsReportsAndResumes(t *testing.T) {
	events := make(chan DropEvent, 16)
	c := newCapture(t, Options{
		MaxOpenFiles:  1,
		RetryInterval: time.Nanosecond,
		OnDrop:        func(ev DropEvent) { events <- ev },
	})
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	s := openStream(t, c, StreamConfig{Path: path})
	other := openStream(t, c, StreamConfig{Path: filepath.Join(dir, "other.log")})
	feed(t, s, []byte("before\n"))
	feed(t, other, []byte("x\n"))
	if err := os.Rename(path, path+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}

	feed(t, s, []byte("lost\n"))
	if ev := <-events; ev.Resumed || ev.Path != path || !errors.Is(ev.Err, syscall.EISDIR) || ev.Dropped != 5 ||
		!strings.Contains(ev.Err.Error(), path) {
		t.Fatalf("event %+v, want an outage of 5 bytes naming %s with EISDIR", ev, path)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".away", path); err != nil {
		t.Fatal(err)
	}
	feed(t, s, []byte("after\n"))
	if ev := <-events; !ev.Resumed || ev.Dropped != 5 {
		t.Fatalf("event %+v, want resumed after 5 dropped bytes", ev)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "before\nafter\n" {
		t.Fatalf("file holds %q, %v", b, err)
	}
	if st := s.Stats(); st.Read != 18 || st.Written != 13 || st.Dropped != 5 || st.End != 13 {
		t.Fatalf("stats %+v, want 18 read, 13 written, 5 dropped", st)
	}
}

// TestNewPipeNamesTheDescriptorLimit lowers RLIMIT_NOFILE to just above the
// descriptors open, so that NewPipe runs out of them.
func TestNewPipeNamesTheDescriptorLimit(t *testing.T) {
	c := newCapture(t, Options{})
	s := openStream(t, c, StreamConfig{Path: filepath.Join(t.TempDir(), "app.log")})
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	n, _ := fds(t, "/nonexistent")
	low := old
	low.Cur = uint64(n + 3)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	var err error
	for range 10 {
		var w *os.File
		if w, _, err = s.NewPipe(); err != nil {
			break
		}
		defer w.Close()
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if err == nil {
		t.Fatal("NewPipe never failed with RLIMIT_NOFILE just above the open descriptors")
	}
	t.Log(err)
	if !errors.Is(err, syscall.EMFILE) || !strings.Contains(err.Error(), "RLIMIT_NOFILE") || !strings.Contains(err.Error(), s.Path()) {
		t.Fatalf("NewPipe: %q, want EMFILE naming RLIMIT_NOFILE and the log file", err)
	}
}
