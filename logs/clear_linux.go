package logs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/corralhq/corral/internal/safefs"

	"golang.org/x/sys/unix"
)

// Clear empties the stream's log, as supervisorctl clear does: the backups
// are removed and the current file is truncated. Positions keep counting,
// so Start, FileStart and End all become the End before the call; a
// follower that had not read the cleared bytes gets a *GapError for them.
// Clear runs on the capture goroutine and waits for it. A stream whose
// bytes are not kept in a regular file returns ErrNotReadable.
func (s *Stream) Clear() error {
	if !s.regular {
		return ErrNotReadable
	}
	errc := make(chan error, 1)
	if err := s.c.do(func() { errc <- s.c.clear(s) }); err != nil {
		return err
	}
	return <-errc
}

// clear runs on the loop goroutine, the only writer of s.fd.
func (c *Capture) clear(s *Stream) error {
	s.mu.Lock()
	released := s.released
	s.mu.Unlock()
	if s.finalized || released {
		// The file may be another stream's now.
		return ErrClosed
	}
	if err := c.acquire(s); err != nil {
		return fmt.Errorf("logs: clear: %w", err)
	}
	// Readers open files by name under s.mu: they see the old layout or
	// the new one, never a mix.
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := unix.Ftruncate(s.fd, 0); err != nil {
		return fmt.Errorf("logs: clear: %w", &os.PathError{Op: "truncate", Path: s.path, Err: err})
	}
	if _, err := unix.Seek(s.fd, 0, io.SeekStart); err != nil {
		return fmt.Errorf("logs: clear: %w", &os.PathError{Op: "seek", Path: s.path, Err: err})
	}
	s.size = 0
	var errs []error
	if s.backups > 0 {
		// By name in the directory, never through a symlink (see rotate).
		d, base, err := safefs.OpenParent(s.path)
		if err != nil {
			return fmt.Errorf("logs: clear: %w", err)
		}
		for i := 1; i <= s.backups; i++ {
			if err := d.Remove(base + "." + strconv.Itoa(i)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		d.Close()
	}
	s.starts = []int64{s.end.Load()}
	if len(errs) > 0 {
		return fmt.Errorf("logs: clear: %w", errors.Join(errs...))
	}
	return nil
}
