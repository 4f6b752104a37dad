package monitor

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// A process's start time in clock ticks after boot (field 22 of
// /proc/PID/stat) is what tells it from a later process with the same pid:
// the daemon records it with every pid, so that the next daemon after a
// crash, or the next image after an upgrade, acts on its own processes
// only. No system call returns it with the pid (not clone3, not a pidfd),
// and reading /proc for each spawn is a dear part of a spawn's
// bookkeeping. The kernel takes it from CLOCK_BOOTTIME inside the fork,
// in ticks of 1/100 s: when that clock reads the same tick just before
// and just after the fork (almost always: a fork takes well under a
// millisecond), the child's start time is that tick. Otherwise it is
// unknown (0) and the reader goes to /proc.
//
// The first value is checked once against /proc, so a kernel that counts
// otherwise (another tick rate, a clock the time namespace shifts
// differently) turns the shortcut off instead of recording wrong values.

// ticksPerSecond is USER_HZ, the unit of /proc/PID/stat's times: 100 on
// every architecture Go runs on under Linux.
const ticksPerSecond = 100

// tickCheck is 0 until the first value is checked against /proc, 1 when it
// matched, -1 when it did not (the shortcut is off).
var tickCheck atomic.Int32

// bootTicks returns CLOCK_BOOTTIME in ticks, as the kernel converts a
// task's start_boottime for /proc/PID/stat (nsec_to_clock_t), or 0.
func bootTicks() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0
	}
	return uint64(ts.Sec)*ticksPerSecond + uint64(ts.Nsec)/(1e9/ticksPerSecond)
}

// forkTicks runs fork (one fork and exec) and returns the child's start
// time in ticks when the clock did not turn a tick during the fork, or 0.
func forkTicks(fork func()) uint64 {
	if tickCheck.Load() < 0 {
		fork()
		return 0
	}
	t0 := bootTicks()
	fork()
	if t1 := bootTicks(); t1 != t0 {
		return 0
	}
	return t0
}

// checkedTicks returns ticks, forkTicks's value for the child pid, once
// the shortcut is known to agree with /proc; the first call compares the
// two. It runs on the loop before the pid can be reaped, so /proc/pid is
// the child's.
func checkedTicks(pid int, ticks uint64) uint64 {
	if ticks == 0 {
		return 0
	}
	switch tickCheck.Load() {
	case 1:
		return ticks
	case -1:
		return 0
	}
	st, err := readProcStat(pid)
	if err != nil {
		return 0 // unchecked still; the next spawn tries again
	}
	if st.startTicks != ticks {
		tickCheck.Store(-1)
		return 0
	}
	tickCheck.Store(1)
	return ticks
}
