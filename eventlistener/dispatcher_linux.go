package eventlistener

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned by Pipes after Close.
var ErrClosed = errors.New("eventlistener: dispatcher closed")

// DefaultBufferSize is supervisord's buffer_size default.
const DefaultBufferSize = 10

// Options configure a Dispatcher.
type Options struct {
	// Identifier is the header's server: field, supervisord's identifier
	// ("supervisor" when empty).
	Identifier string
	// Logger receives supervisord's lines about pools and listeners; nil
	// logs nothing.
	Logger *slog.Logger
}

// Stats counts what a Dispatcher did since New.
type Stats struct {
	Accepted  uint64 // events put in a pool's buffer (once per pool)
	Sent      uint64 // envelopes written to a listener
	Acked     uint64 // RESULT OK
	Rejected  uint64 // events sent again: FAIL, a bad result, a listener that died BUSY
	Discarded uint64 // events dropped from a full buffer
}

// listener states, supervisord's EventListenerStates.
type lstate int

const (
	acknowledged lstate = iota
	ready
	busy
	unknown
)

var lstateNames = [...]string{"ACKNOWLEDGED", "READY", "BUSY", "UNKNOWN"}

// Dispatcher delivers events to the listener pools: one goroutine, one
// epoll instance, whatever the number of pools and listeners. It owns every
// pool's buffer and every listener's protocol state; callers only post
// messages to it. Nothing it does blocks a caller: events are queued and
// handed to the loop.
type Dispatcher struct {
	server string
	log    *slog.Logger
	epfd   int
	wakefd int
	done   chan struct{}
	once   sync.Once

	mu     sync.Mutex
	inbox  []func()
	closed bool

	accepted, sent, acked, rejected, discarded atomic.Uint64

	// Owned by the loop goroutine.
	serial    int64
	pools     []*pool
	listeners map[string]*listener // by full process name
	byFd      map[int32]*listener
	tapFds    map[int32]*tap    // taps by output and log pipe descriptors
	taps      map[string][]*tap // live taps by process
	ticks     [3]int64
	quit      bool
	waiters   []chan struct{}
}

type pool struct {
	name   string
	types  []Type
	size   int
	buf    []*queued
	serial int64
	procs  []*listener // ordered by process name
}

type event struct {
	m      Message
	serial int64 // -1 until a pool accepts it
}

type queued struct {
	ev         *event
	poolSerial int64
}

type listener struct {
	full, name string
	pool       string
	pid        int
	running    bool
	state      lstate
	in, out    int // parent ends; -1 when closed
	outArmed   bool
	wbuf       []byte
	rbuf       []byte
	resultLen  int // -1: waiting for the RESULT line
	result     []byte
	cur        *queued
}

var tickPeriods = [3]int64{5, 60, 3600}
var tickTypes = [3]Type{Tick5, Tick60, Tick3600}

// New starts a dispatcher's loop.
func New(opts Options) (*Dispatcher, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("eventlistener: epoll: %w", err)
	}
	wfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventlistener: eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd)}); err != nil {
		unix.Close(wfd)
		unix.Close(epfd)
		return nil, fmt.Errorf("eventlistener: epoll: %w", err)
	}
	d := &Dispatcher{
		server: opts.Identifier, log: opts.Logger, epfd: epfd, wakefd: wfd, done: make(chan struct{}),
		serial: -1, listeners: map[string]*listener{}, byFd: map[int32]*listener{},
		tapFds: map[int32]*tap{}, taps: map[string][]*tap{},
	}
	if d.server == "" {
		d.server = "supervisor"
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	now := time.Now().Unix()
	for i, p := range tickPeriods {
		d.ticks[i] = now - now%p
	}
	go d.loop()
	return d, nil
}

// Close stops the loop and closes every pipe it holds. A second call is a
// no-op.
func (d *Dispatcher) Close() error {
	d.once.Do(func() {
		d.post(func() { d.quit = true })
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		<-d.done
	})
	return nil
}

// Stats returns the counters.
func (d *Dispatcher) Stats() Stats {
	return Stats{Accepted: d.accepted.Load(), Sent: d.sent.Load(), Acked: d.acked.Load(),
		Rejected: d.rejected.Load(), Discarded: d.discarded.Load()}
}

// post runs f on the loop; false once closed.
func (d *Dispatcher) post(f func()) bool {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return false
	}
	wake := len(d.inbox) == 0
	d.inbox = append(d.inbox, f)
	d.mu.Unlock()
	if wake {
		var one = [8]byte{1}
		_, _ = unix.Write(d.wakefd, one[:])
	}
	return true
}

// AddPool creates the pool name ([eventlistener:name]) subscribed to the
// types, or changes the subscription and buffer size of an existing one
// (its buffered events stay). bufferSize < 1 means DefaultBufferSize.
func (d *Dispatcher) AddPool(name string, types []Type, bufferSize int) {
	if bufferSize < 1 {
		bufferSize = DefaultBufferSize
	}
	types = slices.Clone(types)
	d.post(func() {
		for _, p := range d.pools {
			if p.name == name {
				p.types, p.size = types, bufferSize
				return
			}
		}
		d.pools = append(d.pools, &pool{name: name, types: types, size: bufferSize, serial: -1})
	})
}

// RemovePool forgets the pool name and its buffered events.
func (d *Dispatcher) RemovePool(name string) {
	d.post(func() {
		d.pools = slices.DeleteFunc(d.pools, func(p *pool) bool { return p.name == name })
	})
}

// Notify queues an event for every pool subscribed to its type (or to one
// of its ancestors). Pools added later do not receive it.
func (d *Dispatcher) Notify(m Message) {
	d.post(func() { d.notify(m) })
}

// Pipes makes the stdin and stdout of the next process of the listener
// process (its full name, "pool:name" or "name") in pool: the returned
// files are the child's ends; the dispatcher keeps the others. A previous
// process of the same name is finished (its event, if BUSY, goes back to
// the head of the buffer). Call it right before the spawn.
func (d *Dispatcher) Pipes(poolName, process string) (stdin, stdout *os.File, err error) {
	var in, out [2]int
	if err := unix.Pipe2(in[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("eventlistener: stdin pipe: %w", err)
	}
	if err := unix.Pipe2(out[:], unix.O_CLOEXEC); err != nil {
		unix.Close(in[0])
		unix.Close(in[1])
		return nil, nil, fmt.Errorf("eventlistener: stdout pipe: %w", err)
	}
	_ = unix.SetNonblock(in[1], true)
	_ = unix.SetNonblock(out[0], true)
	ok := d.post(func() { d.attach(poolName, process, in[1], out[0]) })
	if !ok {
		for _, fd := range []int{in[0], in[1], out[0], out[1]} {
			unix.Close(fd)
		}
		return nil, nil, ErrClosed
	}
	return os.NewFile(uintptr(in[0]), "|0"), os.NewFile(uintptr(out[1]), "|1"), nil
}

// Started tells the loop the pid of the process spawned after its last
// Pipes or Tap.
func (d *Dispatcher) Started(process string, pid int) {
	d.post(func() {
		if l := d.listeners[process]; l != nil && l.pid == 0 {
			l.pid = pid
		}
		d.tapStarted(process, pid)
	})
}

// SetRunning says whether the listener process with pid is RUNNING: only a
// RUNNING listener gets events, as in supervisord.
func (d *Dispatcher) SetRunning(process string, pid int, running bool) {
	d.post(func() {
		l := d.listeners[process]
		if l == nil || (pid != 0 && l.pid != pid) {
			return
		}
		l.running = running
		if running {
			d.dispatch(d.pool(l.pool))
		}
	})
}

// Exited finishes the listener process with pid: the event it was
// processing, if any, is sent again.
func (d *Dispatcher) Exited(process string, pid int) {
	d.post(func() {
		l := d.listeners[process]
		if l == nil || l.pid != pid {
			return
		}
		d.finish(l)
	})
}

func (d *Dispatcher) pool(name string) *pool {
	for _, p := range d.pools {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (d *Dispatcher) loop() {
	defer close(d.done)
	events := make([]unix.EpollEvent, 64)
	var buf [65536]byte
	for !d.quit {
		now := time.Now()
		next := (now.Unix()/5 + 1) * 5
		timeout := int(time.Unix(next, 0).Sub(now)/time.Millisecond) + 1
		n, err := unix.EpollWait(d.epfd, events, timeout)
		if err != nil && err != unix.EINTR {
			d.log.Error("eventlistener: epoll_wait failed; listeners get no more events", "err", err)
			break
		}
		for i := 0; i < n; i++ {
			fd := events[i].Fd
			if int(fd) == d.wakefd {
				var b [8]byte
				_, _ = unix.Read(d.wakefd, b[:])
				continue
			}
			if t := d.tapFds[fd]; t != nil {
				d.tapEvent(t, fd, buf[:])
				continue
			}
			l := d.byFd[fd]
			if l == nil {
				continue
			}
			if int(fd) == l.out {
				d.readable(l, buf[:])
			} else if int(fd) == l.in {
				d.flush(l)
			}
		}
		d.mu.Lock()
		work := d.inbox
		d.inbox = nil
		d.mu.Unlock()
		for _, f := range work {
			f()
		}
		d.tick()
		d.wakeWaiters()
	}
	for _, w := range d.waiters {
		close(w)
	}
	for _, l := range d.listeners {
		d.closeFds(l)
	}
	seen := map[*tap]bool{}
	for _, t := range d.tapFds {
		if !seen[t] {
			seen[t] = true
			d.closeTap(t)
		}
	}
	for _, ts := range d.taps {
		for _, t := range ts {
			d.closeTap(t)
		}
	}
	unix.Close(d.wakefd)
	unix.Close(d.epfd)
}

// Idle returns a channel closed once every event queued so far has been
// delivered and answered: no pool holds an event that a listener could
// take, and no listener is BUSY. A daemon waits for it (bounded) before it
// stops its listeners, so they see the events of the shutdown, as
// supervisord's listeners do. The channel is also closed by Close.
func (d *Dispatcher) Idle() <-chan struct{} {
	c := make(chan struct{})
	if !d.post(func() { d.waiters = append(d.waiters, c) }) {
		close(c)
	}
	return c
}

func (d *Dispatcher) wakeWaiters() {
	if len(d.waiters) == 0 || !d.idle() {
		return
	}
	for _, w := range d.waiters {
		close(w)
	}
	d.waiters = nil
}

func (d *Dispatcher) idle() bool {
	for _, p := range d.pools {
		able := false
		for _, l := range p.procs {
			if l.state == busy && l.out >= 0 {
				return false
			}
			if l.running && l.state != unknown && l.in >= 0 {
				able = true
			}
		}
		if len(p.buf) > 0 && able {
			return false
		}
	}
	return true
}

// tick sends TICK_5, TICK_60 and TICK_3600 at each period's boundary (Unix
// time a multiple of the period), as supervisord; none at start.
func (d *Dispatcher) tick() {
	now := time.Now().Unix()
	for i, p := range tickPeriods {
		if t := now - now%p; t != d.ticks[i] {
			d.ticks[i] = t
			d.notify(TickEvent(tickTypes[i], t))
		}
	}
}

func (d *Dispatcher) notify(m Message) {
	ev := &event{m: m, serial: -1}
	for _, p := range d.pools {
		for _, t := range p.types {
			if m.Type.Is(t) {
				if ev.serial < 0 {
					d.serial++
					ev.serial = d.serial
				}
				p.serial++
				d.accept(p, &queued{ev: ev, poolSerial: p.serial}, false)
				d.dispatch(p)
				break
			}
		}
	}
}

// accept buffers q in p, discarding the oldest event when full.
func (d *Dispatcher) accept(p *pool, q *queued, head bool) {
	d.accepted.Add(1)
	if len(p.buf) >= p.size && len(p.buf) > 0 {
		old := p.buf[0]
		p.buf = p.buf[1:]
		d.discarded.Add(1)
		d.log.Error(fmt.Sprintf("pool %s event buffer overflowed, discarding event %d", p.name, old.ev.serial),
			"pool", p.name, "serial", old.ev.serial)
	}
	if head {
		p.buf = slices.Insert(p.buf, 0, q)
	} else {
		p.buf = append(p.buf, q)
	}
}

// dispatch sends p's oldest events to its READY listeners.
func (d *Dispatcher) dispatch(p *pool) {
	if p == nil {
		return
	}
	for len(p.buf) > 0 {
		q := p.buf[0]
		sent := false
		for _, l := range p.procs {
			if !l.running || l.state != ready || l.in < 0 {
				continue
			}
			if d.send(p, l, q) {
				sent = true
				break
			}
		}
		if !sent {
			return
		}
		p.buf = p.buf[1:]
	}
}

func (d *Dispatcher) send(p *pool, l *listener, q *queued) bool {
	env := envelope(d.server, q.ev.serial, p.name, q.poolSerial, q.ev.m)
	if len(l.wbuf) == 0 {
		n, err := unix.Write(l.in, env)
		switch {
		case err == unix.EPIPE:
			d.log.Debug(fmt.Sprintf("epipe occurred while sending event %d to listener %s, listener state unchanged", q.ev.serial, l.name))
			d.closeIn(l)
			return false
		case err != nil && err != unix.EAGAIN:
			d.log.Warn("eventlistener: write to listener failed", "process", l.full, "err", err)
			d.closeIn(l)
			return false
		case n > 0:
			env = env[n:]
		}
	}
	l.wbuf = append(l.wbuf, env...)
	if len(l.wbuf) > 0 {
		d.armOut(l)
	}
	d.sent.Add(1)
	l.cur = q
	d.setState(l, busy)
	d.log.Debug(fmt.Sprintf("event %d sent to listener %s", q.ev.serial, l.name))
	return true
}

func (d *Dispatcher) armOut(l *listener) {
	if l.outArmed || l.in < 0 {
		return
	}
	if err := unix.EpollCtl(d.epfd, unix.EPOLL_CTL_ADD, l.in, &unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(l.in)}); err == nil {
		l.outArmed = true
		d.byFd[int32(l.in)] = l
	}
}

// flush writes what is left of an envelope when the pipe has room.
func (d *Dispatcher) flush(l *listener) {
	for len(l.wbuf) > 0 && l.in >= 0 {
		n, err := unix.Write(l.in, l.wbuf)
		if err == unix.EAGAIN {
			return
		}
		if err != nil {
			l.wbuf = nil
			d.closeIn(l)
			return
		}
		l.wbuf = l.wbuf[n:]
	}
	if l.outArmed && l.in >= 0 {
		_ = unix.EpollCtl(d.epfd, unix.EPOLL_CTL_DEL, l.in, nil)
		delete(d.byFd, int32(l.in))
		l.outArmed = false
	}
	l.wbuf = nil
}

func (d *Dispatcher) readable(l *listener, buf []byte) {
	for l.out >= 0 {
		n, err := unix.Read(l.out, buf)
		if err == unix.EAGAIN || err == unix.EINTR {
			break
		}
		if n <= 0 {
			// EOF: the listener closed its stdout or died; Exited will
			// send its event again.
			d.closeOut(l)
			break
		}
		l.rbuf = append(l.rbuf, buf[:n]...)
		if n < len(buf) {
			break
		}
	}
	d.advance(l)
	d.dispatch(d.pool(l.pool))
}

var (
	readyToken  = []byte("READY\n")
	resultToken = []byte("RESULT ")
)

// advance runs supervisord's listener protocol over what the listener
// wrote (dispatchers.PEventListenerDispatcher).
func (d *Dispatcher) advance(l *listener) {
	for len(l.rbuf) > 0 {
		switch l.state {
		case unknown:
			l.rbuf = nil
			return
		case acknowledged:
			if len(l.rbuf) < len(readyToken) {
				return
			}
			if bytes.HasPrefix(l.rbuf, readyToken) {
				d.setState(l, ready)
				l.rbuf = l.rbuf[len(readyToken):]
				l.cur = nil
			} else {
				d.setState(l, unknown)
				l.rbuf = nil
				l.cur = nil
				return
			}
		case ready:
			// Spurious output: supervisord is strict about it.
			d.setState(l, unknown)
			l.rbuf = nil
			l.cur = nil
			return
		case busy:
			if l.resultLen < 0 {
				i := bytes.IndexByte(l.rbuf, '\n')
				if i < 0 {
					return
				}
				line := l.rbuf[:i]
				l.rbuf = l.rbuf[i+1:]
				rest := line[min(len(resultToken), len(line)):]
				n, err := strconv.Atoi(strings.TrimSpace(string(rest)))
				if err != nil || n < 0 {
					d.log.Warn(fmt.Sprintf("%s: bad result line: '%s'", l.name, text(line)), "process", l.full)
					d.setState(l, unknown)
					l.rbuf = nil
					d.reject(l)
					return
				}
				l.resultLen = n
				l.result = l.result[:0]
			}
			need := l.resultLen - len(l.result)
			take := min(need, len(l.rbuf))
			l.result = append(l.result, l.rbuf[:take]...)
			l.rbuf = l.rbuf[take:]
			if len(l.result) < l.resultLen {
				return
			}
			d.handleResult(l, l.result)
			l.result, l.resultLen = nil, -1
		}
	}
}

// handleResult is supervisord's default result handler: OK acknowledges
// the event, anything else (FAIL) rejects it and it is sent again.
func (d *Dispatcher) handleResult(l *listener, result []byte) {
	if string(result) == "OK" {
		d.acked.Add(1)
		d.log.Debug(fmt.Sprintf("%s: event was processed", l.name))
		d.setState(l, acknowledged)
		l.cur = nil
		return
	}
	d.log.Warn(fmt.Sprintf("%s: event was rejected", l.name), "process", l.full)
	d.setState(l, acknowledged)
	d.reject(l)
}

// reject puts the listener's current event back at the head of its pool.
func (d *Dispatcher) reject(l *listener) {
	q := l.cur
	l.cur = nil
	if q == nil {
		return
	}
	p := d.pool(l.pool)
	if p == nil {
		return
	}
	d.rejected.Add(1)
	d.log.Debug(fmt.Sprintf("rebuffering event %d for pool %s (buf size=%d, max=%d)", q.ev.serial, p.name, len(p.buf), p.size))
	d.accept(p, q, true)
}

func (d *Dispatcher) setState(l *listener, s lstate) {
	if l.state == s {
		return
	}
	d.log.Debug(fmt.Sprintf("%s: %s -> %s", l.name, lstateNames[l.state], lstateNames[s]))
	l.state = s
	if s == unknown {
		d.log.Warn(fmt.Sprintf("%s: has entered the UNKNOWN state and will no longer receive events, this usually indicates the process violated the eventlistener protocol", l.name), "process", l.full)
	}
}

func (d *Dispatcher) attach(poolName, process string, in, out int) {
	if old := d.listeners[process]; old != nil {
		d.finish(old)
	}
	name := process
	if i := strings.LastIndexByte(process, ':'); i >= 0 {
		name = process[i+1:]
	}
	l := &listener{full: process, name: name, pool: poolName, in: in, out: out, resultLen: -1}
	if err := unix.EpollCtl(d.epfd, unix.EPOLL_CTL_ADD, out, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(out)}); err != nil {
		d.log.Error("eventlistener: cannot watch a listener's stdout", "process", process, "err", err)
	}
	d.byFd[int32(out)] = l
	d.listeners[process] = l
	if p := d.pool(poolName); p != nil {
		i, _ := slices.BinarySearchFunc(p.procs, process, func(a *listener, n string) int { return strings.Compare(a.full, n) })
		p.procs = slices.Insert(p.procs, i, l)
	}
}

// finish forgets a listener process that ended, sending its current event
// again.
func (d *Dispatcher) finish(l *listener) {
	d.reject(l)
	d.closeFds(l)
	delete(d.listeners, l.full)
	if p := d.pool(l.pool); p != nil {
		p.procs = slices.DeleteFunc(p.procs, func(x *listener) bool { return x == l })
		d.dispatch(p)
	}
}

func (d *Dispatcher) closeIn(l *listener) {
	if l.in < 0 {
		return
	}
	if l.outArmed {
		_ = unix.EpollCtl(d.epfd, unix.EPOLL_CTL_DEL, l.in, nil)
		delete(d.byFd, int32(l.in))
		l.outArmed = false
	}
	unix.Close(l.in)
	l.in = -1
	l.wbuf = nil
}

func (d *Dispatcher) closeOut(l *listener) {
	if l.out < 0 {
		return
	}
	_ = unix.EpollCtl(d.epfd, unix.EPOLL_CTL_DEL, l.out, nil)
	delete(d.byFd, int32(l.out))
	unix.Close(l.out)
	l.out = -1
}

func (d *Dispatcher) closeFds(l *listener) {
	d.closeIn(l)
	d.closeOut(l)
}
