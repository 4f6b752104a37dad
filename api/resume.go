package api

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
)

// ResumeTrailer is the trailer with which a long response (a log follow, the
// event stream) that ends because the daemon upgrades says where to resume:
// the log's next stream position (pass it as offset), or the sequence number
// of the last event sent. A response that ends without it was not ended by an
// upgrade.
const ResumeTrailer = "X-Corral-Resume"

// upgradeEnd ends a long response when the daemon is about to upgrade.
type upgradeEnd struct {
	ended   atomic.Bool
	release func()
}

// endOnUpgrade declares the trailer (so call it before WriteHeader) and
// registers the response with the daemon: an upgrade calls cancel, which
// should make the response end and call finish.
func (h *handler) endOnUpgrade(w http.ResponseWriter, cancel context.CancelFunc) *upgradeEnd {
	w.Header().Set("Trailer", ResumeTrailer)
	e := &upgradeEnd{}
	e.release = h.d.BeforeUpgrade(func() {
		e.ended.Store(true)
		cancel()
	})
	return e
}

// finish ends the response with the trailer when an upgrade ended it, and
// releases it: its last bytes are on the socket before the upgrade's exec
// can close the connection. Over HTTP/1.1 it writes the last chunk and the
// trailer itself, on the taken-over connection, because the server would
// write them only after the handler returned, which may be after the exec.
func (e *upgradeEnd) finish(w http.ResponseWriter, r *http.Request, resume string) {
	defer e.release()
	if !e.ended.Load() {
		return
	}
	rc := http.NewResponseController(w)
	if r.ProtoMajor != 1 || !r.ProtoAtLeast(1, 1) {
		w.Header().Set(ResumeTrailer, resume) // HTTP/2 writes it after the handler
		return
	}
	if rc.Flush() != nil {
		return
	}
	conn, rw, err := rc.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(rw, "0\r\n%s: %s\r\n\r\n", ResumeTrailer, resume)
	_ = rw.Flush()
}
