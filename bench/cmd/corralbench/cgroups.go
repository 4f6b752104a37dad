package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// cgroupTree returns the cgroup v2 directory holding the supervisor's
// per-run cgroups, read from one of its programs (pid): corral puts each
// process in <its cgroup>/corral.<run>/p.<program>/p.<process>, and the
// benchmark kills its daemon with SIGKILL, which leaves that tree behind.
// It returns "" for a supervisor that does not make such a tree.
func cgroupTree(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		rel, ok := strings.CutPrefix(line, "0::")
		if !ok {
			continue
		}
		parts := strings.Split(strings.Trim(rel, "/"), "/")
		i := slices.IndexFunc(parts, func(p string) bool { return strings.HasPrefix(p, "corral.") })
		if i < 0 {
			return ""
		}
		for _, mount := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
			dir := filepath.Join(append([]string{mount}, parts[:i+1]...)...)
			if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err == nil {
				return dir
			}
		}
	}
	return ""
}

// removeCgroupTree removes dir and the cgroups below it, deepest first,
// once the processes in them are dead (rmdir fails on a populated cgroup:
// then it is left, and said).
func removeCgroupTree(dir string) {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil {
			logf("cgroup %s left behind: %v", dirs[i], err)
			return
		}
	}
}

// ownCgroup returns the harness's own cgroup v2 directory, where
// spawnloop-cg makes its children's cgroups.
func ownCgroup() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		rel, ok := strings.CutPrefix(line, "0::")
		if !ok {
			continue
		}
		for _, mount := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
			dir := filepath.Join(mount, rel)
			if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err == nil {
				return dir, nil
			}
		}
	}
	return "", errors.New("no cgroup v2 hierarchy found for this process (spawnloop-cg needs one)")
}
