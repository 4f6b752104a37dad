package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"encoding/json"
	bolt "go.etcd.io/bbolt"
	"strings"
	"testing"
)

func TestStateSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutProgram("web", json.RawMessage(`{"command":["sleep","1"]}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutProgram("gone", json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProgram("gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDesired("web", Stopped); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRunning("web", &Running{Pid: 42, StartTicks: 7}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	progs, _ := s.Programs()
	if len(progs) != 1 || string(progs["web"]) != `{"command":["sleep","1"]}` {
		t.Fatalf("programs after reopen: %v", progs)
	}
	desired, _ := s.DesiredStates()
	if desired["web"] != Stopped {
		t.Fatalf("desired after reopen: %v", desired)
	}
	running, _ := s.RunningProcesses()
	if running["web"] != (Running{Pid: 42, StartTicks: 7}) {
		t.Fatalf("running after reopen: %v", running)
	}
	if err := s.ClearRunning(); err != nil {
		t.Fatal(err)
	}
	if running, _ := s.RunningProcesses(); len(running) != 0 {
		t.Fatalf("running after clear: %v", running)
	}
}

func TestSecondOpenIsRefusedWithAClearError(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Open(dir)
	if err == nil || !strings.Contains(err.Error(), "another corral daemon") {
		t.Fatalf("second open: %v", err)
	}
}

// corruptStateDir makes a state file big enough to span many pages, closes
// it, and returns its directory and the root page of the programs bucket.
func corruptStateDir(t *testing.T) (dir string, programsRoot int64) {
	t.Helper()
	dir = t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	def := json.RawMessage(`{"command":["sleep","` + strings.Repeat("9", 200) + `"]}`)
	for i := range 300 {
		if err := s.PutProgram(fmt.Sprintf("prog-%03d", i), def); err != nil {
			t.Fatal(err)
		}
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		programsRoot = int64(tx.Bucket(bucketPrograms).Root())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	return dir, programsRoot
}

func TestCorruptStateFileIsRefusedAndMovedAside(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, path string, root int64)
		reason  string
	}{
		{"truncated to zero", func(t *testing.T, path string, _ int64) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}, "empty"},
		{"truncated to 16 KiB", func(t *testing.T, path string, _ int64) {
			if err := os.Truncate(path, 16<<10); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"page overwritten", func(t *testing.T, path string, root int64) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			garbage := make([]byte, os.Getpagesize())
			for i := range garbage {
				garbage[i] = byte(i*7 + 3)
			}
			if _, err := f.WriteAt(garbage, root*int64(os.Getpagesize())); err != nil {
				t.Fatal(err)
			}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, root := corruptStateDir(t)
			path := filepath.Join(dir, FileName)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() <= 32<<10 {
				t.Fatalf("state file of %d bytes: too small for the corruption to mean anything", st.Size())
			}
			tc.corrupt(t, path, root)

			s, err := Open(dir)
			if err == nil {
				s.Close()
				t.Fatal("a corrupt state file was opened")
			}
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T), want a *CorruptError", err, err)
			}
			msg := err.Error()
			if ce.Reason == nil || !strings.Contains(ce.Reason.Error(), tc.reason) {
				t.Errorf("reason %v, want one saying %q", ce.Reason, tc.reason)
			}
			for _, want := range []string{path, "corrupt", "moved to " + ce.MovedTo, "Start the daemon again"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not contain %q", msg, want)
				}
			}
			if !strings.HasPrefix(ce.MovedTo, path+".corrupt-") {
				t.Errorf("moved to %q, want %s.corrupt-TIMESTAMP", ce.MovedTo, path)
			}
			if _, err := os.Stat(ce.MovedTo); err != nil {
				t.Errorf("the corrupt file was not kept: %v", err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("state.db still in place after the refusal: %v", err)
			}

			// Starting again begins with an empty state, as the message says.
			s, err = Open(dir)
			if err != nil {
				t.Fatalf("open after the move: %v", err)
			}
			defer s.Close()
			if progs, err := s.Programs(); err != nil || len(progs) != 0 {
				t.Fatalf("programs after the move: %d, %v", len(progs), err)
			}
		})
	}
}

func TestFirstStartLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != FileName {
		t.Fatalf("state directory holds %v, want only %s", ents, FileName)
	}
}

// A resync of the live records (after the daemon's follower missed events)
// replaces them all and keeps the session, so that a crash afterwards still
// lets the next run reclaim them.
func TestReplaceRunningKeepsTheSession(t *testing.T) {
	s := storeOfRun(t, Session{BootID: "b", Token: "t"}, "old", Running{Pid: 1, StartTicks: 1})
	if err := s.ReplaceRunning(map[string]*Running{"new": {Pid: 2, StartTicks: 2}}); err != nil {
		t.Fatal(err)
	}
	sess, ok, err := s.PreviousSession()
	if err != nil || !ok || sess != (Session{BootID: "b", Token: "t"}) {
		t.Errorf("session after ReplaceRunning: %+v %v %v, want the one set", sess, ok, err)
	}
	running, err := s.RunningProcesses()
	if err != nil || len(running) != 1 || running["new"] != (Running{Pid: 2, StartTicks: 2}) {
		t.Errorf("running after ReplaceRunning: %+v %v, want only new", running, err)
	}
}

// A daemon's start forgets the last run's live processes and records its
// own run, in one write.
func TestBeginSessionReplacesTheLastRun(t *testing.T) {
	s := storeOfRun(t, Session{BootID: "b", Token: "old"}, "p", Running{Pid: 7, StartTicks: 9})
	if err := s.BeginSession(Session{BootID: "b", Token: "new"}); err != nil {
		t.Fatal(err)
	}
	if running, err := s.RunningProcesses(); err != nil || len(running) != 0 {
		t.Errorf("live processes after BeginSession: %v %v, want none", running, err)
	}
	sess, ok, err := s.PreviousSession()
	if err != nil || !ok || sess != (Session{BootID: "b", Token: "new"}) {
		t.Errorf("session after BeginSession: %+v %v %v, want the new one", sess, ok, err)
	}
}

// storeOfRun opens a new store holding a daemon run, sess, and one live
// process of it; the store is closed when the test ends.
func storeOfRun(t *testing.T, sess Session, name string, r Running) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.SetSession(sess); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRunning(name, &r); err != nil {
		t.Fatal(err)
	}
	return s
}
