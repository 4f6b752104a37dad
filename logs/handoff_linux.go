package logs

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Freeze stops the capture goroutine between two moves and returns the read
// ends of the pipes it holds, by stream: every byte taken from a pipe is in
// its file, and what a program writes from now on waits in its pipe. It is
// for an in-place upgrade (execve): the read ends are carried into the new
// image, which adopts them (Stream.AdoptPipe) and reads on where this one
// stopped. thaw resumes the capture (after a failed exec) and may be called
// more than once.
func (c *Capture) Freeze() (pipes map[*Stream][]int, thaw func(), err error) {
	frozen := make(chan map[*Stream][]int)
	resume := make(chan struct{})
	if err := c.do(func() {
		m := make(map[*Stream][]int, len(c.pipes))
		for fd, p := range c.pipes {
			m[p.s] = append(m[p.s], int(fd))
		}
		frozen <- m
		<-resume
	}); err != nil {
		return nil, nil, err
	}
	pipes = <-frozen
	var once bool
	return pipes, func() {
		if !once {
			once = true
			close(resume)
		}
	}, nil
}

// AdoptPipe makes fd, the read end of a pipe a previous image of this
// process fed s with (see Freeze), one of s's pipes. done is closed when the
// pipe reaches end of file and its bytes are stored, as for NewPipe.
func (s *Stream) AdoptPipe(fd int) (done <-chan struct{}, err error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("logs: adopt pipe %d for %q: %w", fd, s.path, err)
	}
	unix.CloseOnExec(fd)
	p := &pipe{fd: fd, s: s, done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closeRequested {
		return nil, ErrClosed
	}
	if err := s.c.do(func() { s.c.addPipe(p) }); err != nil {
		return nil, err
	}
	s.live++
	return p.done, nil
}
