package safefs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// userDir returns a directory owned by nobody and a root-only file
// elsewhere holding "secret\n".
func userDir(t *testing.T) (dir, target string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (CI runs the suite as root)")
	}
	base := t.TempDir()
	dir = filepath.Join(base, "nobody")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	target = filepath.Join(base, "shadow")
	if err := os.WriteFile(target, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, target
}

func TestOpenFileRefusesSymlinksAndHardLinksInAUserDirectory(t *testing.T) {
	dir, target := userDir(t)
	link := filepath.Join(dir, "sym")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(dir, "hard")
	if err := os.Link(target, hard); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, hard, filepath.Join(dir, "sym", "x")} {
		fd, err := OpenFile(p, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT, 0o640)
		if err == nil {
			unix.Close(fd)
			t.Fatalf("OpenFile(%s) succeeded", p)
		}
		if !IsUntrusted(err) && !errors.Is(err, unix.ENOTDIR) {
			t.Fatalf("OpenFile(%s): %v, want a refusal", p, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "secret\n" {
		t.Fatalf("target holds %q", b)
	}
}

func TestWriteFileReplacesASymlinkWithoutWritingThroughIt(t *testing.T) {
	dir, target := userDir(t)
	p := filepath.Join(dir, "corral.pid")
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "secret\n" {
		t.Fatalf("target holds %q", b)
	}
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("%s: %v %v, want a regular file", p, fi, err)
	}
	if b, _ := os.ReadFile(p); string(b) != "42\n" {
		t.Fatalf("%s holds %q", p, b)
	}
	if err := Remove(p); err != nil {
		t.Fatal(err)
	}
}
