package logs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func newCapture(t testing.TB, opts Options) *Capture {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func openStream(t testing.TB, c *Capture, cfg StreamConfig) *Stream {
	t.Helper()
	s, err := c.OpenStream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// spawn starts /bin/sh -c script with stdout and stderr on w (closed here in
// the parent, as a spawner must) and stdin on stdin (nil: /dev/null). The
// process is killed and waited for at cleanup if the test did not wait.
func spawn(t testing.TB, w, stdin *os.File, script string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Stdout, cmd.Stderr = w, w
	if stdin != nil {
		cmd.Stdin = stdin
	}
	err := cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// run spawns script into a new pipe of s and waits for the pipe to be done
// and the process to exit.
func run(t testing.TB, s *Stream, script string) {
	t.Helper()
	w, done, err := s.NewPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := spawn(t, w, nil, script)
	<-done
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v", script, err)
	}
}

// files returns the content of path's backups, oldest first, then path.
func files(t testing.TB, path string) ([]byte, int) {
	t.Helper()
	var out bytes.Buffer
	n := 0
	for i := 1; ; i++ {
		if _, err := os.Stat(path + "." + strconv.Itoa(i)); err != nil {
			n = i - 1
			break
		}
	}
	for i := n; i >= 1; i-- {
		b, err := os.ReadFile(path + "." + strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(b)
	return out.Bytes(), n
}

// readUntil reads from f until it has n bytes or the stream ends.
func readUntil(t testing.TB, f *Follower, n int) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 1500)
	for len(out) < n {
		k, err := f.Read(context.Background(), buf)
		out = append(out, buf[:k]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + (seed+byte(i%26))%26
		if i%64 == 63 {
			b[i] = '\n'
		}
	}
	return b
}

// threads returns the OS threads of this process.
func threads(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

func isGap(err error) (*GapError, bool) {
	var g *GapError
	ok := errors.As(err, &g)
	return g, ok
}
