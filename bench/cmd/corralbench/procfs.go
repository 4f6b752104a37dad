package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// procStat is the part of /proc/PID/stat the harness needs.
type procStat struct {
	pid       int
	state     byte
	ppid      int
	pgrp      int
	utime     uint64 // clock ticks
	stime     uint64
	threads   int
	starttime uint64 // clock ticks after boot; with pid, identifies a process
}

// listPids returns the numeric entries of /proc.
func listPids() ([]int, error) {
	f, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	pids := make([]int, 0, len(names))
	for _, name := range names {
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		if pid, err := strconv.Atoi(name); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// readSmall reads a small /proc file into buf without allocating.
func readSmall(path string, buf []byte) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return nil, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return buf[:n], nil
}

func readStat(pid int, buf []byte) (procStat, error) {
	b, err := readSmall("/proc/"+strconv.Itoa(pid)+"/stat", buf)
	if err != nil {
		return procStat{}, err
	}
	return parseStat(pid, b)
}

// parseStat parses /proc/PID/stat; comm may hold spaces and parentheses, so
// fields are counted from the last ')'.
func parseStat(pid int, b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := bytes.Fields(b[i+2:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	num := func(k int) uint64 { v, _ := strconv.ParseUint(string(f[k-3]), 10, 64); return v }
	return procStat{
		pid:       pid,
		state:     f[0][0],
		ppid:      int(num(4)),
		pgrp:      int(num(5)),
		utime:     num(14),
		stime:     num(15),
		threads:   int(num(20)),
		starttime: num(22),
	}, nil
}

// snapshot is one pass over every process in /proc.
type snapshot map[int]procStat

func takeSnapshot() snapshot {
	pids, _ := listPids()
	buf := make([]byte, 4096)
	s := make(snapshot, len(pids))
	for _, pid := range pids {
		if st, err := readStat(pid, buf); err == nil {
			s[pid] = st
		}
	}
	return s
}

// descendants returns root and every process below it.
func (s snapshot) descendants(root int) []int {
	children := make(map[int][]int, len(s))
	for pid, st := range s {
		children[st.ppid] = append(children[st.ppid], pid)
	}
	var out []int
	queue := []int{root}
	seen := map[int]bool{}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		if _, ok := s[pid]; ok {
			out = append(out, pid)
		}
		queue = append(queue, children[pid]...)
	}
	return out
}

// markerScanner finds the supervised programs of one run: processes whose
// argv is exactly [".../sleep", token]. Supervisor processes never match:
// their argv differs, and a forked child that has not exec'd yet still shows
// its parent's argv.
type markerScanner struct {
	token []byte
	buf   []byte
	known map[int]uint64 // pid -> starttime of markers already seen this phase
}

func newMarkerScanner(token string) *markerScanner {
	return &markerScanner{token: []byte(token), buf: make([]byte, 4096), known: map[int]uint64{}}
}

func (m *markerScanner) isMarker(pid int) bool {
	b, err := readSmall("/proc/"+strconv.Itoa(pid)+"/cmdline", m.buf)
	if err != nil || len(b) == 0 {
		return false // gone, or a zombie (empty cmdline)
	}
	b = bytes.TrimSuffix(b, []byte{0})
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return false
	}
	argv0, rest := b[:i], b[i+1:]
	return bytes.HasSuffix(argv0, []byte("sleep")) && bytes.Equal(rest, m.token)
}

// count returns how many markers are alive now, excluding the processes in
// dead (pid -> starttime of processes already sent SIGKILL, which may linger
// for a moment before the kernel tears them down). Markers seen once are
// remembered so a poll only reads the cmdline of pids it has not seen, which
// keeps polling cheap at 10,000 programs.
func (m *markerScanner) count(dead map[int]uint64) (int, error) {
	pids, err := listPids()
	if err != nil {
		return 0, err
	}
	alive := make(map[int]bool, len(pids))
	n := 0
	for _, pid := range pids {
		alive[pid] = true
		if _, ok := m.known[pid]; ok {
			n++
			continue
		}
		if !m.isMarker(pid) {
			continue
		}
		st, err := readStat(pid, m.buf)
		if err != nil || st.state == 'Z' {
			continue
		}
		if t, ok := dead[pid]; ok && t == st.starttime {
			continue // the old process, still dying
		}
		m.known[pid] = st.starttime
		n++
	}
	for pid := range m.known {
		if !alive[pid] {
			delete(m.known, pid)
		}
	}
	return n, nil
}

// startRange returns the start times of the earliest and the latest
// marker count has seen, as times on CLOCK_BOOTTIME: the middle of their
// tick (USER_HZ, 100 on Linux), as /proc gives them no finer.
func (m *markerScanner) startRange() (first, last time.Duration) {
	lo, hi := ^uint64(0), uint64(0)
	for _, t := range m.known {
		lo, hi = min(lo, t), max(hi, t)
	}
	at := func(t uint64) time.Duration { return time.Duration(t)*10*time.Millisecond + 5*time.Millisecond }
	return at(lo), at(hi)
}

// bootTime reads CLOCK_BOOTTIME, the clock of /proc/PID/stat's start
// times.
func bootTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// markers returns pid -> starttime of every live marker (a full scan).
func (m *markerScanner) markers() map[int]uint64 {
	pids, _ := listPids()
	out := map[int]uint64{}
	for _, pid := range pids {
		if !m.isMarker(pid) {
			continue
		}
		if st, err := readStat(pid, m.buf); err == nil && st.state != 'Z' {
			out[pid] = st.starttime
		}
	}
	return out
}

// pssKiB returns the proportional set size of pid in KiB.
func pssKiB(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("Pss:")) {
			f := bytes.Fields(line)
			if len(f) >= 2 {
				return strconv.Atoi(string(f[1]))
			}
		}
	}
	return 0, fmt.Errorf("no Pss in /proc/%d/smaps_rollup", pid)
}

func readInt(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, _ := strconv.Atoi(string(bytes.TrimSpace(b)))
	return v
}
