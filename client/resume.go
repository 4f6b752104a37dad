package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/corralhq/corral/api"
)

// resumeFor bounds how long a stream ended by an upgrade tries to reach the
// new image. The listening socket is carried across the exec, so a request
// waits in its backlog and the first try normally succeeds; the tries after it
// cover a request the old image took just before its exec.
const resumeFor = 10 * time.Second

// resumeAt returns the position a response ended by an upgrade gave in its
// trailer, once its body was read to the end; ok is false when it was not
// ended by an upgrade.
func resumeAt(resp *http.Response) (at string, ok bool) {
	at = resp.Trailer.Get(api.ResumeTrailer)
	return at, at != ""
}

// reopen sends a request again until the daemon answers it, for up to
// resumeFor: an answer with an error status, or the end of ctx, ends the
// tries at once.
func reopen(ctx context.Context, send func() (*http.Response, error)) (*http.Response, error) {
	deadline := time.Now().Add(resumeFor)
	for {
		resp, err := send()
		var status *Error
		if err == nil || errors.As(err, &status) || ctx.Err() != nil || time.Now().After(deadline) {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// followBody is a followed log's body that continues across daemon upgrades:
// when an upgrade ends the response, it asks the new image for the bytes from
// where the old one stopped, so none is lost or repeated.
type followBody struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelFunc
	name   string
	opt    LogOptions
	mu     sync.Mutex // guards resp against Close from another goroutine
	resp   *http.Response
}

func (b *followBody) body() io.ReadCloser {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.resp.Body
}

func (b *followBody) set(resp *http.Response) {
	b.mu.Lock()
	b.resp = resp
	b.mu.Unlock()
}

func (b *followBody) Read(p []byte) (int, error) {
	for {
		body := b.body()
		n, err := body.Read(p)
		if err != io.EOF {
			return n, err
		}
		at, ok := resumeAt(b.resp)
		if !ok {
			return n, io.EOF
		}
		off, perr := strconv.ParseInt(at, 10, 64)
		if perr != nil || off < 0 {
			return n, fmt.Errorf("daemon at %s: bad %s trailer %q", b.c.socket, api.ResumeTrailer, at)
		}
		body.Close()
		opt := b.opt
		opt.Tail, opt.Offset = 0, off
		resp, rerr := reopen(b.ctx, func() (*http.Response, error) { return b.c.logs(b.ctx, b.name, opt) })
		if rerr != nil {
			b.set(&http.Response{Body: http.NoBody})
			return n, fmt.Errorf("the daemon upgraded and the log could not be followed on: %w", rerr)
		}
		b.set(resp)
		if n > 0 {
			return n, nil
		}
	}
}

func (b *followBody) Close() error {
	b.cancel()
	return b.body().Close()
}
