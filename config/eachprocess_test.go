package config

import (
	"os"
	"reflect"
	"testing"
)

// TestEachProcessYieldsWhatProcessesReturns: for programs of one process
// and of several, with and without names left to expand, in both formats,
// EachProcess yields exactly the processes Processes returns, and shares
// the command only where nothing was left to expand.
func TestEachProcessYieldsWhatProcessesReturns(t *testing.T) {
	toml := `
[program.plain]
command = ["sleep", "1000"]
environment = { A = "1" }
stdout = { file = "AUTO" }

[program.numbered]
command = "echo %(process_num)d"
environment = { N = "%(process_num)d" }

[program.many]
command = "sleep 1000"
numprocs = 3
numprocs_start = 5

[program.literal]
command = ["printf", "100%%"]
`
	ini := `
[program:plain]
command = sleep 1000
environment = A="1"

[program:named]
command = sleep 1000
process_name = %(program_name)s_%(process_num)02d

[program:many]
command = sleep %(process_num)d
process_name = %(program_name)s_%(process_num)d
numprocs = 2
`
	var progs []Program
	cfg, err := ParseTOML("corral.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	progs = append(progs, cfg.Programs...)
	if cfg, err = ParseINI("supervisord.conf", []byte(ini), nil); err != nil {
		t.Fatal(err)
	}
	progs = append(progs, cfg.Programs...)
	for _, p := range progs {
		var got []Process
		for cp := range p.EachProcess {
			got = append(got, cp)
		}
		if want := p.Processes(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s (%s): EachProcess yields\n%+v\nProcesses returns\n%+v", p.Name, p.Source.File, got, want)
		}
		// Nothing to expand in plain: its one process shares the command.
		if shares := len(got) == 1 && &got[0].Program.Command[0] == &p.Command[0]; shares != (p.Name == "plain") {
			t.Errorf("%s (%s): process shares the program's command: %v", p.Name, p.Source.File, shares)
		}
	}
}

// TestTOMLExpandsTheHostName: %(host_node_name)s in a TOML program is the
// host name, in the command and in each process's names, as supervisord
// expands it.
func TestTOMLExpandsTheHostName(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseTOML("corral.toml", []byte(`
[program.web]
command = ["serve", "--host", "%(host_node_name)s"]
process_name = "%(program_name)s_%(host_node_name)s_%(process_num)d"
numprocs = 2
`))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Programs[0]
	if got := p.Command[2]; got != host {
		t.Errorf("command's host: got %q, want %q", got, host)
	}
	var names []string
	for cp := range p.EachProcess {
		names = append(names, cp.Name)
	}
	if want := []string{"web_" + host + "_0", "web_" + host + "_1"}; !reflect.DeepEqual(names, want) {
		t.Errorf("process names: got %q, want %q", names, want)
	}
}

// TestProgramsByNameIsProgram: the index finds, for every name, the very
// program Program finds, and nothing for a name not configured.
func TestProgramsByNameIsProgram(t *testing.T) {
	cfg, err := ParseTOML("corral.toml", []byte("[program.a]\ncommand = [\"a\"]\n[program.b]\ncommand = [\"b\"]\n[program.c]\ncommand = [\"c\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	idx := cfg.ProgramsByName()
	if len(idx) != 3 {
		t.Fatalf("got %d programs indexed, want 3", len(idx))
	}
	for _, name := range []string{"a", "b", "c"} {
		if idx[name] == nil || idx[name] != cfg.Program(name) {
			t.Errorf("%s: index has %p, Program has %p", name, idx[name], cfg.Program(name))
		}
	}
	if idx["d"] != nil {
		t.Errorf("d is not configured, index has %+v", idx["d"])
	}
}
