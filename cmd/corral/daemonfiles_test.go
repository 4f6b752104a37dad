package main

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/corralhq/corral/config"
)

// nobodyDir returns a directory owned by nobody, who can replace its
// entries, and a root-only file elsewhere holding "secret\n".
func nobodyDir(t *testing.T) (dir, target string) {
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
	target = filepath.Join(base, "secret")
	if err := os.WriteFile(target, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, target
}

func untouched(t *testing.T, target string) {
	t.Helper()
	if b, err := os.ReadFile(target); err != nil || string(b) != "secret\n" {
		t.Fatalf("%s holds %q, %v; want it untouched", target, b, err)
	}
}

// TestDaemonLogfileThroughASymlinkIsRefused: a daemon logfile that another
// user replaced with a symlink (to a root-only file, or dangling) is
// refused with an error naming it; the target is not written nor created.
func TestDaemonLogfileThroughASymlinkIsRefused(t *testing.T) {
	dir, target := nobodyDir(t)
	dangling := filepath.Join(filepath.Dir(target), "created")
	for _, to := range []string{target, dangling} {
		logfile := filepath.Join(dir, "corral.log")
		if err := os.Symlink(to, logfile); err != nil {
			t.Fatal(err)
		}
		log, closer, err := newLogger(config.Daemon{Logfile: logfile}, io.Discard)
		if err == nil {
			log.Info("written through the symlink")
			closer.Close()
			t.Fatalf("newLogger(%s -> %s) succeeded", logfile, to)
		}
		if !strings.Contains(err.Error(), logfile) || !strings.Contains(err.Error(), "refusing") {
			t.Fatalf("error %q, want it to name %s and refuse the symlink", err, logfile)
		}
		untouched(t, target)
		if _, err := os.Lstat(dangling); err == nil {
			t.Fatalf("%s was created", dangling)
		}
		os.Remove(logfile)
	}
}

// TestPidfileReplacesASymlinkWithoutWritingThroughIt: a pidfile that is a
// symlink to a root-only file is replaced by a regular file holding the
// pid; the target keeps its content.
func TestPidfileReplacesASymlinkWithoutWritingThroughIt(t *testing.T) {
	dir, target := nobodyDir(t)
	pidfile := filepath.Join(dir, "corral.pid")
	if err := os.Symlink(target, pidfile); err != nil {
		t.Fatal(err)
	}
	if err := writePidfile(pidfile); err != nil {
		t.Fatal(err)
	}
	untouched(t, target)
	fi, err := os.Lstat(pidfile)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("%s: %v %v, want a regular file", pidfile, fi, err)
	}
	if b, _ := os.ReadFile(pidfile); string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Fatalf("%s holds %q", pidfile, b)
	}
}
