package logs

import (
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/internal/safefs"
)

// heldDirs are the parent directories HoldDirs keeps resolved, by path.
type heldDirs struct {
	mu   sync.Mutex
	dirs map[string]*heldDir // nil when not holding
}

// heldDir is one held directory, and what the streams opened in it asked
// of it: a daemon's start opens a thousand streams in one directory of
// logs, and each asked whether its file and its first backup exist (two
// stats) and whether the directory is writable.
type heldDir struct {
	d *safefs.Dir
	// asked counts the questions of existence; from listAfter on, the
	// directory is listed once and answers them.
	asked int
	names map[string]bool // the listing, once made; nil before or if it failed
	// writable is the answer of the first access check, once checked.
	checked  bool
	writable error
}

// listAfter is how many existence questions a held directory answers with
// a stat each before it is listed: a listing costs about as much as a
// stat per entry, so it pays only for a burst of opens.
const listAfter = 16

// absent reports whether name is known not to exist in the directory. A
// nil heldDir (a directory not held) knows nothing.
func (h *heldDir) absent(name string) bool {
	if h == nil {
		return false
	}
	h.asked++
	if h.names == nil && h.asked == listAfter {
		h.names, _ = h.d.Names()
	}
	return h.names != nil && !h.names[name]
}

// canCreate is unix.Faccessat(d, ".", W_OK), asked once per held
// directory.
func (h *heldDir) canCreate(d *safefs.Dir) error {
	if h == nil {
		return unix.Faccessat(d.Fd(), ".", unix.W_OK, unix.AT_EACCESS)
	}
	if !h.checked {
		h.writable = unix.Faccessat(d.Fd(), ".", unix.W_OK, unix.AT_EACCESS)
		h.checked = true
	}
	return h.writable
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
	h.dirs = map[string]*heldDir{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, hd := range h.dirs {
			hd.d.Close()
		}
		h.dirs = nil
	}
}

// open is safefs.OpenParent(path), served from the held directories when
// HoldDirs holds them; held is then the directory's record (nil when not
// held). done releases the directory (closes it when it is not held);
// until then no release can close it under the caller, and held is the
// caller's to use.
func (h *heldDirs) open(path string) (d *safefs.Dir, name string, held *heldDir, done func(), err error) {
	h.mu.Lock()
	unlock := h.mu.Unlock
	if h.dirs == nil {
		d, name, err = safefs.OpenParent(path)
		if err != nil {
			unlock()
			return nil, "", nil, nil, err
		}
		return d, name, nil, func() { d.Close(); unlock() }, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		unlock()
		return nil, "", nil, nil, err
	}
	dir, base := filepath.Split(abs)
	if hd, ok := h.dirs[dir]; ok && base != "" {
		return hd.d, base, hd, unlock, nil
	}
	d, name, err = safefs.OpenParent(abs)
	if err != nil {
		unlock()
		return nil, "", nil, nil, err
	}
	if name != base {
		// Not the plain last component: nothing to share.
		return d, name, nil, func() { d.Close(); unlock() }, nil
	}
	hd := &heldDir{d: d}
	h.dirs[dir] = hd
	return d, name, hd, unlock, nil
}
