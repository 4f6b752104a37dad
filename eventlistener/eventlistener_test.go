package eventlistener

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hang bounds every wait: a failure, never a measure.
const hang = 30 * time.Second

func TestTypeHierarchy(t *testing.T) {
	tests := []struct {
		t, sub Type
		want   bool
	}{
		{ProcessStateFatal, ProcessState, true},
		{ProcessStateFatal, Event, true},
		{ProcessStateFatal, ProcessStateFatal, true},
		{ProcessStateFatal, ProcessStateExited, false},
		{ProcessStateFatal, Tick, false},
		{Tick60, Tick, true},
		{ProcessLogStderr, ProcessLog, true},
		{ProcessCommunicationStdout, ProcessCommunication, true},
		{ProcessCommunicationStdout, ProcessLog, false},
		{SupervisorStateChangeStopping, SupervisorStateChange, true},
		{ProcessGroupRemoved, ProcessGroup, true},
		{RemoteCommunication, Event, true},
		{RemoteCommunication, ProcessState, false},
	}
	for _, tt := range tests {
		if got := tt.t.Is(tt.sub); got != tt.want {
			t.Errorf("%v.Is(%v) = %v, want %v", tt.t, tt.sub, got, tt.want)
		}
	}
	for typ := Event; typ < numTypes; typ++ {
		if p, ok := ParseType(strings.ToLower(typ.String())); !ok || p != typ {
			t.Errorf("ParseType(%q) = %v, %v", strings.ToLower(typ.String()), p, ok)
		}
	}
}

func TestPayloadsAreSupervisords(t *testing.T) {
	tests := []struct {
		m    Message
		want string
	}{
		{StateEvent(ProcessStateStarting, "web_0", "site", "BACKOFF", 2, 0, false), "processname:web_0 groupname:site from_state:BACKOFF tries:2"},
		{StateEvent(ProcessStateBackoff, "a", "a", "STARTING", 1, 0, false), "processname:a groupname:a from_state:STARTING tries:1"},
		{StateEvent(ProcessStateExited, "a", "a", "RUNNING", 0, 42, true), "processname:a groupname:a from_state:RUNNING expected:1 pid:42"},
		{StateEvent(ProcessStateExited, "a", "a", "RUNNING", 0, 42, false), "processname:a groupname:a from_state:RUNNING expected:0 pid:42"},
		{StateEvent(ProcessStateRunning, "a", "a", "STARTING", 0, 7, false), "processname:a groupname:a from_state:STARTING pid:7"},
		{StateEvent(ProcessStateStopping, "a", "a", "RUNNING", 0, 7, false), "processname:a groupname:a from_state:RUNNING pid:7"},
		{StateEvent(ProcessStateStopped, "a", "a", "STOPPING", 0, 7, false), "processname:a groupname:a from_state:STOPPING pid:7"},
		{StateEvent(ProcessStateFatal, "a", "a", "BACKOFF", 3, 0, false), "processname:a groupname:a from_state:BACKOFF"},
		{TickEvent(Tick60, 1796176140), "when:1796176140"},
		{GroupEvent(ProcessGroupAdded, "g"), "groupname:g\n"},
		{RemoteEvent("t", "d\nx"), "type:t\nd\nx"},
		{LogEvent(ProcessLogStderr, "a", "g", 9, []byte("oops\n")), "processname:a groupname:g pid:9 channel:stderr\noops\n"},
		{CommunicationEvent(ProcessCommunicationStdout, "a", "g", 9, []byte("msg")), "processname:a groupname:g pid:9\nmsg"},
		{SupervisorEvent(SupervisorStateChangeRunning), ""},
	}
	for _, tt := range tests {
		if tt.m.Payload != tt.want {
			t.Errorf("%v payload = %q, want %q", tt.m.Type, tt.m.Payload, tt.want)
		}
	}
	// len counts characters, as Python's len of the payload string.
	env := string(envelope("supervisor", 3, "p", 1, RemoteEvent("t", "é")))
	if want := "ver:3.0 server:supervisor serial:3 pool:p poolserial:1 eventname:REMOTE_COMMUNICATION len:8\ntype:t\né"; env != want {
		t.Errorf("envelope = %q, want %q", env, want)
	}
}

// Output that is not UTF-8 is rendered as supervisord renders it:
// "Undecodable: " and Python's repr of the bytes (checked against python3).
func TestUndecodableOutputIsPythonsRepr(t *testing.T) {
	for _, b := range [][]byte{{0xff, 'a'}, []byte("it's \xfe\n\t\\"), []byte("\"'\xc3"), {0x80, 0x7f, 0}} {
		out, err := exec.Command("/usr/bin/python3", "-c", "import sys; print(repr(bytes.fromhex(sys.argv[1])), end='')", fmt.Sprintf("%x", b)).Output()
		if err != nil {
			t.Fatalf("python3: %v", err)
		}
		if got := text(b); got != "Undecodable: "+string(out) {
			t.Errorf("text(%q) = %q, want %q", b, got, "Undecodable: "+string(out))
		}
	}
}

// fakeListener is the test acting as a listener process on the real pipes
// a Dispatcher made.
type fakeListener struct {
	t     *testing.T
	stdin *os.File // what the dispatcher writes (read end)
	r     *bufio.Reader
	out   *os.File // the listener's stdout (write end)
}

func newFake(t *testing.T, d *Dispatcher, pool, name string, pid int) *fakeListener {
	t.Helper()
	in, out, err := d.Pipes(pool, name)
	if err != nil {
		t.Fatal(err)
	}
	// A non-blocking duplicate, so reads can time out.
	fd, err := unix.Dup(int(in.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	f := &fakeListener{t: t, stdin: os.NewFile(uintptr(fd), "stdin"), out: out}
	f.r = bufio.NewReader(f.stdin)
	t.Cleanup(func() { f.stdin.Close(); f.out.Close() })
	d.Started(name, pid)
	d.SetRunning(name, pid, true)
	return f
}

func (f *fakeListener) write(s string) {
	f.t.Helper()
	if _, err := f.out.WriteString(s); err != nil {
		f.t.Fatal(err)
	}
}

// next reads one envelope: its header line and its payload.
func (f *fakeListener) next() (header, payload string) {
	f.t.Helper()
	_ = f.stdin.SetReadDeadline(time.Now().Add(hang))
	line, err := f.r.ReadString('\n')
	if err != nil {
		f.t.Fatalf("reading a header: %v (got %q)", err, line)
	}
	i := strings.LastIndex(line, " len:")
	n, err := strconv.Atoi(strings.TrimSpace(line[i+5:]))
	if i < 0 || err != nil {
		f.t.Fatalf("bad header %q", line)
	}
	var p strings.Builder
	for range n { // n characters, as childutils reads them
		r, _, err := f.r.ReadRune()
		if err != nil {
			f.t.Fatalf("reading a payload: %v", err)
		}
		p.WriteRune(r)
	}
	return line, p.String()
}

// nothing checks that no envelope is pending, after a round trip through
// the loop has settled it.
func (f *fakeListener) nothing(d *Dispatcher) {
	f.t.Helper()
	settle(d)
	_ = f.stdin.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if b, err := f.r.Peek(1); err == nil {
		f.t.Fatalf("unexpected output %q", b)
	}
}

// settle waits until the loop ran everything posted before.
func settle(d *Dispatcher) {
	done := make(chan struct{})
	if d.post(func() { close(done) }) {
		<-done
	}
}

// logLines collects what the dispatcher logs.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.Message)
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }
func (l *logLines) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.lines {
		if x == s {
			return true
		}
	}
	return false
}

// wait polls for the line s, up to hang.
func (l *logLines) wait(s string) bool {
	deadline := time.Now().Add(hang)
	for !l.has(s) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func newDispatcher(t *testing.T) (*Dispatcher, *logLines) {
	t.Helper()
	logs := &logLines{}
	d, err := New(Options{Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d, logs
}

// The protocol: nothing before READY; one event at a time; RESULT OK
// acknowledges; FAIL sends the same event again; a pool's buffer keeps
// what arrives meanwhile.
func TestListenerProtocol(t *testing.T) {
	d, logs := newDispatcher(t)
	d.AddPool("p", []Type{ProcessState}, 10)
	f := newFake(t, d, "p", "p", 100)
	d.Notify(StateEvent(ProcessStateRunning, "web", "web", "STARTING", 0, 7, false))
	d.Notify(RemoteEvent("x", "not subscribed"))
	d.Notify(StateEvent(ProcessStateFatal, "db", "db", "BACKOFF", 0, 0, false))
	f.nothing(d) // ACKNOWLEDGED: nothing until READY

	f.write("READY\n")
	h, p := f.next()
	if want := "ver:3.0 server:supervisor serial:0 pool:p poolserial:0 eventname:PROCESS_STATE_RUNNING len:55\n"; h != want || p != "processname:web groupname:web from_state:STARTING pid:7" {
		t.Fatalf("first envelope %q %q", h, p)
	}
	f.nothing(d) // BUSY: one event at a time
	f.write("RESULT 4\nFAIL")
	f.nothing(d) // ACKNOWLEDGED again
	f.write("READY\n")
	if h2, p2 := f.next(); h2 != h || p2 != p {
		t.Fatalf("after FAIL got %q %q, want the same event again", h2, p2)
	}
	if !logs.has("p: event was rejected") {
		t.Error("no \"p: event was rejected\" in the log")
	}
	// The result may come in pieces.
	f.write("RESULT ")
	f.write("2\nO")
	f.write("KREADY\n")
	h, p = f.next()
	if want := "ver:3.0 server:supervisor serial:1 pool:p poolserial:1 eventname:PROCESS_STATE_FATAL len:46\n"; h != want || p != "processname:db groupname:db from_state:BACKOFF" {
		t.Fatalf("second envelope %q %q", h, p)
	}
	f.write("RESULT 2\nOK")
	deadline := time.Now().Add(hang)
	for d.Stats().Acked < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the loop reads the pipe when epoll says so
	}
	if s := d.Stats(); s.Acked != 2 || s.Rejected != 1 || s.Sent != 3 || s.Discarded != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// A listener that breaks the protocol goes UNKNOWN with supervisord's
// warning and gets nothing more.
func TestListenerThatBreaksTheProtocolGetsNothing(t *testing.T) {
	for _, bad := range []string{"HELLO!\n", "READY\nREADY\n"} {
		d, logs := newDispatcher(t)
		d.AddPool("p", []Type{Event}, 10)
		f := newFake(t, d, "p", "p:p_0", 100)
		f.write(bad)
		if !logs.wait("p_0: has entered the UNKNOWN state and will no longer receive events, this usually indicates the process violated the eventlistener protocol") {
			t.Errorf("%q: no UNKNOWN warning in %q", bad, logs.lines)
		}
		d.Notify(RemoteEvent("x", "y"))
		f.nothing(d)
	}
	// A bad result line sends the event again to the pool's other listener.
	d, logs := newDispatcher(t)
	d.AddPool("p", []Type{Event}, 10)
	a := newFake(t, d, "p", "p:a", 100)
	b := newFake(t, d, "p", "p:b", 101)
	a.write("READY\n")
	d.Notify(RemoteEvent("x", "y"))
	h, _ := a.next()
	a.write("RESULT x\n")
	b.write("READY\n")
	if h2, _ := b.next(); h2 != h {
		t.Errorf("the other listener got %q, want %q", h2, h)
	}
	if !logs.has("a: bad result line: 'RESULT x'") {
		t.Errorf("no bad result line warning in %q", logs.lines)
	}
}

// A full buffer discards its oldest event, with supervisord's log line.
func TestFullBufferDiscardsTheOldest(t *testing.T) {
	d, logs := newDispatcher(t)
	d.AddPool("p", []Type{RemoteCommunication}, 2)
	f := newFake(t, d, "p", "p", 100)
	for i := range 5 {
		d.Notify(RemoteEvent("n", strconv.Itoa(i)))
	}
	settle(d)
	f.write("READY\n")
	for _, want := range []string{"type:n\n3", "type:n\n4"} {
		_, p := f.next()
		if p != want {
			t.Errorf("got %q, want %q", p, want)
		}
		f.write("RESULT 2\nOKREADY\n")
	}
	for i := range 3 {
		if line := fmt.Sprintf("pool p event buffer overflowed, discarding event %d", i); !logs.has(line) {
			t.Errorf("no %q in the log", line)
		}
	}
	if s := d.Stats(); s.Discarded != 3 {
		t.Errorf("discarded %d, want 3", s.Discarded)
	}
}

// A listener that exits while BUSY: its event goes to its next process
// (same serials).
func TestEventOfAListenerThatDiedIsSentAgain(t *testing.T) {
	d, _ := newDispatcher(t)
	d.AddPool("p", []Type{Event}, 10)
	f := newFake(t, d, "p", "p", 100)
	f.write("READY\n")
	d.Notify(GroupEvent(ProcessGroupAdded, "g"))
	h, p := f.next()
	d.Exited("p", 100)
	g := newFake(t, d, "p", "p", 101)
	g.write("READY\n")
	if h2, p2 := g.next(); h2 != h || p2 != p {
		t.Errorf("the next process got %q %q, want %q %q", h2, p2, h, p)
	}
	// A late exit of the old pid changes nothing for the new process.
	d.Exited("p", 100)
	g.write("RESULT 2\nOKREADY\n")
	d.Notify(GroupEvent(ProcessGroupRemoved, "g"))
	if _, p := g.next(); p != "groupname:g\n" {
		t.Errorf("got %q", p)
	}
}

// Only a RUNNING listener gets events.
func TestOnlyRunningListenersGetEvents(t *testing.T) {
	d, _ := newDispatcher(t)
	d.AddPool("p", []Type{Event}, 10)
	f := newFake(t, d, "p", "p", 100)
	d.SetRunning("p", 100, false)
	f.write("READY\n")
	d.Notify(RemoteEvent("a", "b"))
	f.nothing(d)
	d.SetRunning("p", 100, true)
	if _, p := f.next(); p != "type:a\nb" {
		t.Errorf("got %q", p)
	}
}

// TICK_5 comes at each multiple of 5 seconds of Unix time.
func TestTick5(t *testing.T) {
	d, _ := newDispatcher(t)
	d.AddPool("p", []Type{Tick}, 10)
	f := newFake(t, d, "p", "p", 100)
	f.write("READY\n")
	h, p := f.next()
	when, err := strconv.ParseInt(strings.TrimPrefix(p, "when:"), 10, 64)
	if !strings.Contains(h, "eventname:TICK_5 ") || err != nil || when%5 != 0 || time.Now().Unix()-when > 5 {
		t.Errorf("got %q %q", h, p)
	}
}

// One goroutine for the dispatcher, whatever the number of pools and
// listeners.
func TestDispatcherGoroutinesDoNotGrowWithListeners(t *testing.T) {
	d, _ := newDispatcher(t)
	one := runtime.NumGoroutine()
	var fakes []*fakeListener
	for i := range 200 {
		pool := fmt.Sprintf("p%d", i%20)
		d.AddPool(pool, []Type{Event}, 10)
		f := newFake(t, d, pool, fmt.Sprintf("%s:l%d", pool, i), 1000+i)
		f.write("READY\n")
		fakes = append(fakes, f)
	}
	for i := range 100 {
		d.Notify(RemoteEvent("n", strconv.Itoa(i)))
	}
	for _, f := range fakes[:20] {
		f.next()
	}
	if n := runtime.NumGoroutine(); n > one {
		t.Errorf("goroutines: %d with the dispatcher, %d with 200 listeners in 20 pools", one, n)
	}
	buf := make([]byte, 1<<20)
	n := 0
	for g := range strings.SplitSeq(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "eventlistener.(*Dispatcher).loop(") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d goroutines run the dispatcher's code, want 1", n)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// Close closed the dispatcher's ends: every listener sees EOF.
	for _, f := range fakes {
		_ = f.stdin.SetReadDeadline(time.Now().Add(hang))
		if _, err := io.Copy(io.Discard, f.r); err != nil {
			t.Fatalf("reading to EOF: %v", err)
		}
	}
}
