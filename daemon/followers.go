package daemon

import (
	"sync"
	"time"
)

// followersWait bounds how long an upgrade waits for the long responses it
// ended to write their last bytes; a client that does not read by then is cut
// by the exec, as a crash would cut it.
const followersWait = time.Second

// followers are the long responses in flight (a log follow, the event
// stream). An upgrade ends them before its exec, so each can tell its client
// where to resume instead of being cut mid-stream by the exec.
type followers struct {
	mu      sync.Mutex
	next    uint64
	ends    map[uint64]func()
	ending  bool          // an upgrade is ending them: new ones end at once
	drained chan struct{} // closed when the last one released, while ending
}

// BeforeUpgrade registers a long response: end is called when an upgrade is
// about to replace the daemon's image (at once if one is already ending the
// responses). The response should then finish, telling its client where to
// resume, and call release; it calls release too when it ends for any other
// reason. The upgrade waits up to a second for every registered response to
// release before it execs.
func (d *Daemon) BeforeUpgrade(end func()) (release func()) {
	fs := &d.up.followers
	fs.mu.Lock()
	id := fs.next
	fs.next++
	if fs.ends == nil {
		fs.ends = map[uint64]func(){}
	}
	fs.ends[id] = end
	ending := fs.ending
	fs.mu.Unlock()
	if ending {
		end()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			fs.mu.Lock()
			defer fs.mu.Unlock()
			delete(fs.ends, id)
			if len(fs.ends) == 0 && fs.drained != nil {
				close(fs.drained)
				fs.drained = nil
			}
		})
	}
}

// end ends every registered response and waits up to wait for them to
// release. The returned reopen lets responses run again, for an upgrade that
// failed before its exec.
func (fs *followers) end(wait time.Duration) (reopen func()) {
	fs.mu.Lock()
	fs.ending = true
	ends := make([]func(), 0, len(fs.ends))
	for _, f := range fs.ends {
		ends = append(ends, f)
	}
	var drained chan struct{}
	if len(fs.ends) > 0 {
		drained = make(chan struct{})
		fs.drained = drained
	}
	fs.mu.Unlock()
	for _, f := range ends {
		f()
	}
	if drained != nil {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-drained:
		case <-t.C:
		}
	}
	return func() {
		fs.mu.Lock()
		fs.ending, fs.drained = false, nil
		fs.mu.Unlock()
	}
}
