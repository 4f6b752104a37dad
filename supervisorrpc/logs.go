package supervisorrpc

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"

	"github.com/corralhq/corral/logs"
	"github.com/corralhq/corral/supervisorrpc/xmlrpc"
)

// maxRead bounds the bytes one log-reading call returns (supervisord has no
// bound): an XML-RPC response is built in memory before it is sent. A
// client reading a larger log goes on from the offset after what it got;
// system.multicall adds a bound on the whole response
// (xmlrpc.MaxMulticallResponse).
const maxRead = 1 << 20

// stream returns the stream of one process's channel ("stdout" or
// "stderr"), or nil when its output is not kept in a readable file.
func (c *call) stream(p proc, channel string) *logs.Stream {
	out, errs, err := c.d.Streams(p.Name)
	if err != nil {
		return nil
	}
	s := out
	if channel == "stderr" {
		s = errs
	}
	if s == nil || s.Path() == "" {
		return nil
	}
	return s
}

// clearLogs empties a process's logs; one without a log file has nothing
// to clear.
func (c *call) clearLogs(p proc) error {
	out, errs, err := c.d.Streams(p.Name)
	if err != nil {
		return err
	}
	for _, s := range []*logs.Stream{out, errs} {
		if s == nil || (s == errs && errs == out) {
			continue
		}
		if err := s.Clear(); err != nil && !errors.Is(err, logs.ErrNotReadable) {
			return err
		}
	}
	return nil
}

// readWindow is supervisord's readFile on a file of size bytes: where to
// read and how much. A negative offset reads that many bytes from the end
// (length must be 0); a length of 0 reads to the end. Impossible values are
// BAD_ARGUMENTS: a negative length, a negative length with a negative
// offset, and an offset of -2^63, whose magnitude no file position has.
func readWindow(size, offset, length int64) (from, n int64, err error) {
	if offset == math.MinInt64 {
		return 0, 0, xmlrpc.NewFault(xmlrpc.FaultBadArguments, fmt.Sprintf("offset %d is beyond any file position", offset))
	}
	if offset < 0 {
		if length != 0 {
			return 0, 0, xmlrpc.NewFault(xmlrpc.FaultBadArguments, "")
		}
		from = max(size+offset, 0)
		return from, min(size-from, -offset), nil
	}
	if length < 0 {
		return 0, 0, xmlrpc.NewFault(xmlrpc.FaultBadArguments, "")
	}
	if offset >= size {
		return offset, 0, nil
	}
	n = size - offset
	if length > 0 {
		n = min(n, length)
	}
	return offset, n, nil
}

// tailWindow is supervisord's tailFile on a file of size bytes: it returns
// where to read, how much, and whether bytes were skipped. Python's integers
// do not overflow; saturating sums keep its answers for any int64 (negative
// or huge values read nothing, as there).
func tailWindow(size, offset, length int64) (from, n int64, overflow bool) {
	if size > addSat(offset, length) {
		overflow = true
		offset = size - 1
	}
	if addSat(offset, length) > size {
		if offset > size-1 {
			length = 0
		}
		offset = subSat(size, length)
	}
	from = max(offset, 0)
	return from, max(min(length, size-from), 0), overflow
}

// addSat is a+b, clamped to the int64 range.
func addSat(a, b int64) int64 {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}

// subSat is a-b, clamped to the int64 range.
func subSat(a, b int64) int64 {
	switch {
	case b < 0 && a > math.MaxInt64+b:
		return math.MaxInt64
	case b > 0 && a < math.MinInt64+b:
		return math.MinInt64
	}
	return a - b
}

// readCurrent reads n bytes at offset off of the stream's current file.
func readCurrent(s *logs.Stream, off, n int64) (string, error) {
	n = min(n, maxRead)
	if n <= 0 {
		return "", nil
	}
	buf := make([]byte, n)
	k, err := s.ReadAt(buf, s.Stats().FileStart+off)
	if err != nil && err != io.EOF {
		return "", err
	}
	return string(buf[:k]), nil
}

func (c *call) logParams(params []any) (p proc, offset, length int64, err error) {
	if err := xmlrpc.Arity(params, 3, 3); err != nil {
		return p, 0, 0, err
	}
	name, err := xmlrpc.Param[string](params, 0)
	if err != nil {
		return p, 0, 0, err
	}
	o, err := xmlrpc.Param[int](params, 1)
	if err != nil {
		return p, 0, 0, err
	}
	l, err := xmlrpc.Param[int](params, 2)
	if err != nil {
		return p, 0, 0, err
	}
	if err := c.live(); err != nil {
		return p, 0, 0, err
	}
	_, one, err := c.lookup(name)
	if err != nil {
		return p, 0, 0, err
	}
	if one == nil {
		return p, 0, 0, xmlrpc.NewFault(xmlrpc.FaultBadName, name)
	}
	return *one, int64(o), int64(l), nil
}

func (c *call) readProcessLog(params []any, channel string) (any, error) {
	p, offset, length, err := c.logParams(params)
	if err != nil {
		return nil, err
	}
	s := c.stream(p, channel)
	if s == nil {
		return nil, xmlrpc.NewFault(xmlrpc.FaultNoFile, logName(p, channel))
	}
	st := s.Stats()
	from, n, err := readWindow(st.End-st.FileStart, offset, length)
	if err != nil {
		return nil, err
	}
	out, err := readCurrent(s, from, n)
	if err != nil {
		return nil, xmlrpc.NewFault(xmlrpc.FaultFailed, "")
	}
	return out, nil
}

func logName(p proc, channel string) string {
	if channel == "stderr" {
		return p.StderrLog
	}
	return p.StdoutLog
}

func (c *call) readStdout(params []any) (any, error) { return c.readProcessLog(params, "stdout") }
func (c *call) readStderr(params []any) (any, error) { return c.readProcessLog(params, "stderr") }

func (c *call) tailProcessLog(params []any, channel string) (any, error) {
	p, offset, length, err := c.logParams(params)
	if err != nil {
		return nil, err
	}
	s := c.stream(p, channel)
	if s == nil {
		return []any{"", 0, false}, nil
	}
	st := s.Stats()
	size := st.End - st.FileStart
	from, n, overflow := tailWindow(size, offset, length)
	if n > maxRead {
		// A tail keeps the newest bytes: skip the oldest, and say so.
		from, n, overflow = from+n-maxRead, maxRead, true
	}
	out, err := readCurrent(s, from, n)
	if err != nil {
		return []any{"", offset, false}, nil
	}
	return []any{out, size, overflow}, nil
}

func (c *call) tailStdout(params []any) (any, error) { return c.tailProcessLog(params, "stdout") }
func (c *call) tailStderr(params []any) (any, error) { return c.tailProcessLog(params, "stderr") }

// readLog reads the daemon's own log file, as supervisord's readLog.
func (c *call) readLog(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 2, 2); err != nil {
		return nil, err
	}
	offset, err := xmlrpc.Param[int](params, 0)
	if err != nil {
		return nil, err
	}
	length, err := xmlrpc.Param[int](params, 1)
	if err != nil {
		return nil, err
	}
	if err := c.live(); err != nil {
		return nil, err
	}
	path := c.d.Config().Daemon.Logfile
	f, err := os.Open(path)
	if path == "" || err != nil {
		return nil, xmlrpc.NewFault(xmlrpc.FaultNoFile, path)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, xmlrpc.NewFault(xmlrpc.FaultFailed, "")
	}
	from, n, err := readWindow(fi.Size(), int64(offset), int64(length))
	if err != nil {
		return nil, err
	}
	buf := make([]byte, min(n, maxRead))
	k, err := f.ReadAt(buf, from)
	if err != nil && err != io.EOF {
		return nil, xmlrpc.NewFault(xmlrpc.FaultFailed, "")
	}
	return string(buf[:k]), nil
}

// clearLog empties the daemon's log file. supervisord removes and reopens
// it; corral truncates it, so that the daemon's open file stays valid.
func (c *call) clearLog(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 0); err != nil {
		return nil, err
	}
	if err := c.live(); err != nil {
		return nil, err
	}
	path := c.d.Config().Daemon.Logfile
	if _, err := os.Stat(path); path == "" || err != nil {
		return nil, xmlrpc.NewFault(xmlrpc.FaultNoFile, "")
	}
	if err := os.Truncate(path, 0); err != nil {
		return nil, xmlrpc.NewFault(xmlrpc.FaultFailed, "")
	}
	return true, nil
}

// serveLogtail follows one process's log over chunked HTTP, as
// supervisord's /logtail/NAME[/CHANNEL] for supervisorctl tail -f: the last
// 1024 bytes of the current file first, then every byte as it is written,
// until the client goes away or the process is removed.
func (h *handler) serveLogtail(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "logtail: use GET", http.StatusMethodNotAllowed)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/logtail/")
	name, channel, ok := strings.Cut(rest, "/")
	if !ok {
		channel = "stdout"
	}
	c := &call{handler: h, ctx: r.Context()}
	_, one, err := c.lookup(name)
	if err != nil || one == nil || (channel != "stdout" && channel != "stderr") {
		http.NotFound(w, r)
		return
	}
	s := c.stream(*one, channel)
	if s == nil {
		http.NotFound(w, r)
		return
	}
	st := s.Stats()
	f, err := s.Follow(max(st.FileStart, st.End-1024))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	if r.Method == http.MethodHead {
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(r.Context(), buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
		var gap *logs.GapError
		switch {
		case errors.As(err, &gap):
			continue // bytes cleared or rotated away: go on from what is kept
		case err != nil:
			return
		}
	}
}
