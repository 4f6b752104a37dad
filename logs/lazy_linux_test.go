package logs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLogFileCreatedAtFirstByte: a stream on a file that does not exist
// creates it when the first bytes arrive, not when it is opened (a start
// of thousands of programs then creates no file for those that print
// nothing). Until then it reads as empty, its backups already on disk keep
// their positions, and Clear works; the file gets FileMode.
func TestLogFileCreatedAtFirstByte(t *testing.T) {
	c := newCapture(t, Options{})
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	old := pattern(100, 7)
	if err := os.WriteFile(path+".1", old, 0o640); err != nil {
		t.Fatal(err)
	}
	s := openStream(t, c, StreamConfig{Path: path, MaxBytes: 1000, Backups: 3})
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after OpenStream, before any byte: lstat %s: %v, want no such file", path, err)
	}
	if st := s.Stats(); st.Start != 0 || st.FileStart != 100 || st.End != 100 {
		t.Fatalf("stats before the first byte %+v, want start 0, file start 100, end 100", st)
	}
	if b, from, err := s.Tail(1 << 20); err != nil || from != 0 || !bytes.Equal(b, old) {
		t.Fatalf("Tail before the first byte = %q from %d, %v; want the backup's 100 bytes", b, from, err)
	}
	f, err := s.Follow(100)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	run(t, s, "echo hello")
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "hello\n" {
		t.Fatalf("after the first bytes: %q, %v; want the file to hold hello", b, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != FileMode {
		t.Fatalf("created file: %v, %v; want mode %v", st.Mode(), err, os.FileMode(FileMode))
	}
	if got := readUntil(t, f, len("hello\n")); string(got) != "hello\n" {
		t.Fatalf("follower read %q, want hello", got)
	}

	// Clear of a stream whose file was never created.
	other := filepath.Join(dir, "quiet.log")
	q := openStream(t, c, StreamConfig{Path: other})
	if err := q.Clear(); err != nil {
		t.Fatalf("Clear before the first byte: %v", err)
	}
	if b, _, err := q.Tail(100); err != nil || len(b) != 0 {
		t.Fatalf("Tail of a cleared, empty stream = %q, %v", b, err)
	}
}

// TestLogFileOnReadOnlyFilesystemRefusedAtOpen: the file is created later,
// but a directory it could never be created in is refused when the stream
// is opened, naming the path, as before. It mounts a read-only tmpfs
// (root, as CI runs).
func TestLogFileOnReadOnlyFilesystemRefusedAtOpen(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", unix.MS_RDONLY, "size=64k"); err != nil {
		t.Fatalf("cannot mount a read-only tmpfs (this test needs root): %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, 0) })
	c := newCapture(t, Options{})
	path := filepath.Join(mnt, "app.log")
	s, err := c.OpenStream(StreamConfig{Path: path})
	if err == nil {
		s.Close()
		t.Fatalf("OpenStream(%q) on a read-only filesystem succeeded", path)
	}
	if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %q, want EROFS naming %s", err, path)
	}
}

// TestCreateAtOpenCreatesTheFileAtOnce: with Options.CreateAtOpen (a daemon
// that drops root after opening its streams) a missing file is created by
// OpenStream, with FileMode, before any byte.
func TestCreateAtOpenCreatesTheFileAtOnce(t *testing.T) {
	c := newCapture(t, Options{CreateAtOpen: true})
	path := filepath.Join(t.TempDir(), "app.log")
	openStream(t, c, StreamConfig{Path: path})
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != FileMode {
		t.Fatalf("after OpenStream with CreateAtOpen: %v, %v; want a regular file with mode %v", st, err, os.FileMode(FileMode))
	}
}
