package daemon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Reloads that arrive together run one after the other: the first applies
// the file, the others find nothing left to do; none fails with "program
// already exists", and each program runs exactly once.
func TestConcurrentReloadsAddEachProgramOnce(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "[program.base]\ncommand = \"sleep 1000\"\nstart_secs = \"0s\"\n")
	d := startDaemon(t, path)
	waitState(t, d, "base", "RUNNING")

	var progs strings.Builder
	progs.WriteString("[program.base]\ncommand = \"sleep 1000\"\nstart_secs = \"0s\"\n")
	var want []string
	for i := range 16 {
		name := fmt.Sprintf("added%02d", i)
		want = append(want, name)
		fmt.Fprintf(&progs, "[program.%s]\ncommand = \"sleep 1000\"\nstart_secs = \"0s\"\n", name)
	}
	writeConfig(t, dir, progs.String())

	const reloads = 8
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		added []string
		errs  []error
	)
	for range reloads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			df, err := d.Reload(context.Background())
			mu.Lock()
			defer mu.Unlock()
			added = append(added, df.Added...)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d concurrent reloads failed, e.g.: %v", len(errs), reloads, errs[0])
	}
	slices.Sort(added)
	if !slices.Equal(added, want) {
		t.Fatalf("programs added across the reloads: %v, want each of %v once", added, want)
	}
	sts, err := d.Status()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, st := range sts {
		seen[st.Name]++
	}
	for _, name := range append(want, "base") {
		if seen[name] != 1 {
			t.Errorf("%s listed %d times", name, seen[name])
		}
		waitState(t, d, name, "RUNNING")
	}
	if len(sts) != len(want)+1 {
		t.Errorf("%d processes, want %d", len(sts), len(want)+1)
	}
}
