package daemon

import (
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ProcessEnv marks each process, when the daemon has no cgroups, with its
// process name, so what it leaves behind after a stop (a helper in its own
// session, re-parented to the daemon as a subreaper) can be found among
// the daemon's children. A helper that clears its environment escapes it:
// only a cgroup tracks everything.
const ProcessEnv = "CORRAL_PROCESS"

// processMark is the ProcessEnv entry of a process's environment, only
// without cgroups (ok false with them).
func (d *Daemon) processMark(name string) (entry string, ok bool) {
	if d.cg.root != "" {
		return "", false
	}
	return ProcessEnv + "=" + name, true
}

// killAdopted kills the daemon's children that no process of the monitor
// is and that carry the mark of one of the stopped processes: what those
// left behind (except for programs that keep their group: kill_as_group =
// false, supervisord's killasgroup=false). The monitor reaps them as orphans. Each is signalled
// through a pidfd after checking it is still this daemon's child with that
// mark, so a pid reused meanwhile is never hit.
func (d *Daemon) killAdopted(stopped map[string]bool) {
	if d.cg.root != "" || len(stopped) == 0 {
		return
	}
	d.mu.Lock()
	for name := range stopped {
		if pr := d.procs[name]; pr == nil || !pr.program.cfg.KillAsGroup {
			delete(stopped, name)
		}
	}
	d.mu.Unlock()
	if len(stopped) == 0 {
		return
	}
	infos, _, err := d.mon.Snapshot()
	if err != nil {
		return
	}
	supervised := make(map[int]bool, len(infos))
	for _, i := range infos {
		supervised[i.Pid] = true
	}
	self := os.Getpid()
	for _, pid := range ownChildren() {
		if supervised[pid] {
			continue
		}
		name := markOf(pid)
		if !stopped[name] {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		// The pidfd names one process for good: check that it is still ours.
		if f := statFields(pid); len(f) > 1 && f[1] == strconv.Itoa(self) && markOf(pid) == name {
			if unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) == nil {
				d.log.Warn("killed a process its program left behind after its stop (no cgroups to track it)", "program", name, "pid", pid)
			}
		}
		unix.Close(fd)
	}
}

// ownChildren lists the daemon's children (of every thread).
func ownChildren() []int {
	tasks, _ := os.ReadDir("/proc/self/task")
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/children")
		if err != nil {
			continue
		}
		for f := range strings.FieldsSeq(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				out = append(out, pid)
			}
		}
	}
	return out
}

// markOf returns the ProcessEnv mark of pid, "" if none.
func markOf(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return ""
	}
	prefix := []byte(ProcessEnv + "=")
	for e := range bytes.SplitSeq(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(e, prefix); ok {
			return string(v)
		}
	}
	return ""
}
