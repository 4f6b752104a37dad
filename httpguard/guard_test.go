package httpguard

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hang bounds every wait: a guard against a hung test, not a timed
// assertion.
const hang = 20 * time.Second

func TestCheckPassword(t *testing.T) {
	sum := sha1.Sum([]byte("pw"))
	sha := "{SHA}" + hex.EncodeToString(sum[:])
	for _, tt := range []struct {
		want, user, pass string
		ok               bool
	}{
		{"pw", "u", "pw", true},
		{"pw", "u", "PW", false},
		{"pw", "v", "pw", false},
		{"pw", "u", "", false},
		{sha, "u", "pw", true},
		{sha, "u", sha, false},
		{"{SHA}" + strings.ToUpper(sha[5:]), "u", "pw", true},
	} {
		if got := CheckPassword("u", tt.want, tt.user, tt.pass); got != tt.ok {
			t.Errorf("CheckPassword(u, %q, %q, %q) = %v", tt.want, tt.user, tt.pass, got)
		}
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestLimiterDelaysRepeatedFailuresUpToACap(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	l := NewLimiter(clk.now)
	var got []time.Duration
	for range FreeFailures + 8 {
		if w, ok := l.Wait("10.0.0.1"); w != 0 || !ok {
			t.Fatalf("Wait after the previous delay passed = %v, %v; want 0, true", w, ok)
		}
		_, d := l.Fail("10.0.0.1")
		got = append(got, d)
		clk.t = clk.t.Add(d)
	}
	want := []time.Duration{0, 0, 0, FirstDelay, 2 * FirstDelay, 4 * FirstDelay, 8 * FirstDelay, 16 * FirstDelay, MaxDelay, MaxDelay, MaxDelay}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delays = %v, want %v", got, want)
	}
	// During a delay the client waits what is left of it; another client
	// does not.
	_, d := l.Fail("10.0.0.1")
	clk.t = clk.t.Add(d / 4)
	if w, _ := l.Wait("10.0.0.1"); w != d-d/4 {
		t.Errorf("Wait during the delay = %v, want %v", w, d-d/4)
	}
	if w, _ := l.Wait("10.0.0.2"); w != 0 {
		t.Errorf("another client waits %v", w)
	}
	// A success forgets the failures.
	l.Succeed("10.0.0.1")
	if w, _ := l.Wait("10.0.0.1"); w != 0 {
		t.Errorf("Wait after success = %v", w)
	}
	if n, d := l.Fail("10.0.0.1"); n != 1 || d != 0 {
		t.Errorf("first failure after a success: n=%d delay=%v", n, d)
	}
	// So does time.
	for range FreeFailures + 3 {
		l.Fail("10.0.0.3")
	}
	clk.t = clk.t.Add(ForgetAfter)
	if w, _ := l.Wait("10.0.0.3"); w != 0 {
		t.Errorf("Wait %v after ForgetAfter", w)
	}
	if n, _ := l.Fail("10.0.0.3"); n != 1 {
		t.Errorf("failures counted across ForgetAfter: n=%d", n)
	}
}

func TestLimiterSpacesParallelAttemptsAndRefusesPastMaxDelay(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	l := NewLimiter(clk.now)
	for range FreeFailures + 1 {
		l.Fail("10.0.0.1")
	}
	// Many attempts at the same instant: each gets the next slot, one
	// FirstDelay after the other, until a slot would be more than
	// MaxDelay away.
	var waits []time.Duration
	for {
		w, ok := l.Wait("10.0.0.1")
		if !ok {
			break
		}
		waits = append(waits, w)
		if len(waits) > 1000 {
			t.Fatal("never refused")
		}
	}
	if want := int(MaxDelay / FirstDelay); len(waits) != want {
		t.Errorf("%d attempts admitted at once, want %d", len(waits), want)
	}
	for i, w := range waits {
		if want := time.Duration(i+1) * FirstDelay; w != want {
			t.Fatalf("attempt %d waits %v, want %v", i, w, want)
		}
	}
	// Once the slots have passed, the client is admitted again.
	clk.t = clk.t.Add(waits[len(waits)-1] + FirstDelay)
	if w, ok := l.Wait("10.0.0.1"); w != 0 || !ok {
		t.Errorf("after the reserved slots: %v, %v", w, ok)
	}
}

func TestLimiterTableIsBounded(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	l := NewLimiter(clk.now)
	if l.max != MaxClients {
		t.Fatalf("table bound %d, want MaxClients", l.max)
	}
	l.max = 64
	for i := range 10 * l.max {
		clk.t = clk.t.Add(time.Millisecond)
		l.Fail(fmt.Sprintf("client-%d", i))
		if n := l.Len(); n > l.max {
			t.Fatalf("table holds %d clients, limit %d", n, l.max)
		}
	}
	// A client still in the table keeps its count.
	for i := 10*l.max - 1; i >= 0; i-- {
		if w, _ := l.Wait(fmt.Sprintf("client-%d", i)); w == 0 {
			if n, _ := l.Fail(fmt.Sprintf("client-%d", i)); n == 2 {
				return
			}
		}
	}
	t.Fatal("no client kept its failure count")
}

func TestClientKey(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"192.0.2.7:5555", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:80", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:81", "2001:db8:1:2::/64"},
		{"@", "unix"},
		{"", "unix"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.addr
		if got := clientKey(r); got != tt.want {
			t.Errorf("clientKey(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// logBuffer is a concurrency-safe log destination.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serve runs s on a fresh listener of network ("tcp" or "unix") and
// returns its address; cleanup closes it.
func serve(t *testing.T, s *Server, network string) string {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s.sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ln) }()
	t.Cleanup(func() { s.Close(); <-done })
	return ln.Addr().String()
}

func TestWrongPasswordsAreLoggedDelayedAndTheRightOneStillWorks(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			var logs logBuffer
			clk := &fakeClock{t: time.Unix(1000, 0)}
			var mu sync.Mutex
			var pauses []time.Duration
			pause := func(_ *http.Request, d time.Duration) bool {
				mu.Lock()
				defer mu.Unlock()
				pauses = append(pauses, d)
				clk.t = clk.t.Add(d) // the client waited it out
				return true
			}
			a := Auth{Name: "test listener", Username: "admin", Password: "s3cret", Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			s := newServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }), a, defaultLimits, NewLimiter(clk.now), pause)
			addr := serve(t, s, network)
			hc := client(network, addr)
			get := func(user, pass string) int {
				t.Helper()
				req, _ := http.NewRequest("GET", "http://guard/metrics", nil)
				req.SetBasicAuth(user, pass)
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			const tries = FreeFailures + 3
			for i := range tries {
				if code := get("admin", fmt.Sprintf("guess-%d", i)); code != http.StatusUnauthorized {
					t.Fatalf("wrong password answered %d", code)
				}
			}
			// Each failure is paused by its delay (the checks before it
			// found none left, as the client waited it out).
			mu.Lock()
			var failDelays []time.Duration
			for _, d := range pauses {
				if d != 0 {
					failDelays = append(failDelays, d)
				}
			}
			mu.Unlock()
			if want := []time.Duration{FirstDelay, 2 * FirstDelay, 4 * FirstDelay}; fmt.Sprint(failDelays) != fmt.Sprint(want) {
				t.Errorf("delays = %v, want %v", failDelays, want)
			}
			out := logs.String()
			if n := strings.Count(out, "authentication failed"); n != tries {
				t.Errorf("%d failure lines logged, want %d:\n%s", n, tries, out)
			}
			wantRemote := "remote=127.0.0.1"
			if network == "unix" {
				wantRemote = fmt.Sprintf("remote=uid:%d", os.Geteuid())
			}
			for _, want := range []string{"level=WARN", wantRemote, "username=admin", `listener="test listener"`, "failures=6", "delay=1s"} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "guess-") {
				t.Errorf("log shows a password:\n%s", out)
			}
			// The rightful user gets in once the guesses stop, and the
			// count starts over.
			if code := get("admin", "s3cret"); code != http.StatusOK {
				t.Fatalf("right password answered %d after failures", code)
			}
			if n := s.fails.Len(); n != 0 {
				t.Errorf("after success: %d clients with failures", n)
			}
			// No credentials is a 401, not a counted guess.
			resp, err := hc.Get("http://guard/v1/programs")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("no credentials: %d %v", resp.StatusCode, resp.Header)
			}
		})
	}
}

func client(network, addr string) *http.Client {
	return &http.Client{Timeout: hang, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}}
}

// shortLimits are the limits the slow-client tests use.
func shortLimits() limits {
	return limits{readHeader: 200 * time.Millisecond, body: 200 * time.Millisecond, write: 200 * time.Millisecond, idle: 200 * time.Millisecond, maxConns: MaxConns}
}

// closedByServer waits until the server closes c (a read returns EOF or
// a reset) and returns what was read.
func closedByServer(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(hang))
	b, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v; read so far %q", hang, b)
	}
	return b
}

func TestIdleKeepAliveConnectionIsClosed(t *testing.T) {
	s := newServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }), Auth{Logger: slog.New(slog.DiscardHandler)}, shortLimits(), NewLimiter(time.Now), sleep)
	addr := serve(t, s, "tcp")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp.Close {
		t.Fatal("the server did not keep the connection alive")
	}
	// Now idle: the server must close it.
	c.SetReadDeadline(time.Now().Add(hang))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: read returned %v, want EOF", err)
	}
}

func TestHalfSentBodyIsClosed(t *testing.T) {
	var readErr atomic.Value
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr.Store(fmt.Sprint(err))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
		}
	})
	for _, tt := range []struct {
		name string
		auth Auth
		head string
	}{
		// The handler reads: its read ends with the body deadline.
		{"handler reads", Auth{Logger: slog.New(slog.DiscardHandler)}, ""},
		// Unauthenticated: refused without reading, and the connection
		// is not kept for the rest of the body.
		{"no credentials", Auth{Username: "u", Password: "p", Logger: slog.New(slog.DiscardHandler)}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(h, tt.auth, shortLimits(), NewLimiter(time.Now), sleep)
			addr := serve(t, s, "tcp")
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, "POST /v1/programs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"name\":")
			got := closedByServer(t, c)
			if !bytes.HasPrefix(got, []byte("HTTP/1.1 4")) {
				t.Errorf("answer %q, want a 4xx", got)
			}
		})
	}
	if e, _ := readErr.Load().(string); !strings.Contains(e, "timeout") {
		t.Errorf("handler's body read ended with %q, want a timeout", e)
	}
}

func TestSlowRequestsAndStreamsOutliveTheTimeouts(t *testing.T) {
	lim := shortLimits()
	wait := 3 * max(lim.body, lim.write)
	h := http.NewServeMux()
	// A request that waits (a stop with a grace period) after reading
	// its body: neither the body deadline nor the write deadline cut it,
	// and its context is not cancelled.
	h.HandleFunc("POST /slow", func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		select {
		case <-time.After(wait):
		case <-r.Context().Done():
			http.Error(w, "context cancelled", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "done")
	})
	// A stream with pauses longer than the write timeout.
	h.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for i := range 3 {
			fmt.Fprintf(w, "line %d\n", i)
			if err := rc.Flush(); err != nil {
				return
			}
			select {
			case <-time.After(wait):
			case <-r.Context().Done():
				return
			}
		}
	})
	s := newServer(h, Auth{Logger: slog.New(slog.DiscardHandler)}, lim, NewLimiter(time.Now), sleep)
	hc := client("tcp", serve(t, s, "tcp"))
	resp, err := hc.Post("http://x/slow", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "done" {
		t.Errorf("slow request answered %d %q", resp.StatusCode, b)
	}
	resp, err = hc.Get("http://x/stream")
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "line 0\nline 1\nline 2\n" {
		t.Errorf("stream read %q, %v", b, err)
	}
}

func TestClientThatStopsReadingIsDropped(t *testing.T) {
	wrote := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				wrote <- err
				return
			}
		}
	})
	s := newServer(h, Auth{Logger: slog.New(slog.DiscardHandler)}, shortLimits(), NewLimiter(time.Now), sleep)
	addr := serve(t, s, "tcp")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case err := <-wrote:
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Errorf("write ended with %v, want a timeout", err)
		}
	case <-time.After(hang):
		t.Fatal("the handler is still writing to a client that does not read")
	}
}

func TestConnectionLimitHolds(t *testing.T) {
	lim := shortLimits()
	lim.idle = hang
	lim.maxConns = 2
	var served atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		io.WriteString(w, "ok")
	})
	s := newServer(h, Auth{Logger: slog.New(slog.DiscardHandler)}, lim, NewLimiter(time.Now), sleep)
	addr := serve(t, s, "tcp")
	request := func(c net.Conn) *bufio.Reader {
		t.Helper()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		return bufio.NewReader(c)
	}
	answered := func(br *bufio.Reader) {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
	}
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	answered(request(conns[0]))
	answered(request(conns[1]))
	// The third connection is not served while two are open.
	br := request(conns[2])
	conns[2].SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := br.Peek(1); err == nil {
		t.Fatal("a third connection was served with a limit of 2")
	}
	if n := served.Load(); n != 2 {
		t.Fatalf("%d requests served, want 2", n)
	}
	// One closes: the waiting one is served, and the listener goes on.
	conns[0].Close()
	conns[2].SetReadDeadline(time.Now().Add(hang))
	answered(br)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conns[1].Close()
	c.SetReadDeadline(time.Now().Add(hang))
	answered(request(c))
	if n := served.Load(); n != 4 {
		t.Fatalf("%d requests served, want 4", n)
	}
}

func TestAttemptBeyondMaxDelayIsRefusedWithoutACheck(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	lim := NewLimiter(clk.now)
	for range FreeFailures + 1 {
		lim.Fail("127.0.0.1")
	}
	// Parallel attempts have taken every slot up to MaxDelay.
	for {
		if _, ok := lim.Wait("127.0.0.1"); !ok {
			break
		}
	}
	var served atomic.Bool
	a := Auth{Username: "admin", Password: "s3cret", Logger: slog.New(slog.DiscardHandler)}
	s := newServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served.Store(true) }), a, defaultLimits, lim,
		func(*http.Request, time.Duration) bool { t.Error("a refused attempt waited"); return true })
	req, _ := http.NewRequest("GET", "http://guard/metrics", nil)
	req.SetBasicAuth("admin", "s3cret")
	resp, err := client("tcp", serve(t, s, "tcp")).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || served.Load() {
		t.Errorf("answer %s, Retry-After %q, served %v; want 429 with Retry-After, not served", resp.Status, resp.Header.Get("Retry-After"), served.Load())
	}
}
