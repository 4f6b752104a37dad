// Package client is the Go client of corral's API (package api), over the
// daemon's unix socket. The corral CLI is built on it.
//
// Methods return an *Error when the daemon answered with an error status;
// its Results say, for an action on several processes, which ones failed.
// When the daemon cannot be reached the error says so and names the socket:
//
//	cannot reach daemon at /run/corral/corral.sock: connect: no such file or directory
//
// A daemon configured with a username and password refuses requests
// without them (see WithBasicAuth); [Unauthorized] tells that error.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/corralhq/corral/api"
	"github.com/corralhq/corral/daemon"
	"github.com/corralhq/corral/httpguard"
)

// Client talks to one daemon. It is safe for concurrent use.
type Client struct {
	socket             string
	hc                 *http.Client
	username, password string
}

// Option configures a Client.
type Option func(*Client)

// WithBasicAuth sends username and password with every request, for a
// daemon configured with credentials ([daemon] username and password, or
// [unix_http_server] ones). An empty username sends none.
func WithBasicAuth(username, password string) Option {
	return func(c *Client) { c.username, c.password = username, password }
}

// New returns a client of the daemon listening on the unix socket path.
//
// Before each connection the client checks the socket's directory (see
// httpguard.CheckSocketDir): one that another user owns or may write in
// is refused, as that user could have put their own socket there to
// capture requests and credentials.
func New(socket string, opts ...Option) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			if err := httpguard.CheckSocketDir(filepath.Dir(socket)); err != nil {
				return nil, &net.OpError{Op: "dial", Net: "unix", Err: err}
			}
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableCompression: true,
	}
	c := &Client{socket: socket, hc: &http.Client{Transport: tr}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Socket returns the socket path the client dials.
func (c *Client) Socket() string { return c.socket }

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Error is an error answer of the daemon.
type Error struct {
	Status  int    // HTTP status
	Message string // the daemon's message
	// Results are the per-process results of a failed action.
	Results []daemon.Result
}

// Error returns the daemon's message.
func (e *Error) Error() string { return e.Message }

// Unauthorized reports whether err is the daemon's refusal of missing or
// wrong credentials.
func Unauthorized(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusUnauthorized
}

// NotFound reports whether err is a daemon's "no such process or program".
func NotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// do sends a request and returns the response of a 2xx status; other
// statuses become an *Error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := "http://corral" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.username != "" {
		req.SetBasicAuth(c.username, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, fmt.Errorf("cannot reach daemon at %s: %w", c.socket, op.Err)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("daemon at %s: %w", c.socket, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		msg := "authentication required: the daemon at " + c.socket + " needs a username and password"
		if c.username != "" {
			msg = "wrong username or password for the daemon at " + c.socket
		}
		return nil, &Error{Status: resp.StatusCode, Message: msg}
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var er api.ErrorResponse
	if json.Unmarshal(raw, &er) != nil || er.Error == "" {
		er.Error = fmt.Sprintf("daemon answered %s: %s", resp.Status, bytes.TrimSpace(raw))
	}
	return nil, &Error{Status: resp.StatusCode, Message: er.Error, Results: er.Results}
}

// call sends a request and decodes a JSON answer into out (when not nil).
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	resp, err := c.do(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("daemon at %s: bad answer to %s %s: %w", c.socket, method, path, err)
	}
	return nil
}

func seg(s string) string { return url.PathEscape(s) }

// Info returns the daemon's description.
func (c *Client) Info(ctx context.Context) (daemon.Info, error) {
	var in daemon.Info
	err := c.call(ctx, "GET", "/v1/info", nil, nil, &in)
	return in, err
}

// Status returns the processes that names designate (all without names).
func (c *Client) Status(ctx context.Context, names ...string) ([]daemon.ProcessStatus, error) {
	var out []daemon.ProcessStatus
	err := c.call(ctx, "GET", "/v1/processes", url.Values{"name": names}, nil, &out)
	return out, err
}

// Inspect returns one process's status and its program's configuration.
func (c *Client) Inspect(ctx context.Context, name string) (api.Process, error) {
	var out api.Process
	err := c.call(ctx, "GET", "/v1/processes/"+seg(name), nil, nil, &out)
	return out, err
}

// Program returns a program's configuration with the TOML keys.
func (c *Client) Program(ctx context.Context, name string) (map[string]any, error) {
	var out map[string]any
	err := c.call(ctx, "GET", "/v1/programs/"+seg(name), nil, nil, &out)
	return out, err
}

func (c *Client) action(ctx context.Context, action string, req api.ActionRequest) ([]daemon.Result, error) {
	var out api.ActionResponse
	err := c.call(ctx, "POST", "/v1/actions/"+action, nil, req, &out)
	var e *Error
	if errors.As(err, &e) {
		return e.Results, err
	}
	return out.Results, err
}

// Start starts the targets; with wait it returns once each is RUNNING or
// failed to start.
func (c *Client) Start(ctx context.Context, targets []string, wait bool) ([]daemon.Result, error) {
	return c.action(ctx, "start", api.ActionRequest{Targets: targets, Wait: wait})
}

// Stop stops the targets; with wait it returns once each is stopped.
func (c *Client) Stop(ctx context.Context, targets []string, wait bool) ([]daemon.Result, error) {
	return c.action(ctx, "stop", api.ActionRequest{Targets: targets, Wait: wait})
}

// Restart stops the targets and starts them again.
func (c *Client) Restart(ctx context.Context, targets []string, wait bool) ([]daemon.Result, error) {
	return c.action(ctx, "restart", api.ActionRequest{Targets: targets, Wait: wait})
}

// Signal sends sig ("HUP", "SIGUSR1" or a number) to the targets.
func (c *Client) Signal(ctx context.Context, sig string, targets []string) ([]daemon.Result, error) {
	return c.action(ctx, "signal", api.ActionRequest{Targets: targets, Signal: sig})
}

// AddProgram adds a program at run time. fields are the keys of a TOML
// program table ("command", "numprocs", "environment", ...); the results
// are those of its autostart.
func (c *Client) AddProgram(ctx context.Context, name string, fields map[string]any) ([]daemon.Result, error) {
	body := map[string]any{}
	for k, v := range fields {
		body[k] = v
	}
	body["name"] = name
	var out api.ActionResponse
	err := c.call(ctx, "POST", "/v1/programs", nil, body, &out)
	var e *Error
	if errors.As(err, &e) {
		return e.Results, err
	}
	return out.Results, err
}

// RemoveProgram stops a program's processes and removes it.
func (c *Client) RemoveProgram(ctx context.Context, name string) error {
	return c.call(ctx, "DELETE", "/v1/programs/"+seg(name), nil, nil, nil)
}

// Reload re-reads the daemon's configuration file and applies the diff.
func (c *Client) Reload(ctx context.Context) (daemon.Diff, error) {
	var df daemon.Diff
	err := c.call(ctx, "POST", "/v1/reload", nil, nil, &df)
	return df, err
}

// Shutdown asks the daemon to stop every process and exit.
func (c *Client) Shutdown(ctx context.Context) error {
	return c.call(ctx, "POST", "/v1/shutdown", nil, nil, nil)
}

// LogOptions select what Logs reads.
type LogOptions struct {
	// Stderr reads the stderr stream instead of stdout.
	Stderr bool
	// Tail, when > 0, reads only the last Tail bytes.
	Tail int64
	// Offset, when > 0, reads from this stream position.
	Offset int64
	// Follow keeps reading the bytes as they are written until ctx ends
	// or the body is closed.
	Follow bool
}

// Logs reads a process's log. Close the returned body. A followed log
// continues across an upgrade of the daemon, from the byte after the last
// one read.
func (c *Client) Logs(ctx context.Context, name string, opt LogOptions) (io.ReadCloser, error) {
	resp, err := c.logs(ctx, name, opt)
	if err != nil {
		return nil, err
	}
	if !opt.Follow {
		return resp.Body, nil
	}
	b := &followBody{c: c, name: name, opt: opt, resp: resp}
	b.ctx, b.cancel = context.WithCancel(ctx)
	return b, nil
}

func (c *Client) logs(ctx context.Context, name string, opt LogOptions) (*http.Response, error) {
	q := url.Values{}
	if opt.Stderr {
		q.Set("stream", "stderr")
	}
	if opt.Tail > 0 {
		q.Set("tail", strconv.FormatInt(opt.Tail, 10))
	}
	if opt.Offset > 0 {
		q.Set("offset", strconv.FormatInt(opt.Offset, 10))
	}
	if opt.Follow {
		q.Set("follow", "true")
	}
	return c.do(ctx, "GET", "/v1/processes/"+seg(name)+"/logs", q, nil)
}

// Events follows the daemon's events. The stream continues across an
// upgrade of the daemon; the events that happened while it reconnected are
// counted by a "missed" event, as for a client that fell behind.
type Events struct {
	c       *Client
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex // guards resp against Close from another goroutine
	resp    *http.Response
	sc      *bufio.Scanner
	last    uint64    // the last event's sequence number (0: none yet)
	held    api.Event // an event to return after the "missed" one before it
	heldRaw []byte
	resumed bool // reconnected after an upgrade: the next event may show a gap
}

// Events opens an event stream. Close it when done.
func (c *Client) Events(ctx context.Context) (*Events, error) {
	e := &Events{c: c}
	e.ctx, e.cancel = context.WithCancel(ctx)
	resp, err := c.do(e.ctx, "GET", "/v1/events", nil, nil)
	if err != nil {
		e.cancel()
		return nil, err
	}
	e.open(resp)
	return e, nil
}

func (e *Events) open(resp *http.Response) {
	e.mu.Lock()
	e.resp = resp
	e.mu.Unlock()
	e.sc = bufio.NewScanner(resp.Body)
	e.sc.Buffer(make([]byte, 64<<10), 1<<20)
}

// Next returns the next event, its JSON line, and io.EOF when the stream
// ends.
func (e *Events) Next() (api.Event, []byte, error) {
	if e.heldRaw != nil {
		ev, raw := e.held, e.heldRaw
		e.heldRaw = nil
		return ev, raw, nil
	}
	for !e.sc.Scan() {
		if err := e.sc.Err(); err != nil {
			return api.Event{}, nil, err
		}
		at, ok := resumeAt(e.resp)
		if !ok {
			return api.Event{}, nil, io.EOF
		}
		if n, err := strconv.ParseUint(at, 10, 64); err == nil && n > e.last {
			e.last = n // the stream stood there, even if it sent nothing
		}
		e.resp.Body.Close()
		resp, err := reopen(e.ctx, func() (*http.Response, error) { return e.c.do(e.ctx, "GET", "/v1/events", nil, nil) })
		if err != nil {
			e.open(&http.Response{Body: http.NoBody})
			return api.Event{}, nil, fmt.Errorf("the daemon upgraded and its events could not be followed on: %w", err)
		}
		e.open(resp)
		e.resumed = true
	}
	line := e.sc.Bytes()
	var ev api.Event
	if err := json.Unmarshal(line, &ev); err != nil {
		return api.Event{}, nil, fmt.Errorf("bad event %q: %w", line, err)
	}
	if ev.Seq == 0 {
		return ev, line, nil // a health event: not numbered
	}
	last := e.last
	e.last = ev.Seq
	if e.resumed {
		e.resumed = false
		if last > 0 && ev.Seq > last+1 {
			missed := api.Event{Type: "missed", Time: ev.Time, Missed: ev.Seq - last - 1}
			raw, _ := json.Marshal(missed)
			e.held, e.heldRaw = ev, append([]byte(nil), line...)
			return missed, raw, nil
		}
	}
	return ev, line, nil
}

// Close ends the stream.
func (e *Events) Close() error {
	e.cancel()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.resp.Body.Close()
}

// Metrics returns the daemon's /metrics in the Prometheus text format.
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, "GET", "/metrics", nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
