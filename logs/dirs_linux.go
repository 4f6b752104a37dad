package logs

import (
	"path/filepath"
	"sync"

	"github.com/corralhq/corral/internal/safefs"
)

// heldDirs are the parent directories HoldDirs keeps resolved, by path.
type heldDirs struct {
	mu   sync.Mutex
	dirs map[string]*safefs.Dir // nil when not holding
}

// HoldDirs makes the streams opened until release resolve each log file's
// directory once, rather than walking every path from "/" without
// following untrusted symbolic links (one open and one fstat per path
// component, for each stream): a daemon's start opens a stream or two per
// program, mostly in one directory. release closes the directories held.
// A directory moved or replaced while held is not seen, so hold them for
// one burst of opens, not longer. Calls do not nest.
func (c *Capture) HoldDirs() (release func()) {
	h := &c.parents
	h.mu.Lock()
	h.dirs = map[string]*safefs.Dir{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, d := range h.dirs {
			d.Close()
		}
		h.dirs = nil
	}
}

// open is safefs.OpenParent(path), served from the held directories when
// HoldDirs holds them. done releases the directory (closes it when it is
// not held); until then no release can close it under the caller.
func (h *heldDirs) open(path string) (d *safefs.Dir, name string, done func(), err error) {
	h.mu.Lock()
	unlock := h.mu.Unlock
	if h.dirs == nil {
		d, name, err = safefs.OpenParent(path)
		if err != nil {
			unlock()
			return nil, "", nil, err
		}
		return d, name, func() { d.Close(); unlock() }, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		unlock()
		return nil, "", nil, err
	}
	dir, base := filepath.Split(abs)
	if d, ok := h.dirs[dir]; ok && base != "" {
		return d, base, unlock, nil
	}
	d, name, err = safefs.OpenParent(abs)
	if err != nil {
		unlock()
		return nil, "", nil, err
	}
	if name != base {
		// Not the plain last component: nothing to share.
		return d, name, func() { d.Close(); unlock() }, nil
	}
	h.dirs[dir] = d
	return d, name, unlock, nil
}
