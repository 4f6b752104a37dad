package eventlistener

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// TapOptions say what the dispatcher does with one output channel of a
// process (see Dispatcher.Tap).
type TapOptions struct {
	// Process is the process's full name ("group:name" or "name").
	Process string
	// Stderr is the channel: false for stdout.
	Stderr bool
	// LogEvents emits PROCESS_LOG_STDOUT/STDERR for every chunk of output
	// (supervisord's stdout_events_enabled / stderr_events_enabled).
	LogEvents bool
	// CaptureMaxBytes, when > 0, turns on capture mode: what the process
	// writes between BeginToken and EndToken is kept (up to this many bytes,
	// as supervisord's capture log keeps it) and sent as one
	// PROCESS_COMMUNICATION_STDOUT/STDERR event instead of being logged.
	CaptureMaxBytes int
}

// sinkHighWater is the output a tap holds for a log pipe that cannot take
// it; past it, the tap stops reading the process (which then blocks on its
// full pipe), so nothing is lost and memory stays bounded.
const sinkHighWater = 1 << 20

// tap relays one output channel of one process.
type tap struct {
	o          TapOptions
	name       string
	group      string
	fd         int // read end; -1 once at EOF
	sink       int // the log pipe's write end; -1 for none
	sinkBuf    []byte
	sinkArmed  bool
	paused     bool
	pid        int
	pending    []byte // read before the pid was known
	eof        bool
	outBuf     []byte // supervisord's output_buffer
	capturing  bool
	captureBuf []byte
}

// Tap returns the file a process should get as its stdout or stderr: the
// dispatcher reads what the process writes there, emits PROCESS_LOG_* and
// PROCESS_COMMUNICATION_* events as supervisord does, and passes the
// output that is not a communication on to sink (nil discards it), which
// the dispatcher then owns. Events carry the pid given by Started, so call
// Started with the pid after the spawn.
func (d *Dispatcher) Tap(o TapOptions, sink *os.File) (*os.File, error) {
	sinkFd := -1
	if sink != nil {
		fd, err := unix.FcntlInt(sink.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		sink.Close()
		if err != nil {
			return nil, fmt.Errorf("eventlistener: log pipe: %w", err)
		}
		_ = unix.SetNonblock(fd, true)
		sinkFd = fd
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		if sinkFd >= 0 {
			unix.Close(sinkFd)
		}
		return nil, fmt.Errorf("eventlistener: output pipe: %w", err)
	}
	_ = unix.SetNonblock(p[0], true)
	t := &tap{o: o, fd: p[0], sink: sinkFd, name: o.Process, group: o.Process}
	if i := strings.LastIndexByte(o.Process, ':'); i >= 0 {
		t.group, t.name = o.Process[:i], o.Process[i+1:]
	}
	if !d.post(func() { d.addTap(t) }) {
		unix.Close(p[0])
		unix.Close(p[1])
		if sinkFd >= 0 {
			unix.Close(sinkFd)
		}
		return nil, ErrClosed
	}
	return os.NewFile(uintptr(p[1]), "|tap"), nil
}

func (d *Dispatcher) addTap(t *tap) {
	if err := unix.EpollCtl(d.epfd, unix.EPOLL_CTL_ADD, t.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(t.fd)}); err != nil {
		d.log.Error("eventlistener: cannot watch a process's output", "process", t.o.Process, "err", err)
	}
	d.tapFds[int32(t.fd)] = t
	d.taps[t.o.Process] = append(d.taps[t.o.Process], t)
}

// tapStarted gives the taps of process made before its spawn their pid.
func (d *Dispatcher) tapStarted(process string, pid int) {
	for _, t := range d.taps[process] {
		if t.pid != 0 {
			continue
		}
		t.pid = pid
		if len(t.pending) > 0 {
			b := t.pending
			t.pending = nil
			d.feed(t, b)
		}
		if t.eof {
			d.tapDone(t)
		}
	}
}

// tapEvent handles epoll's report on a tap's output (fd) or log pipe.
func (d *Dispatcher) tapEvent(t *tap, fd int32, buf []byte) {
	if int(fd) == t.sink {
		d.flushSink(t)
		return
	}
	for t.fd >= 0 && !t.paused {
		n, err := unix.Read(t.fd, buf)
		if err == unix.EAGAIN || err == unix.EINTR {
			return
		}
		if n <= 0 {
			_ = unix.EpollCtl(d.epfd, unix.EPOLL_CTL_DEL, t.fd, nil)
			delete(d.tapFds, int32(t.fd))
			unix.Close(t.fd)
			t.fd, t.eof = -1, true
			if t.pid != 0 || len(t.pending) == 0 {
				d.tapDone(t)
			}
			return
		}
		if t.pid == 0 {
			t.pending = append(t.pending, buf[:n]...)
		} else {
			d.feed(t, buf[:n])
		}
		if n < len(buf) {
			return
		}
	}
}

// feed is supervisord's record_output: outside capture mode output goes to
// the log; a BeginToken starts a communication, kept until EndToken.
func (d *Dispatcher) feed(t *tap, data []byte) {
	t.outBuf = append(t.outBuf, data...)
	for {
		if t.o.CaptureMaxBytes <= 0 {
			b := t.outBuf
			t.outBuf = nil
			d.record(t, b)
			return
		}
		token := []byte(BeginToken)
		if t.capturing {
			token = []byte(EndToken)
		}
		if len(t.outBuf) <= len(token) {
			return
		}
		b := t.outBuf
		t.outBuf = nil
		i := bytes.Index(b, token)
		if i < 0 {
			if k := prefixAtEnd(b, token); k > 0 {
				t.outBuf = append([]byte(nil), b[len(b)-k:]...)
				b = b[:len(b)-k]
			}
			d.record(t, b)
			return
		}
		d.record(t, b[:i])
		d.toggleCapture(t)
		t.outBuf = append([]byte(nil), b[i+len(token):]...)
		if len(t.outBuf) == 0 {
			return
		}
	}
}

// prefixAtEnd is the length of the longest proper prefix of token that b
// ends with.
func prefixAtEnd(b, token []byte) int {
	for l := len(token) - 1; l > 0; l-- {
		if bytes.HasSuffix(b, token[:l]) {
			return l
		}
	}
	return 0
}

// record is supervisord's _log: the capture buffer or the log, then the
// PROCESS_LOG event.
func (d *Dispatcher) record(t *tap, b []byte) {
	if len(b) == 0 {
		return
	}
	if t.capturing {
		// supervisord's BoundIO: past the bound, drop as many bytes from
		// the front as arrive.
		if len(t.captureBuf)+len(b) > t.o.CaptureMaxBytes {
			t.captureBuf = t.captureBuf[min(len(b), len(t.captureBuf)):]
		}
		t.captureBuf = append(t.captureBuf, b...)
	} else {
		d.toSink(t, b)
	}
	if t.o.LogEvents {
		typ := ProcessLogStdout
		if t.o.Stderr {
			typ = ProcessLogStderr
		}
		d.notify(LogEvent(typ, t.name, t.group, t.pid, b))
	}
}

func (d *Dispatcher) toggleCapture(t *tap) {
	t.capturing = !t.capturing
	if t.capturing {
		return
	}
	typ := ProcessCommunicationStdout
	if t.o.Stderr {
		typ = ProcessCommunicationStderr
	}
	data := t.captureBuf
	t.captureBuf = nil
	d.notify(CommunicationEvent(typ, t.name, t.group, t.pid, data))
	channel := "stdout"
	if t.o.Stderr {
		channel = "stderr"
	}
	d.log.Debug(fmt.Sprintf("'%s' %s emitted a comm event", t.name, channel))
}

func (d *Dispatcher) toSink(t *tap, b []byte) {
	if t.sink < 0 {
		return
	}
	if len(t.sinkBuf) == 0 {
		n, err := unix.Write(t.sink, b)
		if err != nil && err != unix.EAGAIN {
			d.closeSink(t)
			return
		}
		b = b[max(n, 0):]
		if len(b) == 0 {
			return
		}
	}
	t.sinkBuf = append(t.sinkBuf, b...)
	if !t.sinkArmed {
		if err := unix.EpollCtl(d.epfd, unix.EPOLL_CTL_ADD, t.sink, &unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(t.sink)}); err == nil {
			t.sinkArmed = true
			d.tapFds[int32(t.sink)] = t
		}
	}
	if len(t.sinkBuf) > sinkHighWater && !t.paused && t.fd >= 0 {
		_ = unix.EpollCtl(d.epfd, unix.EPOLL_CTL_DEL, t.fd, nil)
		t.paused = true
	}
}

func (d *Dispatcher) flushSink(t *tap) {
	for len(t.sinkBuf) > 0 {
		n, err := unix.Write(t.sink, t.sinkBuf)
		if err == unix.EAGAIN {
			return
		}
		if err != nil {
			d.closeSink(t)
			break
		}
		t.sinkBuf = t.sinkBuf[n:]
	}
	t.sinkBuf = nil
	if t.sinkArmed && t.sink >= 0 {
		_ = unix.EpollCtl(d.epfd, unix.EPOLL_CTL_DEL, t.sink, nil)
		delete(d.tapFds, int32(t.sink))
		t.sinkArmed = false
	}
	if t.paused && t.fd >= 0 {
		_ = unix.EpollCtl(d.epfd, unix.EPOLL_CTL_ADD, t.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(t.fd)})
		t.paused = false
	}
	if t.eof && t.fd < 0 && t.pending == nil && !t.listed(d) {
		d.closeSink(t)
	}
}

// listed reports whether the tap still waits for its pid.
func (t *tap) listed(d *Dispatcher) bool {
	for _, x := range d.taps[t.o.Process] {
		if x == t {
			return true
		}
	}
	return false
}

// tapDone ends a tap whose process closed its output: what is left goes
// to the log, which then gets EOF (once the tap's backlog is written).
func (d *Dispatcher) tapDone(t *tap) {
	if len(t.outBuf) > 0 {
		b := t.outBuf
		t.outBuf = nil
		d.record(t, b)
	}
	list := d.taps[t.o.Process]
	list = removeTap(list, t)
	if len(list) == 0 {
		delete(d.taps, t.o.Process)
	} else {
		d.taps[t.o.Process] = list
	}
	if len(t.sinkBuf) == 0 {
		d.closeSink(t)
	}
}

func removeTap(list []*tap, t *tap) []*tap {
	out := list[:0]
	for _, x := range list {
		if x != t {
			out = append(out, x)
		}
	}
	return out
}

func (d *Dispatcher) closeSink(t *tap) {
	if t.sink < 0 {
		return
	}
	if t.sinkArmed {
		_ = unix.EpollCtl(d.epfd, unix.EPOLL_CTL_DEL, t.sink, nil)
		delete(d.tapFds, int32(t.sink))
		t.sinkArmed = false
	}
	unix.Close(t.sink)
	t.sink = -1
	t.sinkBuf = nil
}

// closeTap releases everything a tap holds (at Close).
func (d *Dispatcher) closeTap(t *tap) {
	if t.fd >= 0 {
		unix.Close(t.fd)
		t.fd = -1
	}
	d.closeSink(t)
}
