package monitor

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestAddEachIsAddForEachSpec: AddEach registers every spec Add would take,
// across more than one of its batches, in order (the EventAdded events come
// in the order of the specs), gives each refused spec Add's error without
// stopping the others, and after Shutdown refuses every spec with ErrClosed.
func TestAddEachIsAddForEachSpec(t *testing.T) {
	m, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sub, err := m.Subscribe(1 << 12)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := m.Add(Spec{Name: "before", Path: "/bin/true"}); err != nil {
		t.Fatal(err)
	}
	const n = 600 // more than two of AddEach's batches
	specs := make([]Spec, n)
	for i := range specs {
		specs[i] = Spec{Name: fmt.Sprintf("p%03d", i), Path: "/bin/true"}
	}
	specs[3].Name = "p000"     // a name given earlier in the same call
	specs[300].Path = ""       // refused before the loop
	specs[301].Name = ""       // likewise
	specs[599].Name = "before" // added by Add before the call
	errs := m.AddEach(specs)
	if len(errs) != n {
		t.Fatalf("got %d errors for %d specs", len(errs), n)
	}
	refused := map[int]bool{3: true, 300: true, 301: true, 599: true}
	for i, err := range errs {
		if refused[i] != (err != nil) {
			t.Errorf("spec %d (%q): error %v", i, specs[i].Name, err)
		}
	}
	for _, i := range []int{3, 599} {
		if !errors.Is(errs[i], ErrExists) {
			t.Errorf("spec %d: got %v, want ErrExists", i, errs[i])
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var added []string
	for len(added) < 1+n-len(refused) {
		e, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("after %d added events: %v", len(added), err)
		}
		if e.Type != EventAdded || e.State != StateStopped {
			t.Fatalf("unexpected event %+v", e)
		}
		added = append(added, e.Name)
	}
	want := []string{"before"}
	for i, s := range specs {
		if !refused[i] {
			want = append(want, s.Name)
		}
	}
	for i := range want {
		if added[i] != want[i] {
			t.Fatalf("added event %d: got %q, want %q", i, added[i], want[i])
		}
	}
	for _, name := range want {
		info, err := m.Process(name)
		if err != nil || info.State != StateStopped {
			t.Errorf("%s: %+v, %v; want STOPPED", name, info, err)
		}
	}

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for i, err := range m.AddEach([]Spec{{Name: "late", Path: "/bin/true"}, {Name: "late2", Path: "/bin/true"}}) {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("after Close, spec %d: got %v, want ErrClosed", i, err)
		}
	}
}
