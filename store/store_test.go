package store

import (
	"encoding/json"
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
