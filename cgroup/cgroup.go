// Package cgroup manages the cgroup v2 directories a supervisor puts its
// processes in: it finds the unified hierarchy and the caller's own cgroup,
// makes and removes directories under it, kills everything in one
// (cgroup.kill, or freeze and SIGKILL on kernels without it), waits until it
// is empty, lists its processes and reads its CPU and memory counters.
//
// A cgroup holds every descendant of a process spawned into it, including
// those that left its process group or session (setsid, double fork, a
// container runtime's init), so killing the cgroup ends all of them, and a
// process outside it can never be hit by mistake: membership is an exact
// identity, unlike a recorded pid that the kernel may give to someone else.
//
// The package holds no descriptor open between calls and starts no
// goroutine. It never touches a cgroup v1 hierarchy.
package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Own returns the directory of the calling process's cgroup in the unified
// (v2) hierarchy, wherever that is mounted (/sys/fs/cgroup on a pure v2
// host, /sys/fs/cgroup/unified on a hybrid one, or inside a container with
// its own cgroup namespace), and the mount point.
func Own() (dir, mount string, err error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", "", err
	}
	rel, found := "", false
	for line := range strings.SplitSeq(string(b), "\n") {
		if r, ok := strings.CutPrefix(line, "0::"); ok {
			rel, found = r, true
			break
		}
	}
	if !found {
		return "", "", errors.New("no cgroup v2 entry (0::) in /proc/self/cgroup")
	}
	mount, root, err := unifiedMount()
	if err != nil {
		return "", "", err
	}
	// The mount may show a subtree of the hierarchy (its root field):
	// the process's path is relative to the hierarchy's root.
	if root != "/" {
		r, ok := strings.CutPrefix(rel, root)
		if !ok {
			return "", "", fmt.Errorf("own cgroup %s is outside the cgroup2 mount %s (root %s)", rel, mount, root)
		}
		rel = r
	}
	return filepath.Join(mount, rel), mount, nil
}

// unifiedMount finds the cgroup2 mount in /proc/self/mountinfo.
func unifiedMount() (mount, root string, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options... - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, rest := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(rest) < 1 || rest[0] != "cgroup2" {
			continue
		}
		return unescape(fields[4]), unescape(fields[3]), nil
	}
	if err := sc.Err(); err != nil {
		return "", "", err
	}
	return "", "", errors.New("no cgroup2 file system mounted")
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Make creates dir (and its missing parents below an existing cgroup). An
// existing directory is not an error.
func Make(dir string) error {
	// One mkdir where the parent exists, the common case (a program's
	// directory under the daemon's, a leaf under its program's): MkdirAll
	// would stat dir and its parent first, and a mkdir in cgroupfs is
	// already the dearest call of a first spawn.
	if err := syscall.Mkdir(dir, 0o755); err == nil {
		return nil
	}
	return os.MkdirAll(dir, 0o755)
}

// Kill sends SIGKILL to every process in dir and its descendants. It uses
// cgroup.kill (Linux 5.14); on older kernels it freezes the cgroup, so no
// process can fork while it is listed, kills every listed process and thaws
// it. A missing dir is not an error: nothing is left to kill.
func Kill(dir string) error {
	err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	if err == nil || errors.Is(err, fs.ErrNotExist) && !exists(dir) {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cgroup: kill %s: %w", dir, err)
	}
	// No cgroup.kill: freeze, kill each, thaw.
	freeze := filepath.Join(dir, "cgroup.freeze")
	if err := os.WriteFile(freeze, []byte("1"), 0); err != nil {
		return fmt.Errorf("cgroup: freeze %s: %w", dir, err)
	}
	defer os.WriteFile(freeze, []byte("0"), 0) //nolint:errcheck // best effort: killed processes die when thawed
	pids, err := Procs(dir)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return err
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Populated reports whether dir or any cgroup below it holds a process. It
// costs one open, read and close of cgroup.events (a supervisor asks it at
// each exit of a process), without the file's registration with Go's poller
// and the fstat os.ReadFile would add.
func Populated(dir string) (bool, error) {
	name := filepath.Join(dir, "cgroup.events")
	var buf [128]byte // "populated 0\nfrozen 0\n"
	n, err := readSmall(name, buf[:])
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !exists(dir) {
			return false, nil
		}
		return false, fmt.Errorf("cgroup: %w", err)
	}
	for line := range strings.SplitSeq(string(buf[:n]), "\n") {
		if v, ok := strings.CutPrefix(line, "populated "); ok {
			return v != "0", nil
		}
	}
	return false, fmt.Errorf("cgroup: no populated line in %s", name)
}

// readSmall reads the start of a small control file into buf with raw
// system calls.
func readSmall(name string, buf []byte) (int, error) {
	fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	for err == syscall.EINTR {
		fd, err = syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		return 0, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	n, err := syscall.Read(fd, buf)
	for err == syscall.EINTR {
		n, err = syscall.Read(fd, buf)
	}
	if err != nil {
		return 0, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return n, nil
}

// WaitEmpty waits until dir holds no process, for at most timeout. A killed
// process leaves its cgroup when it exits, before it is reaped: a zombie is
// not a member.
func WaitEmpty(dir string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		pop, err := Populated(dir)
		if err != nil || !pop {
			return err
		}
		if time.Now().After(deadline) {
			pids, _ := Procs(dir)
			return fmt.Errorf("cgroup: %s still holds %d processes after %s: %v", dir, len(pids), timeout, pids)
		}
		time.Sleep(delay)
	}
}

// Remove removes dir and every cgroup below it, deepest first. They must be
// empty (see Kill and WaitEmpty). A missing dir is not an error.
func Remove(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("cgroup: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := syscall.Rmdir(dir); err != nil && err != syscall.ENOENT {
		return fmt.Errorf("cgroup: remove %s: %w", dir, err)
	}
	return nil
}

// KillAndRemove kills everything in dir, waits for it to be empty for at
// most timeout and removes it.
func KillAndRemove(dir string, timeout time.Duration) error {
	if err := Kill(dir); err != nil {
		return err
	}
	if err := WaitEmpty(dir, timeout); err != nil {
		return err
	}
	return Remove(dir)
}

// Procs lists the pids in dir and every cgroup below it, sorted.
func Procs(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if !e.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		for f := range bytes.FieldsSeq(b) {
			if pid, err := strconv.Atoi(string(f)); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	slices.Sort(pids)
	return pids, err
}

// Stats are the counters of one cgroup. A counter the kernel does not
// offer there (no memory controller) is -1.
type Stats struct {
	CPUUsec     int64 // cpu.stat usage_usec: user and system CPU time
	MemoryBytes int64 // memory.current
}

// ReadStats reads dir's counters.
func ReadStats(dir string) (Stats, error) {
	s := Stats{CPUUsec: -1, MemoryBytes: -1}
	b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return s, fmt.Errorf("cgroup: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			s.CPUUsec, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "memory.current")); err == nil {
		s.MemoryBytes, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	return s, nil
}

// Controllers lists the controllers available in dir (cgroup.controllers):
// those its parent enabled for its children.
func Controllers(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	return strings.Fields(string(b)), nil
}

// Enable enables controllers for dir's children (cgroup.subtree_control).
// The kernel refuses it while dir itself holds processes (the "no internal
// processes" rule), except at the root.
func Enable(dir string, controllers ...string) error {
	if len(controllers) == 0 {
		return nil
	}
	var b strings.Builder
	for i, c := range controllers {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("+" + c)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(b.String()), 0); err != nil {
		return fmt.Errorf("cgroup: enable %s in %s: %w", b.String(), dir, err)
	}
	return nil
}

// Set writes value to the control file name (memory.max, cpu.max,
// pids.max...) of dir.
func Set(dir, name, value string) error {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0); err != nil {
		return fmt.Errorf("cgroup: set %s to %q in %s: %w", name, value, dir, err)
	}
	return nil
}

// MoveSelf moves the calling process (every thread of it) into dir.
func MoveSelf(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		return fmt.Errorf("cgroup: move the daemon into %s: %w", dir, err)
	}
	return nil
}
