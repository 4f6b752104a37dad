package health

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// worker runs network probes until the scheduler closes the job queue.
func (c *Checker) worker() {
	defer c.wg.Done()
	for j := range c.jobs {
		var r Result
		if j.probe.HTTP != "" {
			r = c.httpProbe(j.probe)
		} else {
			r = tcpProbe(j.probe)
		}
		c.post(msg{kind: msgNet, name: j.name, flight: j.flight, res: r})
	}
}

func (c *Checker) httpProbe(p *Probe) Result {
	start := time.Now()
	r := Result{Time: start}
	ctx, cancel := context.WithTimeout(context.Background(), p.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.HTTP, nil)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	req.Header.Set("User-Agent", "corral-health")
	resp, err := c.client.Do(req)
	if err != nil {
		r.Duration = time.Since(start)
		r.Err = netErr(err, p.Timeout)
		return r
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxOutput))
	resp.Body.Close()
	r.Duration = time.Since(start)
	r.HTTPStatus = resp.StatusCode
	r.Output = string(body)
	r.OK = resp.StatusCode >= 200 && resp.StatusCode < 400
	if err != nil && r.OK {
		r.OK, r.Err = false, "reading the body: "+netErr(err, p.Timeout)
	}
	return r
}

func tcpProbe(p *Probe) Result {
	start := time.Now()
	conn, err := net.DialTimeout("tcp", p.TCP, p.Timeout)
	r := Result{Time: start, Duration: time.Since(start)}
	if err != nil {
		r.Err = netErr(err, p.Timeout)
		return r
	}
	conn.Close()
	r.OK = true
	return r
}

func netErr(err error, timeout time.Duration) string {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return fmt.Sprintf("timed out after %s", timeout)
	}
	if err == context.DeadlineExceeded {
		return fmt.Sprintf("timed out after %s", timeout)
	}
	return err.Error()
}
