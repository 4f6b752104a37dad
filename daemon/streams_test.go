package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corralhq/corral/config"
)

// writer is a program body writing n numbered lines, each in one write.
func writer(tag string, n int, toStderr bool) string {
	redir := ""
	if toStderr {
		redir = " >&2"
	}
	return fmt.Sprintf(`for i in $(seq 1 %d); do echo "%s $i"%s; done`, n, tag, redir)
}

// checkLines waits until path holds n lines of each tag, then checks that
// every line is whole and appears exactly once.
func checkLines(t *testing.T, path string, n int, tags ...string) string {
	t.Helper()
	want := n * len(tags)
	var b []byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ = os.ReadFile(path)
		if strings.Count(string(b), "\n") >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	line := regexp.MustCompile(`^([a-z]+) ([0-9]+)$`)
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			if l == "daemon's own line" {
				continue
			}
			t.Fatalf("%s: line %q is not whole (lines cut into each other)", path, l)
		}
		if seen[l] {
			t.Fatalf("%s: line %q appears twice", path, l)
		}
		seen[l] = true
	}
	for _, tag := range tags {
		for i := 1; i <= n; i++ {
			if l := tag + " " + strconv.Itoa(i); !seen[l] {
				t.Fatalf("%s: line %q is missing (%d lines in all, want %d)", path, l, len(seen), want)
			}
		}
	}
	return string(b)
}

func startDaemonCfg(t *testing.T, cfg *config.Config, dir string) *Daemon {
	t.Helper()
	cfg.Daemon.StateDir = filepath.Join(dir, "state")
	cfg.Daemon.LogDir = filepath.Join(dir, "logs")
	cfg.Daemon.Socket = filepath.Join(dir, "sock")
	return startConfig(t, cfg)
}

// TestProgramsSharingALogFileKeepEveryLine: two programs (and a third's
// stderr) name the same log file, in a supervisord config and in a TOML
// one; the file holds every line of each, whole and exactly once, as with
// supervisord. A special path (/proc/self/fd/N of a regular file the daemon
// writes too, like /dev/stdout redirected to a file) is shared the same
// way, appended to without overwriting the daemon's own bytes.
func TestProgramsSharingALogFileKeepEveryLine(t *testing.T) {
	const n = 3000
	for _, tc := range []struct {
		name, file string
		special    bool
		body       func(log string) string
	}{
		{"supervisord", "supervisord.conf", false, func(log string) string {
			return fmt.Sprintf(`[program:a]
command = /bin/sh -c '%s'
stdout_logfile = %[2]s
autorestart = false
startsecs = 0
[program:b]
command = /bin/sh -c '%[3]s'
stdout_logfile = %[2]s
autorestart = false
startsecs = 0
[program:c]
command = /bin/sh -c '%[4]s'
stdout_logfile = NONE
stderr_logfile = %[2]s
autorestart = false
startsecs = 0
`, writer("a", n, false), log, writer("b", n, false), writer("c", n, true))
		}},
		{"toml", "corral.toml", false, tomlBody},
		{"special path", "corral.toml", true, tomlBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "shared.log")
			if tc.special {
				f, err := os.OpenFile(log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
				if _, err := f.WriteString("daemon's own line\n"); err != nil {
					t.Fatal(err)
				}
				log = "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
				defer func() {
					if _, err := f.WriteString("daemon's own line\n"); err != nil {
						t.Error(err)
					}
				}()
			}
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, []byte(tc.body(log)), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			d := startDaemonCfg(t, cfg, dir)
			for _, p := range []string{"a", "b", "c"} {
				if st := waitState(t, d, p, "EXITED"); st.Error != "" {
					t.Fatalf("%s: %s", p, st.Error)
				}
			}
			got := checkLines(t, filepath.Join(dir, "shared.log"), n, "a", "b", "c")
			if tc.special && (!strings.HasPrefix(got, "daemon's own line\n")) {
				t.Fatalf("the daemon's own line was overwritten: file starts %q", got[:40])
			}
		})
	}
}

func tomlBody(log string) string {
	return fmt.Sprintf(`[program.a]
command = ["/bin/sh", "-c", %q]
stdout = { file = %q }
restart = "no"
start_secs = "0s"
[program.b]
command = ["/bin/sh", "-c", %[3]q]
stdout = { file = %[2]q }
restart = "no"
start_secs = "0s"
[program.c]
command = ["/bin/sh", "-c", %[4]q]
stderr = { file = %[2]q, redirect = false }
restart = "no"
start_secs = "0s"
`, writer("a", 3000, false), log, writer("b", 3000, false), writer("c", 3000, true))
}

// TestReloadKeepsASharedLogFileOpenForItsOtherPrograms: a reload removes
// one of two programs sharing a log file and adds a third on it; the
// remaining program's next start still writes there (the stream is
// reference counted, not closed with the removed program), and so does the
// new one.
func TestReloadKeepsASharedLogFileOpenForItsOtherPrograms(t *testing.T) {
	const n = 500
	dir := t.TempDir()
	log := filepath.Join(dir, "shared.log")
	prog := func(name, tag string, autostart bool) string {
		return fmt.Sprintf("[program.%s]\ncommand = [\"/bin/sh\", \"-c\", %q]\nstdout = { file = %q }\nrestart = \"no\"\nstart_secs = \"0s\"\nautostart = %v\n",
			name, writer(tag, n, false), log, autostart)
	}
	path := writeConfig(t, dir, prog("a", "a", true)+prog("b", "b", false))
	d := startDaemon(t, path)
	waitState(t, d, "a", "EXITED")
	checkLines(t, log, n, "a")

	writeConfig(t, dir, prog("b", "b", false)+prog("d", "d", true))
	df, err := d.Reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(df.Removed) != 1 || len(df.Added) != 1 || len(df.Changed) != 0 {
		t.Fatalf("reload diff %+v, want a removed and d added", df)
	}
	if _, err := d.StartProcesses(context.Background(), []string{"b"}, true); err != nil {
		t.Fatal(err)
	}
	if st := waitState(t, d, "b", "EXITED"); st.Error != "" || st.LogError != "" {
		t.Fatalf("b: %+v", st)
	}
	waitState(t, d, "d", "EXITED")
	checkLines(t, log, n, "a", "b", "d")
}

// TestLogDirectoryAndFilesAreNotWorldReadable: the AUTO log directory is
// created 0750 and log files 0640, both with log_group; an unknown
// log_group is refused naming the key. (A log file is created with the
// first bytes for it: the program writes to both.)
func TestLogDirectoryAndFilesAreNotWorldReadable(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := writeConfig(t, dir, "[program.a]\ncommand = [\"sh\", \"-c\", \"echo hi; echo err >&2\"]\nrestart = \"no\"\nstart_secs = \"0s\"\n")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Daemon.LogGroup = "no-such-group-corral"
	if _, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)}); err == nil || !strings.Contains(err.Error(), "log_group") {
		t.Fatalf("New with an unknown log_group: %v, want an error naming log_group", err)
	}
	cfg.Daemon.LogGroup = "65534"
	d := startDaemonCfg(t, cfg, dir)
	waitState(t, d, "a", "EXITED")
	logDir := filepath.Join(dir, "logs")
	waitFor(t, "bytes in both log files", func() bool {
		fi1, err1 := os.Stat(filepath.Join(logDir, "a-stdout.log"))
		fi2, err2 := os.Stat(filepath.Join(logDir, "a-stderr.log"))
		return err1 == nil && err2 == nil && fi1.Size() > 0 && fi2.Size() > 0
	})
	for _, c := range []struct {
		name string
		mode os.FileMode
	}{{logDir, 0o750 | os.ModeDir}, {filepath.Join(logDir, "a-stdout.log"), 0o640}, {filepath.Join(logDir, "a-stderr.log"), 0o640}} {
		fi, err := os.Stat(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if gid := fi.Sys().(*syscall.Stat_t).Gid; fi.Mode() != c.mode || gid != 65534 {
			t.Errorf("%s: mode %v gid %d, want %v gid 65534", c.name, fi.Mode(), gid, c.mode)
		}
	}
}

// TestSymlinkedLogInAProgramsDirectoryIsReportedAndNotFollowed: a program
// whose log file, in a directory its user (nobody) controls, is a symlink
// to a root-only file runs anyway, with the refusal in its status; the
// target is not written.
func TestSymlinkedLogInAProgramsDirectoryIsReportedAndNotFollowed(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (CI runs the suite as root)")
	}
	dir := t.TempDir()
	userDir := filepath.Join(dir, "nobody")
	if err := os.Mkdir(userDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(userDir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "secret")
	if err := os.WriteFile(target, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(userDir, "app.log")
	if err := os.Symlink(target, log); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, dir, fmt.Sprintf("[program.a]\ncommand = [\"echo\", \"stolen\"]\nstdout = { file = %q }\nrestart = \"no\"\nstart_secs = \"0s\"\n", log))
	d := startDaemon(t, path)
	st := waitState(t, d, "a", "EXITED")
	if !strings.Contains(st.LogError, log) || !strings.Contains(st.LogError, "refusing") {
		t.Fatalf("log error %q, want the refusal naming %s", st.LogError, log)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "secret\n" {
		t.Fatalf("%s holds %q, %v", target, b, err)
	}
}
