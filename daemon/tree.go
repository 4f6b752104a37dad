package daemon

import (
	"bytes"
	"os"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/corralhq/corral/cgroup"
)

// ProcessTree is every process of one supervised process: with cgroups,
// all that its cgroup holds (helpers in other sessions included); without,
// the members of its process group. CPUUsec and MemoryBytes come from the
// cgroup (cpu.stat, memory.current); they are absent without cgroups, and
// memory without the memory controller.
type ProcessTree struct {
	Name        string      `json:"name"`
	Pid         int         `json:"pid,omitempty"`
	Cgroup      string      `json:"cgroup,omitempty"`
	CPUUsec     *int64      `json:"cpu_usec,omitempty"`
	MemoryBytes *int64      `json:"memory_bytes,omitempty"`
	Processes   []TreeEntry `json:"processes"`
}

// TreeEntry is one process of a ProcessTree.
type TreeEntry struct {
	Pid     int    `json:"pid"`
	PPid    int    `json:"ppid"`
	Command string `json:"command"`
}

// Tree returns the processes of each process that targets name (all when
// empty), sorted by name.
func (d *Daemon) Tree(targets ...string) ([]ProcessTree, error) {
	sts, err := d.Status(targets...)
	if err != nil {
		return nil, err
	}
	var groups map[int][]int
	out := make([]ProcessTree, 0, len(sts))
	for _, st := range sts {
		t := ProcessTree{Name: st.Name, Pid: st.Pid, Processes: []TreeEntry{}}
		var pids []int
		if dir := d.processCgroup(st.Program, st.Name); dir != "" {
			t.Cgroup = dir
			pids, _ = cgroup.Procs(dir)
			if s, err := cgroup.ReadStats(dir); err == nil {
				if s.CPUUsec >= 0 {
					t.CPUUsec = &s.CPUUsec
				}
				if s.MemoryBytes >= 0 {
					t.MemoryBytes = &s.MemoryBytes
				}
			}
		} else if st.Pid != 0 {
			if groups == nil {
				groups = map[int][]int{}
				for _, p := range scanProc() {
					groups[p.pgrp] = append(groups[p.pgrp], p.pid)
				}
			}
			pids = slices.Sorted(slices.Values(groups[st.Pid]))
		}
		for _, pid := range pids {
			e := TreeEntry{Pid: pid}
			if f := statFields(pid); len(f) > 1 {
				e.PPid, _ = strconv.Atoi(f[1])
			}
			if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil {
				e.Command = string(bytes.TrimRight(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), " "))
			}
			t.Processes = append(t.Processes, e)
		}
		out = append(out, t)
	}
	return out, nil
}

// cgroupUsage sends a running process's CPU and memory from its cgroup; it
// reports false when the daemon has no cgroups (the caller reads /proc).
func (m *metrics) cgroupUsage(ch chan<- prometheus.Metric, st ProcessStatus) bool {
	dir := m.d.processCgroup(st.Program, st.Name)
	if dir == "" {
		return false
	}
	s, err := cgroup.ReadStats(dir)
	if err != nil {
		return false
	}
	if s.CPUUsec >= 0 {
		ch <- prometheus.MustNewConstMetric(descCPU, prometheus.CounterValue, float64(s.CPUUsec)/1e6, st.Name, st.Group)
	}
	if s.MemoryBytes >= 0 {
		ch <- prometheus.MustNewConstMetric(descMemory, prometheus.GaugeValue, float64(s.MemoryBytes), st.Name, st.Group)
	}
	return true
}
