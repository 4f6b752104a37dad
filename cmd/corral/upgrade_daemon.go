package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/corralhq/corral/handoff"
)

// Names of the listening sockets an upgrade carries (handoff.File.Name).
const (
	carriedSocket = "listener/unix"
	carriedInet   = "listener/inet"
	carriedHealth = "listener/health"
)

// takeHandoff reads the state a previous image handed over, if any. It runs
// first in a daemon, before anything reads the environment. A state that
// cannot be used is reported and the daemon starts as after a crash
// (reclaim, then autostart): exiting would kill every program through its
// death signal, so it is never the way out.
func takeHandoff(stderr io.Writer) *handoff.State {
	h, err := handoff.FromEnv()
	if err != nil {
		fmt.Fprintf(stderr, "corral: upgrade: cannot take over the previous image's state, starting afresh (its processes are reclaimed): %v\n", err)
		return nil
	}
	return h
}

// carriedListener returns the listener a previous image carried under name,
// or nil when there is none.
func carriedListener(h *handoff.State, name string) (net.Listener, error) {
	if h == nil {
		return nil, nil
	}
	fd := h.File(name)
	if fd < 0 {
		return nil, nil
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close() // FileListener holds its own copy
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("upgrade: carried %s (descriptor %d): %w", name, fd, err)
	}
	if u, ok := ln.(*net.UnixListener); ok {
		// As when this image had made it: the socket goes at shutdown.
		u.SetUnlinkOnClose(true)
	}
	return ln, nil
}

// listenCarried is listen, or the socket a previous image carried.
func listenCarried(h *handoff.State, name string, listen func() (net.Listener, error), log *slog.Logger) (net.Listener, error) {
	ln, err := carriedListener(h, name)
	if err != nil {
		log.Error("upgrade: cannot use a carried listening socket; opening it again", "listener", name, "err", err)
	}
	if ln != nil {
		return ln, nil
	}
	return listen()
}

// carryListeners returns daemon.Options.Carry for the daemon's listeners:
// a duplicate of each, which the exec carries and which is closed again
// if the exec fails. The listening socket never closes, so no client sees
// "connection refused" during an upgrade; connections arriving meanwhile
// wait in its backlog for the new image.
func carryListeners(named map[string]net.Listener) func() ([]handoff.File, func(), error) {
	return func() ([]handoff.File, func(), error) {
		var files []handoff.File
		var opened []*os.File
		release := func() {
			for _, f := range opened {
				f.Close()
			}
		}
		for name, ln := range named {
			if ln == nil {
				continue
			}
			fl, ok := ln.(interface{ File() (*os.File, error) })
			if !ok {
				release()
				return nil, nil, fmt.Errorf("listener %s (%T) cannot be carried", name, ln)
			}
			f, err := fl.File()
			if err != nil {
				release()
				return nil, nil, fmt.Errorf("listener %s: %w", name, err)
			}
			opened = append(opened, f)
			files = append(files, handoff.File{Name: name, FD: int(f.Fd())})
		}
		if len(files) == 0 {
			return nil, nil, errors.New("no listening socket to carry")
		}
		return files, release, nil
	}
}
