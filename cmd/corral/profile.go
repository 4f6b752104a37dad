package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"time"
)

// profileEnv, when set to a file name, makes the daemon write a CPU profile
// of its first profileSecondsEnv seconds (default 30) there: the benchmark's
// way to see where a start or a kill storm spends its time (corralbench
// passes both through; see docs/BENCHMARKS.md). The profile ends on a timer
// because the benchmark ends the daemon with SIGKILL.
const (
	profileEnv        = "CORRAL_CPUPROFILE"
	profileSecondsEnv = "CORRAL_CPUPROFILE_SECONDS"
)

func startProfile() {
	path := os.Getenv(profileEnv)
	if path == "" {
		return
	}
	secs, err := strconv.Atoi(os.Getenv(profileSecondsEnv))
	if err != nil || secs <= 0 {
		secs = 30
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
	time.AfterFunc(time.Duration(secs)*time.Second, func() {
		pprof.StopCPUProfile()
		f.Close()
	})
}
