package main

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestProgramsGetOnlyTheirStdio starts the daemon holding descriptors it
// inherited (as from a shell that had fds 3, 7 and 10 open) and asserts
// that a program it starts has exactly 0, 1 and 2, as under supervisord.
func TestProgramsGetOnlyTheirStdio(t *testing.T) {
	var extra []*os.File
	for range 8 {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		extra = append(extra, r)
	}
	// The child gets ExtraFiles[i] as fd 3+i: hand over 3, 7 and 10.
	files := make([]*os.File, 8)
	files[0], files[4], files[7] = extra[0], extra[4], extra[7]
	td := startTestDaemon(t, sleepPrograms(2), func(cmd *exec.Cmd) { cmd.ExtraFiles = files })
	td.waitRunning(t, 2)

	// The daemon itself did inherit them (otherwise the test proves nothing).
	// Its main thread is the spawner thread, with a table of its own: the
	// daemon's descriptors are those of its other threads.
	if fds := openFds(t, td.cmd.Process.Pid, otherThread(t, td.cmd.Process.Pid)); !slices.Contains(fds, 10) {
		t.Fatalf("daemon's descriptors %v: fd 10 was not inherited", fds)
	}
	sts, err := td.client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.Pid == 0 {
			t.Fatalf("%s has no pid: %+v", st.Name, st)
		}
		// Right after its exec, a program's dynamic loader and locale
		// setup open a descriptor or two for a moment; an inherited one
		// stays for good (sleep runs 1000 s), so wait for the loader.
		fds := openFds(t, st.Pid, st.Pid)
		for deadline := time.Now().Add(10 * time.Second); !slices.Equal(fds, []int{0, 1, 2}) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
			fds = openFds(t, st.Pid, st.Pid)
		}
		if !slices.Equal(fds, []int{0, 1, 2}) {
			t.Errorf("program %s (pid %d) has descriptors %v, want [0 1 2]", st.Name, st.Pid, fds)
		}
	}
}

// openFds lists the open descriptors of thread tid of process pid, sorted.
func openFds(t *testing.T, pid, tid int) []int {
	t.Helper()
	names, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(tid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	var fds []int
	for _, e := range names {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			t.Fatalf("/proc/%d/fd: odd entry %q", pid, e.Name())
		}
		fds = append(fds, n)
	}
	slices.Sort(fds)
	return fds
}

// otherThread returns a thread of pid other than its main thread.
func otherThread(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil && tid != pid {
			return tid
		}
	}
	t.Fatalf("process %d has no thread but its main one", pid)
	return 0
}
