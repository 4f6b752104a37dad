package daemon

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Errors of SendStdin.
var (
	// ErrNoStdin: the process has no stdin pipe (stdin = "null", or it was
	// never started) or its read end is closed (the process closed its
	// stdin, or exited). supervisord's NO_FILE fault.
	ErrNoStdin = errors.New("no stdin pipe to the process")
	// ErrStdinFull: the pipe is full because the process does not read
	// its stdin; part of the data may have been written (the error says
	// how much).
	ErrStdinFull = errors.New("the process's stdin pipe is full")
)

// stdinPipe is the write end of a process's stdin pipe (stdin = "pipe"),
// which the daemon holds from a spawn to the next one, or until the
// program is removed: one descriptor per process (see programFDs). It is
// non-blocking, and its only buffer is the pipe's (64 KiB): a write that
// does not fit fails with ErrStdinFull at once, so no caller ever waits on
// a process that does not read, and the daemon buffers nothing. Guarded by
// proc.mu.
type stdinPipe struct {
	on bool
	fd int // -1: none
}

func (s *stdinPipe) init(on bool) { s.on, s.fd = on, -1 }

// newStdin makes the stdin pipe of the next spawn and returns its read end
// (the monitor gives it to the child and closes its own copy), or the
// program's FastCGI socket, or nil for /dev/null. The previous spawn's write end is closed: that process is
// gone.
func (pr *proc) newStdin() (*os.File, error) {
	if fs := pr.program.fcgi; fs != nil {
		return fs.stdinFile()
	}
	if !pr.stdin.on {
		return nil, nil
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	if err := unix.SetNonblock(p[1], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	pr.mu.Lock()
	if pr.stdin.fd >= 0 {
		unix.Close(pr.stdin.fd)
	}
	pr.stdin.fd = p[1]
	pr.mu.Unlock()
	return os.NewFile(uintptr(p[0]), "stdin"), nil
}

// closeStdin closes the write end, if any: the process reads end of file.
func (pr *proc) closeStdin() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.stdin.fd >= 0 {
		unix.Close(pr.stdin.fd)
		pr.stdin.fd = -1
	}
}

func closeFile(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// SendStdin writes data to the stdin pipe of the one process name names
// (as Resolve reads it: "web", "group:web"), as XML-RPC's supervisor.sendProcessStdin does. It never
// waits: it returns ErrNoSuchProcess, ErrNoStdin (wrapped) when there is no
// pipe or nobody reads it any more, or ErrStdinFull (wrapped, with the
// number of bytes written) when the pipe cannot take all of data now.
// Whether the process is running is the caller's check (the monitor's
// state); a pipe of a process that exited reads as ErrNoStdin.
func (d *Daemon) SendStdin(name string, data []byte) error {
	names, err := d.Resolve([]string{name})
	if err != nil {
		return err
	}
	if len(names) != 1 {
		return fmt.Errorf("%w: %s names %d processes, want one", ErrBadRequest, name, len(names))
	}
	d.mu.Lock()
	pr := d.procs[names[0]]
	d.mu.Unlock()
	if pr == nil {
		return fmt.Errorf("%w: %s", ErrNoSuchProcess, name)
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if !pr.stdin.on {
		return fmt.Errorf("%w: %s has stdin = %q", ErrNoStdin, name, "null")
	}
	for done := 0; done < len(data); {
		if pr.stdin.fd < 0 {
			return fmt.Errorf("%w: %s's stdin is closed", ErrNoStdin, name)
		}
		n, err := unix.Write(pr.stdin.fd, data[done:])
		if n > 0 {
			done += n
		}
		switch {
		case err == nil, errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			return fmt.Errorf("%w: %s: %d of %d bytes written; the process does not read its stdin (the pipe holds 64 KiB)",
				ErrStdinFull, name, done, len(data))
		case errors.Is(err, unix.EPIPE):
			unix.Close(pr.stdin.fd)
			pr.stdin.fd = -1
			return fmt.Errorf("%w: %s closed its stdin", ErrNoStdin, name)
		default:
			return fmt.Errorf("write to %s's stdin: %w", name, err)
		}
	}
	return nil
}
