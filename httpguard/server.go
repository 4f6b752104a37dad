package httpguard

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Limits of one listener against slow or idle clients.
const (
	// ReadHeaderTimeout bounds the reading of a request's headers.
	ReadHeaderTimeout = 10 * time.Second
	// BodyTimeout bounds the reading of a request's body, counted from
	// the end of its headers.
	BodyTimeout = 30 * time.Second
	// WriteTimeout bounds each write of a response: a client that stops
	// reading is dropped, one that reads a long stream slowly is not.
	WriteTimeout = 30 * time.Second
	// IdleTimeout closes a keep-alive connection with no request.
	IdleTimeout = 2 * time.Minute
	// MaxConns is the number of connections served at once per listener.
	MaxConns = 256
)

// limits are the constants above; tests shorten them.
type limits struct {
	readHeader, body, write, idle time.Duration
	maxConns                      int
}

var defaultLimits = limits{readHeader: ReadHeaderTimeout, body: BodyTimeout, write: WriteTimeout, idle: IdleTimeout, maxConns: MaxConns}

// Server serves one listener behind the guard.
type Server struct {
	srv   *http.Server
	lim   limits
	log   *slog.Logger
	fails *Limiter
}

// NewServer returns a server of h with a's authentication (see
// Authenticate), the package's timeouts and its connection limit.
func NewServer(h http.Handler, a Auth) *Server {
	return newServer(h, a, defaultLimits, NewLimiter(time.Now), sleep)
}

func newServer(h http.Handler, a Auth, lim limits, fails *Limiter, pause func(*http.Request, time.Duration) bool) *Server {
	log := a.Logger
	if log == nil {
		log = slog.Default()
		a.Logger = log
	}
	if a.Username != "" {
		h = authenticate(h, a, fails, pause)
	}
	h = deadlines(h, lim)
	return &Server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: lim.readHeader,
			IdleTimeout:       lim.idle,
			ConnContext:       connContext,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		lim:   lim,
		log:   log,
		fails: fails,
	}
}

// Serve serves connections from ln, at most MaxConns at once, until the
// server is closed; it then returns http.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	return s.srv.Serve(LimitListener(ln, s.lim.maxConns, s.log))
}

// Close closes the listeners and every connection.
func (s *Server) Close() error { return s.srv.Close() }

// Shutdown closes the listeners and waits for active requests to end (see
// http.Server.Shutdown).
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// deadlines sets the per-request deadlines. http.Server's own ReadTimeout
// and WriteTimeout cannot be used: they count from the start of the
// request, so they would cut a request that legitimately waits (a stop
// with a long grace period, an event stream), and a read deadline left on
// the connection cancels the request's context when it expires.
func deadlines(next http.Handler, lim limits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.Body != nil && r.Body != http.NoBody {
			// Set before authentication, so that a refused client's
			// half-sent body cannot hold the connection either.
			_ = rc.SetReadDeadline(time.Now().Add(lim.body))
			r.Body = &bodyReader{ReadCloser: r.Body, rc: rc}
		}
		dw := &deadlineWriter{ResponseWriter: w, rc: rc, d: lim.write}
		// Also bounds what the server writes by itself before the
		// handler's first write (such as "100 Continue").
		dw.extend()
		next.ServeHTTP(dw, r)
		// The server flushes what is buffered after the handler returns.
		dw.extend()
	})
}

// bodyReader lifts the body's read deadline once the body is read, as the
// server then reads in the background to notice a client going away, and
// an expired deadline would end the request.
type bodyReader struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// deadlineWriter gives each write of the response WriteTimeout to
// complete.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *deadlineWriter) extend() { _ = w.rc.SetWriteDeadline(time.Now().Add(w.d)) }

func (w *deadlineWriter) WriteHeader(code int) {
	w.extend()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.extend()
	return w.ResponseWriter.Write(p)
}

// FlushError flushes the response (http.ResponseController.Flush finds
// it).
func (w *deadlineWriter) FlushError() error {
	w.extend()
	return w.rc.Flush()
}

// Unwrap returns the server's ResponseWriter, for
// http.ResponseController.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
