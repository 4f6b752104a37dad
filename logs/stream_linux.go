package logs

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corralhq/corral/internal/safefs"
	"golang.org/x/sys/unix"
)

// Defaults of StreamConfig, as in supervisord.
const (
	DefaultMaxBytes = 50 << 20
	DefaultBackups  = 10
)

// ErrNotReadable is returned by readers of a stream whose bytes are not kept
// in a regular file: a discarding stream, or a path such as /dev/stdout.
var ErrNotReadable = errors.New("logs: stream is not kept in a regular file")

// StreamConfig describes one log file.
type StreamConfig struct {
	// Path is the log file. Empty means the bytes are drained and discarded.
	// A path that is not a regular file (/dev/stdout, a FIFO) is written but
	// never rotated nor read back.
	Path string

	// MaxBytes is the size at which the file rotates. Zero means
	// DefaultMaxBytes; negative means never rotate (supervisord's 0).
	MaxBytes int64

	// Backups is the number of rotated files kept (name.log.1 is the
	// newest). Zero means DefaultBackups; negative means none: the file
	// restarts empty at each rotation (supervisord's 0).
	Backups int

	// Tap, when set, is called on the capture goroutine with each chunk
	// read from the stream's pipes, before it is stored (supervisord's
	// debug-level copy of the output into its own log). It must neither
	// keep the slice nor block. The bytes of a stream with a Tap go
	// through the capture's buffer instead of splice(2).
	Tap func(b []byte)
}

// StreamStats are a stream's counters, for metrics and readers. Positions
// count bytes stored in the stream's files (see the package documentation).
type StreamStats struct {
	Read    int64 // bytes taken from the stream's pipes since it was opened
	Written int64 // of those, bytes stored in the log files
	Dropped int64 // of those, bytes lost because the file could not be written

	Start     int64 // position of the oldest byte still kept (oldest backup)
	FileStart int64 // position of the first byte of the current file
	End       int64 // position after the last byte stored

	Pipes int // pipes currently feeding the stream
}

// Stream is one log file fed by any number of pipes. Its methods are safe
// for concurrent use.
type Stream struct {
	c        *Capture
	path     string
	key      string // absolute path of a regular file, in Capture.files
	maxBytes int64  // <= 0: never rotate
	backups  int    // 0: none kept
	regular  bool
	special  bool // see isSpecial: appended to, never rotated nor closed

	read, written, dropped, end atomic.Int64
	pipes                       atomic.Int64

	// Owned by the loop goroutine. (The bools together: one word for the
	// four, where a word each made a stream 352 bytes instead of 320.)
	fd   int   // -1: discarding, closed (see Options.MaxOpenFiles) or finalized
	size int64 // bytes in the current file: where the next byte goes

	lruPrev, lruNext *Stream // in Capture's list of open files while fd >= 0
	tap              func([]byte)
	npipes           int
	failErr          error
	outage           int64
	retryAt          time.Time
	rotateAt         time.Time // earliest retry of a failed rotation
	finalized        bool
	splice           bool
	closing          bool
	failing          bool

	mu             sync.Mutex
	starts         []int64 // starts[0]: current file; starts[i]: backup i
	live           int     // pipes made and not yet done
	closeRequested bool
	released       bool // the path is free for another stream
	closed         bool
	closedCh       chan struct{} // made by the first closedChan, nil until then

	fmu       sync.Mutex
	followers map[*Follower]struct{}
	nfollow   atomic.Int32
}

// OpenStream opens the log file cfg.Path for appending. A file that does
// not exist yet is created when the first bytes for it arrive (its
// directory must exist and be writable now), unless Options.CreateAtOpen. Bytes already in the file and
// in its backups are kept and readable. The error names the path; a caller that still wants to run the
// program can open a discarding stream (empty Path) instead. The file of a
// regular path is closed again until there are bytes for it (see
// Options.MaxOpenFiles); other paths stay open. A regular file
// can belong to one open stream at a time (until that stream is closed and
// its pipes are done): to send several programs or stdout and stderr to one
// file, give them pipes of the same stream.
func (c *Capture) OpenStream(cfg StreamConfig) (*Stream, error) {
	s := &Stream{
		c:        c,
		path:     cfg.Path,
		maxBytes: cfg.MaxBytes,
		backups:  cfg.Backups,
		tap:      cfg.Tap,
		fd:       -1,
		starts:   []int64{0},
	}
	if s.maxBytes == 0 {
		s.maxBytes = DefaultMaxBytes
	}
	if s.backups == 0 {
		s.backups = DefaultBackups
	} else if s.backups < 0 {
		s.backups = 0
	}
	if cfg.Path != "" {
		abs, err := filepath.Abs(cfg.Path)
		if err != nil {
			return nil, fmt.Errorf("logs: %w", err)
		}
		s.special = isSpecial(abs)
		open := s.openOrDefer
		if s.special || c.opts.CreateAtOpen {
			open = s.open
		}
		if err := open(); err != nil {
			return nil, err
		}
		if s.regular && s.fd >= 0 {
			// The capture goroutine opens it when it has bytes for it, so
			// that at most Options.MaxOpenFiles log files are open.
			unix.Close(s.fd)
			s.fd = -1
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fail := func(err error) (*Stream, error) {
		if s.fd >= 0 {
			unix.Close(s.fd)
		}
		return nil, err
	}
	if c.closed {
		return fail(ErrClosed)
	}
	if s.regular {
		// Two streams writing one file would overwrite each other's bytes.
		s.key, _ = filepath.Abs(s.path)
		if _, busy := c.files[s.key]; busy {
			return fail(fmt.Errorf("logs: %q is already the log file of an open stream; feed several pipes into one stream instead", s.path))
		}
		c.files[s.key] = s
	}
	c.streams[s] = struct{}{}
	return s, nil
}

func (s *Stream) open() error {
	// O_NONBLOCK: a FIFO with no reader is an error (ENXIO), not a hang, and
	// a full FIFO or pipe drops bytes rather than block the capture. It has
	// no effect on regular files. A special path (/dev/stdout) may be a file
	// others write too (the daemon's own log): it is appended to.
	flag := unix.O_WRONLY | unix.O_CREAT | unix.O_NONBLOCK
	if s.special {
		flag |= unix.O_APPEND
	}
	fd, err := s.c.openLog(s.path, flag)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return fmt.Errorf("logs: %w", &os.PathError{Op: "stat", Path: s.path, Err: err})
	}
	s.fd = fd
	s.regular = !s.special && st.Mode&unix.S_IFMT == unix.S_IFREG
	if !s.regular {
		return nil
	}
	// No O_APPEND: splice(2) refuses files opened with it. The capture
	// goroutine is the only writer, so the file offset stays at the end,
	// and it seeks to the end it tracks whenever it reopens the file.
	size, err := unix.Seek(fd, 0, io.SeekEnd)
	if err != nil {
		unix.Close(fd)
		s.fd = -1
		return fmt.Errorf("logs: %w", &os.PathError{Op: "seek", Path: s.path, Err: err})
	}
	if d, name, err := safefs.OpenParent(s.path); err == nil {
		s.place(d, name, size)
		d.Close()
	} else {
		s.place(nil, "", size)
	}
	return nil
}

// openOrDefer opens the regular log file of a new stream as open does if
// it exists. If it does not, it is not created now but by the capture when
// the first bytes for it arrive (acquire): starting thousands of programs
// then creates no file for those that have printed nothing yet, which was
// most of the time a start took (creating a file costs the filesystem far
// more than opening one). What would make creating it fail later is checked
// now, so that a bad path is still refused here: its directory must exist,
// be one the daemon may trust, and be writable.
func (s *Stream) openOrDefer() error {
	d, name, held, done, err := s.c.parents.open(s.path)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	defer done()
	if !held.absent(name) {
		if _, err := d.Lstat(name); !errors.Is(err, unix.ENOENT) {
			return s.open() // there is something: open it, or say why not
		}
	}
	if err := held.canCreate(d); err != nil {
		return fmt.Errorf("logs: %w", &os.PathError{Op: "create", Path: s.path, Err: err})
	}
	s.regular = true
	s.placeHeld(d, held, name, 0)
	return nil
}

// place sets the positions of a regular file holding size bytes, named name
// in d, and of its backups already on disk, which come before it. A nil d
// means the backups cannot be looked for.
func (s *Stream) place(d *safefs.Dir, name string, size int64) {
	s.placeHeld(d, nil, name, size)
}

// placeHeld is place, asking held first whether a backup can exist.
func (s *Stream) placeHeld(d *safefs.Dir, held *heldDir, name string, size int64) {
	s.size = size
	s.splice = s.tap == nil
	var sizes []int64
	if d != nil {
		for i := 1; i <= s.backups; i++ {
			backup := name + "." + strconv.Itoa(i)
			if held.absent(backup) {
				break
			}
			st, err := d.Lstat(backup)
			if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
				break
			}
			sizes = append(sizes, st.Size)
		}
	}
	var total int64
	for _, n := range sizes {
		total += n
	}
	s.starts = make([]int64, 1+len(sizes))
	s.starts[0] = total
	for i := 1; i < len(s.starts); i++ {
		s.starts[i] = s.starts[i-1] - sizes[i-1]
	}
	s.end.Store(total + size)
}

// isSpecial reports whether abs names a descriptor of the daemon rather
// than a log file of its own: /dev/stdout, /dev/stderr, /dev/fd/N, or a
// /proc path. It may be a regular file others write too (the daemon's own
// log), so it is appended to, never rotated, closed nor read back.
func isSpecial(abs string) bool {
	return abs == "/dev/stdout" || abs == "/dev/stderr" ||
		strings.HasPrefix(abs, "/dev/fd/") || strings.HasPrefix(abs, "/proc/")
}

// Path returns the stream's log file ("" for a discarding stream).
func (s *Stream) Path() string { return s.path }

// NewPipe makes a pipe feeding the stream and returns its write end, to be
// given to a child as stdout (and stderr, to redirect stderr into stdout).
// The caller must close w once the child is spawned (or the spawn failed).
// done is closed when every writer of the pipe has closed it and all its
// bytes are stored (or counted as dropped), or when the Capture closes.
func (s *Stream) NewPipe() (w *os.File, done <-chan struct{}, err error) {
	return s.c.newPipe(s)
}

// Close closes the stream: no new pipes; its file is closed once its last
// pipe is done, and followers then see io.EOF. Its files stay readable
// through ReadAt and Tail. Close does not wait and is idempotent.
func (s *Stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closeRequested {
		return nil
	}
	s.closeRequested = true
	if s.live == 0 && s.key != "" {
		// Nothing can write the file any more: another stream may have it
		// now, as the documentation of OpenStream promises, without
		// waiting for the capture goroutine.
		s.released = true
		s.c.mu.Lock()
		if s.c.files[s.key] == s {
			delete(s.c.files, s.key)
		}
		s.c.mu.Unlock()
	}
	// If the Capture is closed, its shutdown finalizes the stream.
	_ = s.c.do(func() {
		s.closing = true
		if s.npipes == 0 {
			s.c.finalize(s)
		}
	})
	return nil
}

// Stats returns the stream's counters.
func (s *Stream) Stats() StreamStats {
	s.mu.Lock()
	start, fileStart := s.starts[len(s.starts)-1], s.starts[0]
	end := s.end.Load()
	s.mu.Unlock()
	return StreamStats{
		Read:      s.read.Load(),
		Written:   s.written.Load(),
		Dropped:   s.dropped.Load(),
		Start:     start,
		FileStart: fileStart,
		End:       end,
		Pipes:     int(s.pipes.Load()),
	}
}

// Dropped returns the number of bytes lost because the file could not be
// written.
func (s *Stream) Dropped() int64 { return s.dropped.Load() }

func (s *Stream) backupName(i int) string { return s.path + "." + strconv.Itoa(i) }

func (s *Stream) fileName(i int) string {
	if i == 0 {
		return s.path
	}
	return s.backupName(i)
}

func (s *Stream) rotates() bool { return s.regular && s.maxBytes > 0 }

// rotate renames name.log.(N-1) -> name.log.N ... name.log -> name.log.1 and
// starts a new name.log, on the loop goroutine. On failure it keeps writing
// to the current file (a log larger than MaxBytes loses nothing) and tries
// again after the retry interval.
func (c *Capture) rotate(s *Stream) {
	now := time.Now()
	if now.Before(s.rotateAt) {
		return
	}
	cold := s.fd < 0
	if err := s.rotate(); err != nil {
		s.rotateAt = now.Add(c.opts.RetryInterval)
		c.log.Warn("logs: cannot rotate log file, writing past max bytes", "path", s.path, "err", err)
		return
	}
	if cold {
		c.coldRotations.Add(1)
	}
}

// rotate rotates an open file (s.fd >= 0) or a closed one (see
// Options.MaxOpenFiles). A closed file is only renamed (or removed if no
// backups are kept): the next write creates the new one.
func (s *Stream) rotate() error {
	// Every name is taken relative to the directory's descriptor, resolved
	// now, and none is followed if a symlink: the directory may be writable
	// by the program's user (see OpenStream).
	d, base, err := safefs.OpenParent(s.path)
	if err != nil {
		return err
	}
	defer d.Close()
	backup := func(i int) string { return base + "." + strconv.Itoa(i) }
	// Create the new file first, so that a failure leaves everything as it
	// was. It replaces the open file, so the files open do not grow. A file
	// already there (a symlink someone planted) is removed, not followed.
	tmp := base + ".rotating"
	fd := -1
	if s.fd >= 0 {
		_ = d.Remove(tmp)
		fd, err = d.OpenAt(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, FileMode)
		if err != nil {
			return fmt.Errorf("create %s.rotating: %w", s.path, withLimit(err))
		}
		s.c.setGroup(fd)
	}
	// Readers open files by name under s.mu, so they never see a half-done
	// rotation.
	s.mu.Lock()
	defer s.mu.Unlock()
	var moved []int // backups renamed i -> i+1, to undo on failure
	undo := func() {
		for j := len(moved) - 1; j >= 0; j-- {
			_ = d.Rename(backup(moved[j]+1), backup(moved[j]))
		}
		if fd >= 0 {
			unix.Close(fd)
			_ = d.Remove(tmp)
		}
	}
	for i := s.backups - 1; i >= 1; i-- {
		err := d.Rename(backup(i), backup(i+1))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			undo()
			return err
		}
		moved = append(moved, i)
	}
	if s.backups > 0 {
		if err := d.Rename(base, backup(1)); err != nil {
			undo()
			return err
		}
	}
	switch {
	case fd >= 0:
		if err := d.Rename(tmp, base); err != nil {
			if s.backups > 0 {
				_ = d.Rename(backup(1), base)
			}
			undo()
			return err
		}
		unix.Close(s.fd)
		s.fd = fd // same place in Capture's list of open files
	case s.backups == 0:
		if err := d.Remove(base); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	s.size = 0
	end := s.end.Load()
	n := len(s.starts) + 1
	if n > 1+s.backups {
		n = 1 + s.backups
	}
	starts := make([]int64, n)
	starts[0] = end
	copy(starts[1:], s.starts)
	s.starts = starts
	return nil
}

// notify wakes the followers without blocking.
func (s *Stream) notify() {
	if s.nfollow.Load() == 0 {
		return
	}
	s.fmu.Lock()
	for f := range s.followers {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
	s.fmu.Unlock()
}

// GapError reports bytes that were rotated away before they could be read.
type GapError struct {
	Missed int64 // bytes that are gone
	Next   int64 // position of the oldest byte still kept
}

// Error says how many bytes were rotated away.
func (e *GapError) Error() string {
	return fmt.Sprintf("logs: %d bytes were rotated away before they were read; continuing at position %d", e.Missed, e.Next)
}

// segment is the file holding a position.
type segment struct {
	start, end int64 // positions of the file's first byte and after its last
	name       string
}

// locate finds the file holding position pos. It returns a *GapError if pos
// is older than the oldest byte kept, and ok=false if pos is at or past the
// end. It opens the file under s.mu, so that the name still designates it,
// unless have already holds the file starting at the same position.
func (s *Stream) locate(pos int64, have *segment) (seg segment, f *os.File, ok bool, err error) {
	if !s.regular {
		return seg, nil, false, ErrNotReadable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	end := s.end.Load()
	if oldest := s.starts[len(s.starts)-1]; pos < oldest {
		return seg, nil, false, &GapError{Missed: oldest - pos, Next: oldest}
	}
	if pos >= end {
		return seg, nil, false, nil
	}
	for i, st := range s.starts {
		segEnd := end
		if i > 0 {
			segEnd = s.starts[i-1]
		}
		if pos < st || pos >= segEnd {
			continue
		}
		seg = segment{start: st, end: segEnd, name: s.fileName(i)}
		if have != nil && have.start == st {
			return seg, nil, true, nil
		}
		fd, err := safefs.OpenFile(seg.name, unix.O_RDONLY, 0)
		if err != nil {
			return seg, nil, false, fmt.Errorf("logs: %w", err)
		}
		f := os.NewFile(uintptr(fd), seg.name)
		return seg, f, true, nil
	}
	// Unreachable: starts cover [oldest, end).
	return seg, nil, false, fmt.Errorf("logs: position %d not found in %s", pos, s.path)
}

// ReadAt reads len(p) bytes starting at stream position off, across
// rotated files, following io.ReaderAt: fewer bytes come with an error,
// io.EOF at the end of what is written, or a *GapError if off is older than
// the oldest byte kept. supervisord's readLog offsets into the current file
// are positions relative to Stats().FileStart.
func (s *Stream) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("logs: read %s at negative position %d", s.path, off)
	}
	var r reader
	defer r.close()
	done := 0
	for done < len(p) {
		n, err := r.read(s, p[done:], off+int64(done))
		done += n
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, io.EOF
		}
	}
	return done, nil
}

// Tail returns the last n bytes kept (fewer if fewer are kept), read across
// rotated files, and the position of the first of them.
func (s *Stream) Tail(n int64) ([]byte, int64, error) {
	n = max(n, 0)
	for {
		st := s.Stats()
		from := max(st.Start, st.End-n)
		buf := make([]byte, st.End-from)
		k, err := s.ReadAt(buf, from)
		var gap *GapError
		if errors.As(err, &gap) {
			continue // rotated away while reading: take the new tail
		}
		if err != nil && err != io.EOF {
			return nil, from, err
		}
		return buf[:k], from, nil
	}
}

// reader reads by position, keeping the last file open.
type reader struct {
	seg segment
	f   *os.File
}

// read reads at most len(p) bytes at pos from one file; 0, nil means pos is
// at the end of the stream.
func (r *reader) read(s *Stream, p []byte, pos int64) (int, error) {
	var have *segment
	if r.f != nil {
		have = &r.seg
	}
	seg, f, ok, err := s.locate(pos, have)
	if err != nil || !ok {
		return 0, err
	}
	if f != nil {
		r.close()
		r.f = f
	}
	r.seg = seg
	if avail := seg.end - pos; int64(len(p)) > avail {
		p = p[:avail]
	}
	n, err := r.f.ReadAt(p, pos-seg.start)
	if n == len(p) {
		return n, nil
	}
	if err == io.EOF {
		// Someone truncated a log file behind our back.
		err = fmt.Errorf("logs: %s is shorter than the bytes written to it", seg.name)
	}
	return n, err
}

func (r *reader) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// AutoPath returns a new, unique log file name in dir for a program's
// stream ("stdout" or "stderr"), as supervisord does for AUTO:
// dir/program-stream---corral-XXXXXXXX.log.
func AutoPath(dir, program, stream string) string {
	clean := strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == 0 {
			return '_'
		}
		return r
	}, program)
	return filepath.Join(dir, clean+"-"+stream+"---corral-"+strings.ToLower(rand.Text()[:8])+".log")
}
