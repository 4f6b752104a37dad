package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"
)

// The daemon's profiles, for benchmarks (corralbench passes these variables
// through; see docs/BENCHMARKS.md). Whoever starts the daemon sets them; the
// files are written with the daemon's own rights. Both profiles end on a
// timer because the benchmark ends the daemon with SIGKILL.
//
// profileEnv, when set to a file name, makes the daemon write a CPU profile
// of its first profileSecondsEnv seconds (default 30) there.
//
// heapProfileEnv, when set to a file name, makes the daemon write a heap
// profile there heapProfileSecondsEnv seconds (default 30) after it
// started, after a garbage collection: what the daemon holds at that
// moment (go tool pprof -sample_index=inuse_space).
const (
	profileEnv            = "CORRAL_CPUPROFILE"
	profileSecondsEnv     = "CORRAL_CPUPROFILE_SECONDS"
	heapProfileEnv        = "CORRAL_HEAPPROFILE"
	heapProfileSecondsEnv = "CORRAL_HEAPPROFILE_SECONDS"
)

func startProfile() {
	startHeapProfile()
	path := os.Getenv(profileEnv)
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "corral: cpu profile:", err)
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "corral: cpu profile:", err)
		f.Close()
		return
	}
	time.AfterFunc(profileDelay(profileSecondsEnv), func() {
		pprof.StopCPUProfile()
		f.Close()
	})
}

func startHeapProfile() {
	path := os.Getenv(heapProfileEnv)
	if path == "" {
		return
	}
	// One sample per 4 KiB allocated instead of per 512 KiB: what a
	// program costs is a few hundred bytes in each of many places.
	runtime.MemProfileRate = 4096
	time.AfterFunc(profileDelay(heapProfileSecondsEnv), func() {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "corral: heap profile:", err)
			return
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.WriteHeapProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "corral: heap profile:", err)
			return
		}
		// What the profile does not show: how much of the heap's memory
		// holds live objects, and what the runtime keeps beside it.
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(os.Stderr, "corral: heap profile %s: HeapAlloc=%d HeapInuse=%d HeapIdle=%d HeapReleased=%d StackInuse=%d GCSys=%d OtherSys=%d Sys=%d NextGC=%d\n",
			path, ms.HeapAlloc, ms.HeapInuse, ms.HeapIdle, ms.HeapReleased, ms.StackInuse, ms.GCSys, ms.OtherSys, ms.Sys, ms.NextGC)
	})
}

// profileDelay is the number of seconds in the variable env, 30 when it is
// unset or not a positive number.
func profileDelay(env string) time.Duration {
	secs, err := strconv.Atoi(os.Getenv(env))
	if err != nil || secs <= 0 {
		secs = 30
	}
	return time.Duration(secs) * time.Second
}
