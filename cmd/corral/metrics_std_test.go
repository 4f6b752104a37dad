package main

import "testing"

// TestMetricsServeGoAndProcessCollectors scrapes /metrics and asserts that
// the families every Go exporter serves (go_*, process_*) are there beside
// corral's own: standard dashboards and alerts read them.
func TestMetricsServeGoAndProcessCollectors(t *testing.T) {
	td := startTestDaemon(t, sleepPrograms(1))
	td.waitRunning(t, 1)
	fams := td.metrics(t)
	for _, name := range []string{
		"go_goroutines", "go_threads", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds", "go_info",
		"process_open_fds", "process_max_fds", "process_resident_memory_bytes", "process_cpu_seconds_total", "process_start_time_seconds",
		"corral_processes",
	} {
		if _, ok := fams[name]; !ok {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if got := gauge(t, fams, "process_open_fds"); got < 3 {
		t.Errorf("process_open_fds = %v, want at least the daemon's stdio", got)
	}
	if got := gauge(t, fams, "process_max_fds"); got <= 0 {
		t.Errorf("process_max_fds = %v", got)
	}
	if got := gauge(t, fams, "process_resident_memory_bytes"); got <= 0 {
		t.Errorf("process_resident_memory_bytes = %v", got)
	}
}

// TestProcessOpenFdsCountsTheDaemonsTable: process_open_fds counts the
// daemon's descriptors, not those of its main thread, which is the spawner
// thread with a small table of its own (/proc/PID/fd shows that one).
func TestProcessOpenFdsCountsTheDaemonsTable(t *testing.T) {
	td := startTestDaemon(t, sleepPrograms(4))
	td.waitRunning(t, 4)
	pid := td.cmd.Process.Pid
	spawnerTable := len(openFds(t, pid, pid))
	daemonTable := len(openFds(t, pid, otherThread(t, pid)))
	if daemonTable <= spawnerTable {
		t.Fatalf("the daemon's table (%d descriptors) is not larger than the spawner thread's (%d): is the spawner running?", daemonTable, spawnerTable)
	}
	if got := gauge(t, td.metrics(t), "process_open_fds"); got <= float64(spawnerTable) {
		t.Errorf("process_open_fds = %v: the spawner thread's %d, not the daemon's (%d when listed)", got, spawnerTable, daemonTable)
	}
}
