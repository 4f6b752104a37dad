package daemon

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// SystemLimits reads the daemon's limits: RLIMIT_NOFILE (whose soft limit
// Go raised to one below the hard one when the process started),
// RLIMIT_NPROC,
// /proc/sys/kernel/pid_max and whether the daemon runs as root.
func SystemLimits() (Limits, error) {
	var nofile, nproc unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		return Limits{}, fmt.Errorf("getrlimit RLIMIT_NOFILE: %w", err)
	}
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &nproc); err != nil {
		return Limits{}, fmt.Errorf("getrlimit RLIMIT_NPROC: %w", err)
	}
	lim := Limits{NoFile: nofile.Cur, NoFileHard: nofile.Max, NProc: nproc.Cur, Root: os.Geteuid() == 0}
	if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		lim.PidMax, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return lim, nil
}
