package monitor

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExtraEnvFollowsEnvAtSpawn: two specs share one Env slice (with room
// to grow, the case where an append would write into the other's) and
// differ in ExtraEnv. Each child gets the shared part followed by its own,
// the program is looked up in the PATH of ExtraEnv (the later PATH wins),
// and the shared slice is left as it was.
func TestExtraEnvFollowsEnvAtSpawn(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"$SHARED $OWN $PATH\"\n"
	if err := os.WriteFile(filepath.Join(bin, "envprobe"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	base := make([]string, 2, 8)
	base[0], base[1] = "SHARED=base", "PATH=/nonexistent"
	want := slices.Clone(base)

	m := newTestMonitor(t, Options{})
	sub, err := m.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	for _, name := range []string{"one", "two"} {
		out, err := os.Create(filepath.Join(dir, name+".out"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { out.Close() })
		err = m.Add(Spec{Name: name, Path: "envprobe", Env: base, Stdout: out,
			ExtraEnv: []string{"OWN=" + name, "PATH=" + bin + ":/bin:/usr/bin"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"one", "two"} {
		if err := m.Start(name); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		next(t, sub, is(name, EventExited))
	}
	for _, name := range []string{"one", "two"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".out"))
		if err != nil {
			t.Fatal(err)
		}
		if got, w := strings.TrimSpace(string(b)), "base "+name+" "+bin+":/bin:/usr/bin"; got != w {
			t.Errorf("%s saw %q, want %q", name, got, w)
		}
	}
	if !slices.Equal(base, want) || !slices.Equal(base[:cap(base)][2:], make([]string, cap(base)-2)) {
		t.Errorf("the shared Env was written: %q", base[:cap(base)])
	}
}
