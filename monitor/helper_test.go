package monitor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSpawnHelper runs processes through the spawn helper: they are the
// monitor's children (it reaps them and matches each exit), spawn errors
// keep their messages, and the helper leaves nothing behind.
func TestSpawnHelper(t *testing.T) {
	m := newTestMonitor(t, Options{SpawnHelper: true})
	const n = 300
	sub, _ := m.Subscribe(8 * n)
	pids := map[string]int{}
	for i := range n {
		name := fmt.Sprint("h", i)
		spec := sh("exit 7")
		spec.Name = name
		if err := m.Add(spec); err != nil {
			t.Fatal(err)
		}
		if err := m.Start(name); err != nil {
			t.Fatal(err)
		}
	}
	for exits := 0; exits < n; {
		e := next(t, sub, func(e Event) bool { return e.Type == EventStarting || e.Type == EventExited })
		if e.Type == EventStarting {
			pids[e.Name] = e.Pid
			continue
		}
		if e.Exit.Pid != pids[e.Name] || e.Exit.Code != 7 {
			t.Fatalf("%s: exit %+v, started as pid %d", e.Name, *e.Exit, pids[e.Name])
		}
		exits++
	}
	if st, _ := m.Stats(); st.OrphansReaped != 0 {
		t.Fatalf("%d exits were not matched to their process", st.OrphansReaped)
	}
	helpers := 0
	for pid := range children() {
		argv0, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.HasPrefix(string(argv0), helperArgv0+"\x00") {
			helpers++
		}
	}
	if helpers != 1 {
		t.Fatalf("%d spawn helpers among the children, want 1 (spawns fell back to direct?)", helpers)
	}

	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("\x00\x01\x02 not a program"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		spec Spec
		want string
	}{
		{"exec format error", Spec{Path: garbage}, "exec format error"},
		{"unknown user", Spec{Path: "/bin/true", User: "no-such-user-xyz"}, "unknown user"},
	} {
		spec := tt.spec
		spec.Name = tt.name
		if err := m.Add(spec); err != nil {
			t.Fatal(err)
		}
		err := m.StartWait(context.Background(), tt.name)
		var se *StartError
		if !errors.As(err, &se) || !se.Spawn || !strings.Contains(se.Err, tt.want) {
			t.Fatalf("%s: %v, want a spawn error with %q", tt.name, err, tt.want)
		}
		if info, _ := m.Process(tt.name); info.State != StateFatal {
			t.Fatalf("%s: state %s, want FATAL", tt.name, info.State)
		}
	}
}

// BenchmarkSpawnWithManyDescriptors spawns while the process holds 16,000
// open descriptors, directly and through the spawn helper.
func BenchmarkSpawnWithManyDescriptors(b *testing.B) {
	var keep []*os.File
	for range 8000 {
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		keep = append(keep, r, w)
	}
	defer func() {
		for _, f := range keep {
			f.Close()
		}
	}()
	for _, helper := range []bool{false, true} {
		name := "direct"
		if helper {
			name = "helper"
		}
		b.Run(name, func(b *testing.B) {
			m, err := New(Options{SpawnHelper: helper})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			sub, _ := m.Subscribe(4 * batch)
			for i := range batch {
				_ = m.Add(Spec{Name: fmt.Sprint(i), Path: "/bin/true"})
			}
			names := make([]string, batch)
			for i := range names {
				names[i] = fmt.Sprint(i)
			}
			b.ResetTimer()
			for done := 0; done < b.N; done += batch {
				for _, err := range m.StartEach(names) {
					if err != nil {
						b.Fatal(err)
					}
				}
				for n := 0; n < batch; {
					e, err := sub.Next(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					if e.Type == EventExited {
						n++
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "procs/s")
		})
	}
}

// TestSpawnHelperKeepsDeathSignalSpecsDirect: a spec with a death signal is
// spawned directly, so it runs instead of killing itself.
func TestSpawnHelperKeepsDeathSignalSpecsDirect(t *testing.T) {
	m := newTestMonitor(t, Options{SpawnHelper: true})
	spec := sh("exit 5")
	spec.Name = "p"
	spec.DeathSignal = 9
	sub, _ := m.Subscribe(0)
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.Start("p"); err != nil {
		t.Fatal(err)
	}
	if e := next(t, sub, is("p", EventExited)); e.Exit.Code != 5 {
		t.Fatalf("exit %+v, want code 5", *e.Exit)
	}
}
