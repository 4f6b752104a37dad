package logs

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corralhq/corral/internal/safefs"
	"golang.org/x/sys/unix"
)

// DefaultMaxOpenFiles is how many log files a Capture keeps open at once,
// unless Options says otherwise.
const DefaultMaxOpenFiles = 256

// DefaultRetryInterval is how long a stream whose file failed to be written
// drops bytes before it tries the file again, unless Options says otherwise.
const DefaultRetryInterval = time.Second

// ErrClosed is returned by operations on a closed Capture or Stream.
var ErrClosed = errors.New("logs: closed")

// Options configures a Capture. The zero value is usable.
type Options struct {
	// OnDrop, if set, is called by the capture goroutine when a stream starts
	// dropping bytes because its file cannot be written, and again when
	// writing resumes. It must return quickly and never block: capture of
	// every stream waits for it.
	OnDrop func(DropEvent)

	// RetryInterval is how long a failing stream drains and drops bytes
	// before it tries its file again. Zero means DefaultRetryInterval.
	RetryInterval time.Duration

	// MaxOpenFiles bounds the log files (regular files) the Capture keeps
	// open. When a stream must write and its file is closed, the file
	// written least recently is closed to make room; a closed file is
	// reopened, at the end the stream tracks, when its stream next writes.
	// Zero or negative means DefaultMaxOpenFiles.
	MaxOpenFiles int

	// Logger receives write and rotation failures. Nil means slog.Default().
	Logger *slog.Logger

	// Group, when positive, is the group id given to the log files the
	// Capture creates (mode FileMode, 0640: the owner writes, the group
	// reads). Zero or negative leaves the group the kernel gives them.
	Group int

	// CreateAtOpen creates a missing log file when its stream is opened
	// rather than when its first bytes arrive: for a program that opens its
	// streams with privileges it gives up before the bytes come (a daemon
	// that drops root to the user of supervisord's [supervisord] user=).
	CreateAtOpen bool
}

// FileMode is the permission of the log files a Capture creates (before
// the process's umask): readable by their group, not by every user.
const FileMode = 0o640

// DropEvent reports an outage of one stream's log file.
type DropEvent struct {
	Path    string // the stream's log file
	Err     error  // the error that started the outage
	Dropped int64  // bytes dropped in this outage so far (all of them when Resumed)
	Resumed bool   // false when the outage starts, true when writing resumed
}

// Capture moves the bytes of many pipes into log files from one goroutine.
// Its methods are safe for concurrent use.
type Capture struct {
	opts   Options
	log    *slog.Logger
	epfd   int
	wakefd int
	done   chan struct{} // closed when the loop goroutine has returned

	mu      sync.Mutex
	cmds    []func()
	closed  bool
	streams map[*Stream]struct{}
	files   map[string]*Stream // regular log files of open streams

	parents heldDirs // HoldDirs

	// Owned by the loop goroutine.
	pipes map[int32]*pipe
	buf   []byte
	stop  bool

	// The regular log files open now, most recently written first; at most
	// opts.MaxOpenFiles of them. Owned by the loop goroutine.
	lruHead, lruTail *Stream
	nopen            int

	// For tests: files closed to make room, and rotations of a closed file.
	evictions, coldRotations atomic.Int64
}

// pipe is the read end of one pipe, owned by the loop goroutine.
type pipe struct {
	fd   int
	s    *Stream
	done chan struct{}
}

const (
	// serviceBudget bounds the bytes moved from one pipe per wake-up, so a
	// chatty program cannot starve the others.
	serviceBudget = 256 << 10
	bufSize       = 64 << 10
)

// New starts a Capture and its one goroutine.
func New(opts Options) (*Capture, error) {
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = DefaultRetryInterval
	}
	if opts.MaxOpenFiles <= 0 {
		opts.MaxOpenFiles = DefaultMaxOpenFiles
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("logs: epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("logs: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(wakefd)
		unix.Close(epfd)
		return nil, fmt.Errorf("logs: epoll_ctl: %w", err)
	}
	c := &Capture{
		opts:    opts,
		log:     log,
		epfd:    epfd,
		wakefd:  wakefd,
		done:    make(chan struct{}),
		streams: make(map[*Stream]struct{}),
		files:   make(map[string]*Stream),
		pipes:   make(map[int32]*pipe),
		buf:     make([]byte, bufSize),
	}
	go c.loop()
	return c, nil
}

// Close stops the capture goroutine. Bytes already in the pipes are moved
// to their files first; then every pipe's read end is closed (a program that
// writes afterwards gets EPIPE), every done channel is closed and every
// stream's file is closed. Close waits for all of this and is idempotent.
func (c *Capture) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.done
		return nil
	}
	c.closed = true
	c.cmds = append(c.cmds, func() { c.stop = true })
	c.mu.Unlock()
	c.wake()
	<-c.done
	return nil
}

// do queues f to run on the loop goroutine. Only the command that finds
// the queue empty wakes the loop: the loop reads the wake before it takes
// the queue, and takes all of it, so a command queued behind another is
// run with it (a batch of spawns makes one wake, not one per pipe).
func (c *Capture) do(f func()) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	first := len(c.cmds) == 0
	c.cmds = append(c.cmds, f)
	c.mu.Unlock()
	if first {
		c.wake()
	}
	return nil
}

func (c *Capture) wake() {
	one := [8]byte{1}
	// EAGAIN means the counter is already non-zero: the loop will wake.
	_, _ = unix.Write(c.wakefd, one[:])
}

func (c *Capture) loop() {
	defer close(c.done)
	events := make([]unix.EpollEvent, 256)
	for !c.stop {
		n, err := unix.EpollWait(c.epfd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			// Only a programming error (bad fd, bad buffer) gets here.
			c.log.Error("logs: epoll_wait failed, capture stops", "err", err)
			c.mu.Lock()
			c.closed = true
			c.mu.Unlock()
			break
		}
		commands := false
		for i := range n {
			fd := events[i].Fd
			if fd == int32(c.wakefd) {
				commands = true
				continue
			}
			if p := c.pipes[fd]; p != nil {
				c.service(p)
			}
		}
		if commands {
			var b [8]byte
			_, _ = unix.Read(c.wakefd, b[:])
			c.mu.Lock()
			cmds := c.cmds
			c.cmds = nil
			c.mu.Unlock()
			for _, f := range cmds {
				f()
			}
		}
	}
	c.shutdown()
}

// shutdown moves what the pipes hold now, then releases everything.
func (c *Capture) shutdown() {
	c.mu.Lock()
	cmds := c.cmds // queued before Close: register their pipes, then drain them
	c.cmds = nil
	c.mu.Unlock()
	for _, f := range cmds {
		f()
	}
	for _, p := range c.pipes {
		// Bounded: a program still writing must not hold up Close.
		for budget := serviceBudget; budget > 0; {
			n, eof := c.move(p, bufSize)
			if eof || n == 0 {
				break
			}
			budget -= n
		}
		c.finish(p)
	}
	c.mu.Lock()
	streams := c.streams
	c.streams = nil
	c.mu.Unlock()
	for s := range streams {
		c.finalize(s)
	}
	unix.Close(c.wakefd)
	unix.Close(c.epfd)
}

// service moves a bounded amount from one readable (or hung up) pipe. Each
// move asks for bufSize bytes, a pipe's default capacity, so it takes all
// the pipe holds: a write of at most PIPE_BUF bytes, which the kernel puts
// in a pipe in one piece, reaches the file in one piece, never mixed with
// the bytes of another pipe of the same stream.
func (c *Capture) service(p *pipe) {
	budget := serviceBudget
	for budget > 0 {
		n, eof := c.move(p, bufSize)
		if eof {
			c.finish(p)
			return
		}
		if n == 0 {
			return
		}
		budget -= n
	}
}

// addPipe registers the read end of a pipe; it runs on the loop goroutine.
func (c *Capture) addPipe(p *pipe) {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(p.fd)}
	if err := unix.EpollCtl(c.epfd, unix.EPOLL_CTL_ADD, p.fd, &ev); err != nil {
		// Cannot happen for a fresh pipe; never leave a writer with no reader
		// silently: the write end will see EPIPE.
		c.log.Error("logs: epoll_ctl add", "path", p.s.path, "err", err)
		unix.Close(p.fd)
		close(p.done)
		p.s.mu.Lock()
		p.s.live--
		p.s.mu.Unlock()
		return
	}
	c.pipes[int32(p.fd)] = p
	p.s.npipes++
	p.s.pipes.Add(1)
}

// finish releases a pipe that reached end of file (or the Capture closes).
func (c *Capture) finish(p *pipe) {
	if _, ok := c.pipes[int32(p.fd)]; !ok {
		return
	}
	_ = unix.EpollCtl(c.epfd, unix.EPOLL_CTL_DEL, p.fd, nil)
	unix.Close(p.fd)
	delete(c.pipes, int32(p.fd))
	s := p.s
	s.mu.Lock()
	s.live--
	s.mu.Unlock()
	s.npipes--
	s.pipes.Add(-1)
	if s.closing && s.npipes == 0 {
		c.finalize(s)
	}
	// Last: whoever waits on done sees the pipe fully accounted for.
	close(p.done)
}

// move moves at most max bytes from p to its stream's file. It returns the
// number of bytes taken from the pipe (0 when the pipe is empty) and whether
// the pipe reached end of file.
func (c *Capture) move(p *pipe, max int) (int, bool) {
	s := p.s
	if s.path == "" {
		n, eof := c.drain(p, max)
		if s.tap != nil && n > 0 {
			s.tap(c.buf[:n])
		}
		s.read.Add(int64(n))
		return n, eof
	}
	if s.failing && time.Now().Before(s.retryAt) {
		n, eof := c.drain(p, max)
		c.dropped(s, n, nil)
		return n, eof
	}
	// A full file rotates only once there are bytes for the new one, which
	// the shared buffer holds meanwhile; otherwise splice up to the limit.
	// A closed file, likewise, is reopened only once there are bytes for it,
	// so that an end of file or a spurious wake-up opens nothing.
	// A stream fed by several pipes takes the buffer near the rotation
	// point too: a splice cut at MaxBytes would leave the rest of a line in
	// the pipe, and another pipe could get its bytes in between.
	full := s.rotates() && s.size >= s.maxBytes && !time.Now().Before(s.rotateAt)
	near := s.rotates() && s.npipes > 1 && s.maxBytes-s.size < int64(max)
	if s.splice && !full && !near && s.fd >= 0 {
		c.touch(s)
		want := max
		if room := s.maxBytes - s.size; s.rotates() && room > 0 && room < int64(want) {
			want = int(room)
		}
		for {
			n, err := unix.Splice(p.fd, nil, s.fd, nil, want, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			switch {
			case err == nil && n == 0:
				return 0, true
			case err == nil:
				c.wrote(s, int(n))
				return int(n), false
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return 0, false
			case err == unix.EINVAL:
				// This file (or file system) cannot be spliced into.
				s.splice = false
			default:
				n, eof := c.drain(p, max)
				c.dropped(s, n, err)
				return n, eof
			}
			break
		}
	}
	n, eof := c.drain(p, max)
	if n == 0 {
		return 0, eof
	}
	if s.tap != nil {
		s.tap(c.buf[:n])
	}
	c.store(s, c.buf[:n])
	return n, false
}

// store writes b to s's file, rotating at MaxBytes, and accounts for every
// byte: stored, or dropped if the file cannot be written.
func (c *Capture) store(s *Stream, b []byte) {
	for len(b) > 0 {
		chunk := b
		if s.rotates() {
			if s.size >= s.maxBytes {
				c.rotate(s)
			}
			if room := s.maxBytes - s.size; room > 0 && room < int64(len(chunk)) {
				chunk = chunk[:room]
			}
		}
		if err := c.acquire(s); err != nil {
			c.dropped(s, len(b), err)
			return
		}
		k, err := writeAll(s.fd, chunk)
		if k > 0 {
			c.wrote(s, k)
			b = b[k:]
		}
		if err != nil {
			c.dropped(s, len(b), err)
			return
		}
	}
}

func writeAll(fd int, b []byte) (int, error) {
	w := 0
	for w < len(b) {
		k, err := unix.Write(fd, b[w:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return w, err
		}
		if k == 0 {
			return w, io.ErrShortWrite
		}
		w += k
	}
	return w, nil
}

// drain reads at most max bytes from p into the shared buffer.
func (c *Capture) drain(p *pipe, max int) (int, bool) {
	if max > len(c.buf) {
		max = len(c.buf)
	}
	for {
		n, err := unix.Read(p.fd, c.buf[:max])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, false
		case err != nil:
			// A pipe read end fails only if the fd is broken; treat it as
			// closed rather than spin on it.
			c.log.Error("logs: read pipe", "path", p.s.path, "err", err)
			return 0, true
		case n == 0:
			return 0, true
		}
		return n, false
	}
}

// wrote accounts n bytes stored in s's current file.
func (c *Capture) wrote(s *Stream, n int) {
	s.size += int64(n)
	s.read.Add(int64(n))
	s.written.Add(int64(n))
	s.end.Add(int64(n))
	if s.failing {
		s.failing = false
		ev := DropEvent{Path: s.path, Err: s.failErr, Dropped: s.outage, Resumed: true}
		s.outage = 0
		s.failErr = nil
		c.log.Info("logs: writing resumed", "path", s.path, "dropped", ev.Dropped)
		if c.opts.OnDrop != nil {
			c.opts.OnDrop(ev)
		}
	}
	s.notify()
}

// dropped accounts n bytes drained from a pipe of s but not stored. err is
// the write error, or nil while an outage is already under way.
func (c *Capture) dropped(s *Stream, n int, err error) {
	if n == 0 && err == nil {
		return
	}
	s.read.Add(int64(n))
	s.dropped.Add(int64(n))
	s.retryAt = time.Now().Add(c.opts.RetryInterval)
	if s.failing {
		s.outage += int64(n)
		return
	}
	s.failing = true
	s.failErr = err
	s.outage = int64(n)
	c.log.Warn("logs: cannot write log file, dropping bytes until it can", "path", s.path, "err", err)
	if c.opts.OnDrop != nil {
		c.opts.OnDrop(DropEvent{Path: s.path, Err: err, Dropped: int64(n)})
	}
}

// finalize closes a stream's file once it is closing and has no pipes left.
func (c *Capture) finalize(s *Stream) {
	if s.fd >= 0 {
		if s.regular {
			c.unlink(s)
			c.nopen--
		}
		unix.Close(s.fd)
		s.fd = -1
	}
	s.finalized = true
	c.mu.Lock()
	if c.streams != nil {
		delete(c.streams, s)
	}
	if s.key != "" && c.files[s.key] == s {
		delete(c.files, s.key)
	}
	c.mu.Unlock()
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		if s.closedCh != nil {
			close(s.closedCh)
		}
	}
	s.mu.Unlock()
}

// closedChan returns a channel closed when the stream is. It is made at
// the first call (a follower waiting), not for every stream: most streams
// never have a follower, and a channel is 96 bytes.
func (s *Stream) closedChan() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closedCh == nil {
		s.closedCh = make(chan struct{})
		if s.closed {
			close(s.closedCh)
		}
	}
	return s.closedCh
}

// newPipe makes a pipe for s and queues its read end for the loop.
func (c *Capture) newPipe(s *Stream) (*os.File, <-chan struct{}, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("logs: new pipe for %q: %w", s.path, withLimit(err))
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("logs: new pipe for %q: %w", s.path, err)
	}
	p := &pipe{fd: fds[0], s: s, done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Queued under s.mu so that a concurrent Close is ordered after it.
	if s.closeRequested {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, ErrClosed
	}
	if err := c.do(func() { c.addPipe(p) }); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, err
	}
	s.live++
	return os.NewFile(uintptr(fds[1]), "|"+s.path), p.done, nil
}

// acquire makes sure s's file is open, for a write: it reopens a closed
// regular file at the end the stream tracks, closing the file written least
// recently if MaxOpenFiles are open, and marks the file most recently
// written. On failure the bytes are dropped as for a failed write.
func (c *Capture) acquire(s *Stream) error {
	if s.fd >= 0 {
		if s.regular {
			c.touch(s)
		}
		return nil
	}
	for c.nopen >= c.opts.MaxOpenFiles && c.lruTail != nil {
		c.evict(c.lruTail)
	}
	for {
		// No O_APPEND, as in OpenStream: the offset is set below.
		fd, err := c.openLog(s.path, unix.O_WRONLY|unix.O_CREAT|unix.O_NONBLOCK)
		if (errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)) && c.lruTail != nil {
			// Pipes took the descriptors: fewer log files open beats
			// dropping bytes.
			c.evict(c.lruTail)
			continue
		}
		if err != nil {
			return err
		}
		// The end the stream tracks, not the file's: bytes past it are not
		// the stream's, and a file truncated behind its back gets a hole,
		// as it would have if it had stayed open.
		if _, err := unix.Seek(fd, s.size, io.SeekStart); err != nil {
			unix.Close(fd)
			return &os.PathError{Op: "seek", Path: s.path, Err: err}
		}
		s.fd = fd
		break
	}
	c.nopen++
	s.lruNext = c.lruHead
	if c.lruHead != nil {
		c.lruHead.lruPrev = s
	} else {
		c.lruTail = s
	}
	c.lruHead = s
	return nil
}

// openLog opens a log file without following a symlink that a user other
// than root (or the daemon's) could have placed: the directory of a log is
// often writable by the program's user (see package safefs). A file it
// creates gets FileMode and Options.Group.
func (c *Capture) openLog(path string, flag int) (int, error) {
	fd, err := safefs.OpenFile(path, flag, FileMode)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			pe.Err = withLimit(pe.Err)
		}
		return -1, err
	}
	c.setGroup(fd)
	return fd, nil
}

// setGroup gives a regular file the daemon owns the group of Options.Group.
func (c *Capture) setGroup(fd int) {
	if c.opts.Group <= 0 {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG ||
		st.Uid != uint32(os.Geteuid()) || st.Gid == uint32(c.opts.Group) {
		return
	}
	if err := unix.Fchown(fd, -1, c.opts.Group); err != nil {
		c.log.Warn("logs: cannot give a log file its group", "gid", c.opts.Group, "err", err)
	}
}

// evict closes the open file of s, a regular file.
func (c *Capture) evict(s *Stream) {
	c.unlink(s)
	c.nopen--
	unix.Close(s.fd)
	s.fd = -1
	c.evictions.Add(1)
}

// touch marks the open file of s as the one written most recently.
func (c *Capture) touch(s *Stream) {
	if c.lruHead == s {
		return
	}
	c.unlink(s)
	s.lruNext = c.lruHead
	if c.lruHead != nil {
		c.lruHead.lruPrev = s
	} else {
		c.lruTail = s
	}
	c.lruHead = s
}

// unlink takes s out of the list of open files.
func (c *Capture) unlink(s *Stream) {
	if s.lruPrev != nil {
		s.lruPrev.lruNext = s.lruNext
	} else {
		c.lruHead = s.lruNext
	}
	if s.lruNext != nil {
		s.lruNext.lruPrev = s.lruPrev
	} else {
		c.lruTail = s.lruPrev
	}
	s.lruPrev, s.lruNext = nil, nil
}

// withLimit names the limit behind "too many open files".
func withLimit(err error) error {
	switch err {
	case unix.EMFILE:
		var rl unix.Rlimit
		if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
			return fmt.Errorf("%w (RLIMIT_NOFILE, %d descriptors, reached)", err, rl.Cur)
		}
		return fmt.Errorf("%w (RLIMIT_NOFILE reached)", err)
	case unix.ENFILE:
		return fmt.Errorf("%w (the system-wide limit, fs.file-max, reached)", err)
	}
	return err
}

// Group returns Options.Group, the group id given to new log files (0 or
// negative: none).
func (c *Capture) Group() int { return c.opts.Group }
