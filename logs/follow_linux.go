package logs

import (
	"context"
	"errors"
	"io"
)

// Follower reads a stream's bytes as they are written, across rotations.
// It reads the files itself: the capture goroutine only wakes it, never
// waits for it. A Follower is used by one goroutine at a time.
type Follower struct {
	s    *Stream
	pos  int64
	wake chan struct{} // capacity 1: wake-ups coalesce
	r    reader
}

// Follow returns a Follower that reads from stream position from; a
// negative from means the current end (only new bytes). Close it when done.
func (s *Stream) Follow(from int64) (*Follower, error) {
	if !s.regular {
		return nil, ErrNotReadable
	}
	if end := s.end.Load(); from < 0 || from > end {
		from = end
	}
	f := &Follower{s: s, pos: from, wake: make(chan struct{}, 1)}
	s.fmu.Lock()
	if s.followers == nil {
		s.followers = make(map[*Follower]struct{})
	}
	s.followers[f] = struct{}{}
	s.nfollow.Add(1)
	s.fmu.Unlock()
	return f, nil
}

// Pos returns the position of the next byte Read returns.
func (f *Follower) Pos() int64 { return f.pos }

// Read reads the next bytes of the stream into p, waiting until at least one
// is written. It returns io.EOF once the stream is closed and every byte was
// read, ctx.Err() if ctx ends first, and a *GapError (with n == 0) if the
// next bytes were rotated away: the Follower then skips to the oldest byte
// kept, so the next Read continues from there.
func (f *Follower) Read(ctx context.Context, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		closed := f.s.isClosed()
		n, err := f.r.read(f.s, p, f.pos)
		f.pos += int64(n)
		var gap *GapError
		if errors.As(err, &gap) {
			f.pos = gap.Next
			return 0, err
		}
		if n > 0 || err != nil {
			return n, err
		}
		if closed {
			return 0, io.EOF
		}
		select {
		case <-f.wake:
		case <-f.s.closedChan():
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Close releases the Follower.
func (f *Follower) Close() error {
	f.s.fmu.Lock()
	if _, ok := f.s.followers[f]; ok {
		delete(f.s.followers, f)
		f.s.nfollow.Add(-1)
	}
	f.s.fmu.Unlock()
	f.r.close()
	return nil
}

func (s *Stream) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
