package store

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedState makes a state file as the state directory every
// configuration shared held it: a program added at run time, desired
// states, a live process and its session.
func sharedState(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PutProgram("extra", json.RawMessage(`{"name":"extra"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDesiredBatch(map[string]Desired{"extra": Stopped, "web": Started}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRunning("web", &Running{Pid: 42, StartTicks: 7}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSession(Session{BootID: "b", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOpenImportCopiesRunTimeProgramsAndDesiredStatesOnce(t *testing.T) {
	shared := sharedState(t)
	before, err := os.ReadFile(filepath.Join(shared, FileName))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "per-config")
	s, err := OpenImport(dir, shared)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.ImportedFrom(); got != filepath.Join(shared, FileName) {
		t.Errorf("ImportedFrom = %q", got)
	}
	progs, _ := s.Programs()
	desired, _ := s.DesiredStates()
	running, _ := s.RunningProcesses()
	_, hadSession, _ := s.PreviousSession()
	if len(progs) != 1 || string(progs["extra"]) != `{"name":"extra"}` {
		t.Errorf("imported programs: %q", progs)
	}
	if len(desired) != 2 || desired["extra"] != Stopped || desired["web"] != Started {
		t.Errorf("imported desired states: %v", desired)
	}
	if len(running) != 0 || hadSession {
		t.Errorf("live processes imported (%v, session %v): they belong to the shared file's daemon run", running, hadSession)
	}
	// From now on the state is this directory's own: a change is not undone
	// by importing again at the next open.
	if err := s.DeleteProgram("extra"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = OpenImport(dir, shared); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if progs, _ := s.Programs(); len(progs) != 0 || s.ImportedFrom() != "" {
		t.Errorf("second open imported again: %q (from %q)", progs, s.ImportedFrom())
	}
	after, err := os.ReadFile(filepath.Join(shared, FileName))
	if err != nil || string(after) != string(before) {
		t.Errorf("the shared state file changed (%v)", err)
	}

	// Another configuration's first start gets its own copy.
	other, err := OpenImport(filepath.Join(t.TempDir(), "other"), shared)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if progs, _ := other.Programs(); len(progs) != 1 {
		t.Errorf("second configuration imported %q", progs)
	}
}

func TestOpenImportWithoutSharedFileStartsEmpty(t *testing.T) {
	s, err := OpenImport(filepath.Join(t.TempDir(), "new"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if progs, _ := s.Programs(); len(progs) != 0 {
		t.Errorf("programs: %q", progs)
	}
}

func TestOpenImportRefusesALockedOrCorruptSharedFile(t *testing.T) {
	shared := sharedState(t)
	held, err := Open(shared) // a daemon of an earlier version runs on it
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "per-config")
	_, err = OpenImport(dir, shared)
	held.Close()
	if err == nil || !strings.Contains(err.Error(), filepath.Join(shared, FileName)) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("import from a locked file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); !os.IsNotExist(err) {
		t.Errorf("a state file was created although the import failed: %v", err)
	}

	corrupt := t.TempDir()
	if err := os.WriteFile(filepath.Join(corrupt, FileName), []byte(strings.Repeat("x", 8192)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = OpenImport(dir, corrupt)
	if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), "move it away") {
		t.Fatalf("import from a corrupt file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(corrupt, FileName)); err != nil {
		t.Errorf("the corrupt shared file was moved: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); !os.IsNotExist(err) {
		t.Errorf("a state file was created although the import failed: %v", err)
	}
}
