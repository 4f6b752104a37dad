package logs

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const nobody = 65534

// userDir returns a log directory owned by nobody (so nobody can replace
// its entries), and a root-only file elsewhere holding "secret\n".
func userDir(t *testing.T) (dir, target string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (CI runs the suite as root)")
	}
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(base, "nobody")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(base, "root-only")
	if err := os.Mkdir(secret, 0o700); err != nil {
		t.Fatal(err)
	}
	target = filepath.Join(secret, "shadow")
	if err := os.WriteFile(target, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, target
}

func checkUntouched(t *testing.T, target string) {
	t.Helper()
	if b, err := os.ReadFile(target); err != nil || string(b) != "secret\n" {
		t.Fatalf("%s holds %q, %v; want it untouched", target, b, err)
	}
}

func checkAbsent(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s was created (lstat: %v)", path, err)
	}
}

// TestSymlinkedLogInAUserDirectoryIsRefusedAtOpen: a log path that is a
// symlink (to a root-only file, or dangling) in a directory the program's
// user controls is refused with an error naming it; the target is neither
// written nor created.
func TestSymlinkedLogInAUserDirectoryIsRefusedAtOpen(t *testing.T) {
	dir, target := userDir(t)
	dangling := filepath.Join(filepath.Dir(target), "created")
	rootDir := filepath.Dir(target)
	for _, tc := range []struct{ name, link, to, open string }{
		{"to a root-only file", "app.log", target, "app.log"},
		{"dangling", "app.log", dangling, "app.log"},
		{"an intermediate directory", "sub", rootDir, "sub/created"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCapture(t, Options{})
			link := filepath.Join(dir, tc.link)
			if err := os.Symlink(tc.to, link); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Remove(link) })
			path := filepath.Join(dir, tc.open)
			s, err := c.OpenStream(StreamConfig{Path: path})
			if err == nil {
				s.Close()
				t.Fatalf("OpenStream(%s) through a symlink in nobody's directory succeeded", path)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "refusing") {
				t.Fatalf("error %q, want it to name %s and say it refuses the symlink", err, path)
			}
			checkUntouched(t, target)
			checkAbsent(t, dangling)
		})
	}
}

// TestLogSwappedForASymlinkIsNeverFollowedOnReopen: the program's user
// replaces a log file, closed by the MaxOpenFiles bound, with a symlink;
// the reopen refuses it: the bytes are dropped, counted and reported, the
// target is untouched (or not created), and writing resumes once a regular
// file is back.
func TestLogSwappedForASymlinkIsNeverFollowedOnReopen(t *testing.T) {
	dir, target := userDir(t)
	dangling := filepath.Join(filepath.Dir(target), "created")
	for _, to := range []string{target, dangling} {
		t.Run(filepath.Base(to), func(t *testing.T) {
			events := make(chan DropEvent, 16)
			c := newCapture(t, Options{MaxOpenFiles: 1, RetryInterval: time.Nanosecond, OnDrop: func(ev DropEvent) { events <- ev }})
			path := filepath.Join(dir, "app.log")
			t.Cleanup(func() { os.Remove(path) })
			s := openStream(t, c, StreamConfig{Path: path})
			other := openStream(t, c, StreamConfig{Path: filepath.Join(dir, "other-"+filepath.Base(to)+".log")})
			feed(t, s, []byte("before\n"))
			feed(t, other, []byte("x\n")) // closes app.log
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(to, path); err != nil {
				t.Fatal(err)
			}
			feed(t, s, []byte("stolen\n"))
			var ev DropEvent
			select {
			case ev = <-events:
			case <-time.After(10 * time.Second):
				t.Fatal("no drop event: the write went through the symlink")
			}
			if ev.Resumed || ev.Path != path || ev.Dropped != 7 || !errors.Is(ev.Err, syscall.ELOOP) || !strings.Contains(ev.Err.Error(), path) {
				t.Fatalf("event %+v, want an outage of 7 bytes naming %s, refusing the symlink", ev, path)
			}
			if s.Dropped() != 7 {
				t.Fatalf("dropped %d, want 7", s.Dropped())
			}
			checkUntouched(t, target)
			checkAbsent(t, dangling)
			if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Fatalf("the symlink was replaced or removed: %v %v", fi, err)
			}
		})
	}
}

// TestRotationNeverFollowsPlantedSymlinks: symlinks planted at the
// rotation's temporary name and at a backup name are replaced, not written
// through, and the rotation keeps every byte.
func TestRotationNeverFollowsPlantedSymlinks(t *testing.T) {
	dir, target := userDir(t)
	c := newCapture(t, Options{})
	path := filepath.Join(dir, "app.log")
	s := openStream(t, c, StreamConfig{Path: path, MaxBytes: 100, Backups: 3})
	t.Cleanup(func() {
		for _, n := range []string{"", ".1", ".2", ".3", ".rotating"} {
			os.Remove(path + n)
		}
	})
	for _, n := range []string{".rotating", ".1", ".2"} {
		if err := os.Symlink(target, path+n); err != nil {
			t.Fatal(err)
		}
	}
	want := numbered(1, 20) // more than 2 rotations of 100 bytes
	feed(t, s, want)
	checkUntouched(t, target)
	got, n := files(t, path)
	if n == 0 || string(got) != string(want[len(want)-len(got):]) {
		t.Fatalf("files hold %q (%d backups), want the tail of %q", got, n, want)
	}
	for _, n := range []string{"", ".1", ".2"} {
		if fi, err := os.Lstat(path + n); err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("%s: %v %v, want a regular file", path+n, fi, err)
		}
	}
}

// TestSymlinkInARootDirectoryIsFollowed: a symlink that only root could
// have made (in a directory only root can write) still works, as do
// /dev/stdout-like paths.
func TestSymlinkInARootDirectoryIsFollowed(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real.log")
	link := filepath.Join(base, "app.log")
	if err := os.Symlink("real.log", link); err != nil {
		t.Fatal(err)
	}
	c := newCapture(t, Options{})
	feed(t, openStream(t, c, StreamConfig{Path: link}), []byte("hello\n"))
	if b, err := os.ReadFile(real); err != nil || string(b) != "hello\n" {
		t.Fatalf("%s holds %q, %v", real, b, err)
	}
	s := openStream(t, c, StreamConfig{Path: "/dev/null"})
	feed(t, s, []byte("x\n"))
	if st := s.Stats(); st.Written != 2 {
		t.Fatalf("stats of /dev/null %+v, want 2 bytes written", st)
	}
}

// TestLogFileAndRotatedFilesAreNotWorldReadable: files the capture
// creates have FileMode (0640), the given group, rotated ones too.
func TestLogFileAndRotatedFilesAreNotWorldReadable(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	c := newCapture(t, Options{Group: nobody})
	path := filepath.Join(dir, "app.log")
	s := openStream(t, c, StreamConfig{Path: path, MaxBytes: 100, Backups: 2})
	feed(t, s, numbered(1, 20))
	for _, name := range []string{path, path + ".1", path + ".2"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != 0o640 || st.Gid != nobody {
			t.Fatalf("%s: mode %v gid %d, want 0640 and gid %d", name, fi.Mode().Perm(), st.Gid, nobody)
		}
	}
}

// TestPipesSharingARotatingStreamNeverCutLinesIntoEachOther: eight writers,
// each on its own pipe of one stream that rotates every 64 KiB, write lines
// of up to PIPE_BUF bytes, each in one write; the files hold every line
// once, whole.
func TestPipesSharingARotatingStreamNeverCutLinesIntoEachOther(t *testing.T) {
	const writers, lines = 8, 400
	c := newCapture(t, Options{})
	path := filepath.Join(t.TempDir(), "shared.log")
	s := openStream(t, c, StreamConfig{Path: path, MaxBytes: 64 << 10, Backups: 1000})
	var dones []<-chan struct{}
	errc := make(chan error, writers)
	for k := range writers {
		w, done, err := s.NewPipe()
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, done)
		go func() {
			defer w.Close()
			for i := range lines {
				pad := strings.Repeat(string(rune('a'+k)), (i*97+k*131)%4000)
				if _, err := w.WriteString("w" + strconv.Itoa(k) + " " + strconv.Itoa(i) + " " + pad + "\n"); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range writers {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range dones {
		<-d
	}
	got, n := files(t, path)
	if n < 2 {
		t.Fatalf("%d rotations, want several", n)
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(string(got), "\n"), "\n") {
		var k, i int
		f := strings.Fields(l)
		if len(f) < 2 || !strings.HasPrefix(f[0], "w") {
			t.Fatalf("line %.60q... is cut", l)
		}
		k, _ = strconv.Atoi(f[0][1:])
		i, _ = strconv.Atoi(f[1])
		want := "w" + strconv.Itoa(k) + " " + strconv.Itoa(i) + " " + strings.Repeat(string(rune('a'+k)), (i*97+k*131)%4000)
		if l != want {
			t.Fatalf("line %.60q... is cut or mixed", l)
		}
		if seen[l] {
			t.Fatalf("line %.30q... twice", l)
		}
		seen[l] = true
	}
	if len(seen) != writers*lines {
		t.Fatalf("%d lines, want %d", len(seen), writers*lines)
	}
}
