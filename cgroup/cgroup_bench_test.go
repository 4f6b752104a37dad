package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkCgroupCalls times, one by one, the calls a supervisor makes on
// a process's cgroup: mkdir (a first spawn), rmdir (a removal), a write of
// cgroup.kill, Populated (and os.ReadFile of cgroup.events, what it used
// to cost) and an open(O_PATH) for CLONE_INTO_CGROUP, each on b.N sibling
// cgroups below a cgroup of the benchmark's own:
//
//	go test -run '^$' -bench CgroupCalls ./cgroup/
func BenchmarkCgroupCalls(b *testing.B) {
	own, _, err := Own()
	if err != nil {
		b.Fatal(err)
	}
	top := filepath.Join(own, fmt.Sprintf("corral-bench.%d.%d", os.Getpid(), time.Now().UnixNano()))
	if err := Make(top); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := Remove(top); err != nil {
			b.Error(err)
		}
	})
	run := 0
	// dirs makes n empty sibling cgroups for one sub-benchmark.
	dirs := func(b *testing.B, n int, made bool) []string {
		b.Helper()
		run++
		parent := filepath.Join(top, strconv.Itoa(run))
		if err := Make(parent); err != nil {
			b.Fatal(err)
		}
		ds := make([]string, n)
		for i := range ds {
			ds[i] = filepath.Join(parent, strconv.Itoa(i))
			if made {
				if err := Make(ds[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
		return ds
	}
	b.Run("mkdir", func(b *testing.B) {
		ds := dirs(b, b.N, false)
		b.ResetTimer()
		for i := range b.N {
			if err := syscall.Mkdir(ds[i], 0o755); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rmdir", func(b *testing.B) {
		ds := dirs(b, b.N, true)
		b.ResetTimer()
		for i := range b.N {
			if err := syscall.Rmdir(ds[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kill", func(b *testing.B) {
		ds := dirs(b, b.N, true)
		b.ResetTimer()
		for i := range b.N {
			if err := os.WriteFile(filepath.Join(ds[i], "cgroup.kill"), []byte("1"), 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("populated", func(b *testing.B) {
		ds := dirs(b, b.N, true)
		b.ResetTimer()
		for i := range b.N {
			if pop, err := Populated(ds[i]); err != nil || pop {
				b.Fatal(pop, err)
			}
		}
	})
	b.Run("events-readfile", func(b *testing.B) {
		ds := dirs(b, b.N, true)
		b.ResetTimer()
		for i := range b.N {
			if _, err := os.ReadFile(filepath.Join(ds[i], "cgroup.events")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open-path", func(b *testing.B) {
		ds := dirs(b, b.N, true)
		b.ResetTimer()
		for i := range b.N {
			fd, err := unix.Open(ds[i], unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			unix.Close(fd)
		}
	})
}
