package monitor

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// pidfdWatcher waits for any of many pidfds to become readable (the child
// exited) with one goroutine blocked in epoll_wait. It hands the ready fds to
// the loop, which owns the fd-to-pid table and does the reaping.
type pidfdWatcher struct {
	epfd   int
	wakefd int // an eventfd that ends the goroutine
	ready  chan []int
	pids   map[int]int // pidfd -> pid; loop goroutine only
	done   <-chan struct{}
}

func newPidfdWatcher(done <-chan struct{}) (*pidfdWatcher, error) {
	// Probe: a kernel without pidfds fails here, not at the first spawn.
	probe, err := unix.PidfdOpen(unix.Getpid(), 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open: %w (Linux 5.4 or later is needed)", err)
	}
	unix.Close(probe)
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	w := &pidfdWatcher{epfd: epfd, wakefd: wakefd, ready: make(chan []int), pids: map[int]int{}, done: done}
	go w.run()
	return w, nil
}

func (w *pidfdWatcher) run() {
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(w.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		fds := make([]int, 0, n)
		for _, ev := range events[:n] {
			if int(ev.Fd) == w.wakefd {
				unix.Close(w.epfd)
				unix.Close(w.wakefd)
				return
			}
			fds = append(fds, int(ev.Fd))
		}
		select {
		case w.ready <- fds:
		case <-w.done:
			// The loop is gone; wait for the wake-up that ends us.
		}
	}
}

// add watches pidfd. EPOLLONESHOT: each exit is reported once, and the loop
// closes the fd after reaping.
func (w *pidfdWatcher) add(pidfd, pid int) error {
	err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, pidfd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(pidfd)})
	if err != nil {
		return fmt.Errorf("epoll_ctl add pidfd: %w", err)
	}
	w.pids[pidfd] = pid
	return nil
}

func (w *pidfdWatcher) rearm(pidfd int) {
	_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_MOD, pidfd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(pidfd)})
}

func (w *pidfdWatcher) remove(pidfd int) {
	delete(w.pids, pidfd)
	unix.Close(pidfd) // closing also drops it from the epoll set
}

func (w *pidfdWatcher) close() {
	for fd := range w.pids {
		unix.Close(fd)
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(w.wakefd, one[:])
}
