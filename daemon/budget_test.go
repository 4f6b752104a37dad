package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/corralhq/corral/config"
)

func budgetProgram(name string, numprocs int, redirect bool, user string) config.Program {
	p := config.NewProgram(name)
	p.Command = []string{"sleep", "1000"}
	p.NumProcs = numprocs
	p.User = user
	if redirect {
		p.Stderr = config.LogSpec{Redirect: true}
	}
	return p
}

// ownFDs is the daemon's reserve with no listener and the capture's
// default bound on open log files.
const ownFDs = budgetFixed + budgetCaptureOwn + 256

func TestComputeBudget(t *testing.T) {
	for _, tc := range []struct {
		name     string
		programs []config.Program
		opts     BudgetOptions
		procs    int
		pipes    int
		reserved int
	}{
		{name: "none", reserved: ownFDs},
		{name: "stdout and stderr each a pipe", programs: []config.Program{budgetProgram("a", 1, false, "")},
			procs: 1, pipes: 2, reserved: ownFDs},
		{name: "stderr redirected: one pipe", programs: []config.Program{budgetProgram("a", 1, true, "")},
			procs: 1, pipes: 1, reserved: ownFDs},
		{name: "numprocs counted", programs: []config.Program{budgetProgram("a", 10, false, ""), budgetProgram("b", 5, true, "")},
			procs: 15, pipes: 25, reserved: ownFDs},
		{name: "listeners hold MaxConns connections each", opts: BudgetOptions{Listeners: 2},
			reserved: ownFDs + 2*(1+256)},
		{name: "capture's bound on open files", opts: BudgetOptions{MaxOpenFiles: 16},
			reserved: ownFDs - 256 + 16},
		{name: "pidfd backend: one more per process", opts: BudgetOptions{PidfdBackend: true},
			programs: []config.Program{budgetProgram("a", 3, true, "")}, procs: 3, pipes: 6, reserved: ownFDs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := ComputeBudget(tc.programs, tc.opts)
			if b.Programs != len(tc.programs) || b.Processes != tc.procs || b.Pipes != tc.pipes || b.Reserved != tc.reserved || b.FDs != tc.pipes+tc.reserved {
				t.Errorf("budget %+v, want %d programs, %d processes, %d pipes, %d reserved, %d in all",
					b, len(tc.programs), tc.procs, tc.pipes, tc.reserved, tc.pipes+tc.reserved)
			}
		})
	}
}

func TestBudgetCheck(t *testing.T) {
	ten := []config.Program{budgetProgram("a", 10, false, "")} // 20 pipes
	fits := Limits{NoFile: ownFDs + 20, NoFileHard: 4096, NProc: Unlimited, PidMax: 4194304, Root: true}
	for _, tc := range []struct {
		name     string
		programs []config.Program
		lim      func(Limits) Limits
		want     []string // substrings of the error; nil: fits
	}{
		{name: "exactly at the limit fits", programs: ten, lim: func(l Limits) Limits { return l }},
		{name: "one descriptor short", programs: ten, lim: func(l Limits) Limits { l.NoFile--; return l },
			want: []string{"1 programs (10 processes) need 313 file descriptors", "20 for their output pipes", "RLIMIT_NOFILE allows 312 (hard limit 4096)",
				"LimitNOFILE=", "ulimit -n", "minfds", "redirect_stderr"}},
		{name: "unlimited descriptors", programs: ten, lim: func(l Limits) Limits { l.NoFile = Unlimited; return l }},
		{name: "pid_max", programs: ten, lim: func(l Limits) Limits { l.PidMax = budgetPids + 9; return l },
			want: []string{"need 10 processes", "pid_max is 1033", "kernel.pid_max"}},
		{name: "pid_max unknown is not checked", programs: ten, lim: func(l Limits) Limits { l.PidMax = 0; return l }},
		{name: "RLIMIT_NPROC does not hold root", programs: ten, lim: func(l Limits) Limits { l.NProc = 5; return l }},
		{name: "RLIMIT_NPROC holds the users root starts programs as",
			programs: []config.Program{budgetProgram("a", 6, false, "nobody"), budgetProgram("b", 4, false, "root")},
			lim:      func(l Limits) Limits { l.NProc = 5; return l },
			want:     []string{"6 processes run as user nobody but RLIMIT_NPROC allows 5", "LimitNPROC=", "ulimit -u", "minprocs"}},
		{name: "RLIMIT_NPROC holds a daemon not root, with its threads", programs: ten,
			lim:  func(l Limits) Limits { l.Root = false; l.NProc = 10 + budgetThreads - 1; return l },
			want: []string{"need 42 processes and threads of the daemon's user but RLIMIT_NPROC allows 41"}},
		{name: "RLIMIT_NPROC large enough for a daemon not root", programs: ten,
			lim: func(l Limits) Limits { l.Root = false; l.NProc = 10 + budgetThreads; return l }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ComputeBudget(tc.programs, BudgetOptions{}).Check(tc.lim(fits))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrOverBudget) {
				t.Fatalf("error %v, want ErrOverBudget", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func newBudgetDaemon(t *testing.T, path string, lim Limits) (*Daemon, error) {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Limits: &lim})
	if err != nil {
		return nil, err
	}
	d.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	return d, nil
}

const budgetSleeper = "command = \"sleep 1000\"\nstart_secs = \"0s\"\n"

// Room for exactly two processes with stdout and stderr each a pipe.
var twoProcesses = Limits{NoFile: ownFDs + 4, NoFileHard: ownFDs + 4, NProc: Unlimited, Root: true}

func TestNewRefusesConfigOverBudget(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "[program.a]\n"+budgetSleeper+"numprocs = 3\nprocess_name = \"a%(process_num)d\"\n")
	_, err := newBudgetDaemon(t, path, twoProcesses)
	if !errors.Is(err, ErrOverBudget) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "need 299 file descriptors") {
		t.Fatalf("New: %v, want ErrOverBudget naming %s and 299 descriptors", err, path)
	}
}

func TestReloadOverBudgetChangesNothing(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "[program.a]\n"+budgetSleeper)
	d, err := newBudgetDaemon(t, path, twoProcesses)
	if err != nil {
		t.Fatal(err)
	}
	pid := waitState(t, d, "a", "RUNNING").Pid

	// a changed (one more process) and b added: three processes.
	writeConfig(t, dir, "[program.a]\n"+budgetSleeper+"numprocs = 2\nprocess_name = \"a%(process_num)d\"\n[program.b]\n"+budgetSleeper)
	df, err := d.Reload(context.Background())
	if !errors.Is(err, ErrOverBudget) || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("Reload: %v, want ErrOverBudget saying nothing changed", err)
	}
	if !df.Empty() {
		t.Errorf("reload applied %+v", df)
	}
	if st := waitState(t, d, "a", "RUNNING"); st.Pid != pid {
		t.Errorf("a restarted: pid %d, was %d", st.Pid, pid)
	}
	if _, err := d.Status("b"); err == nil {
		t.Error("b was added")
	}

	// Only b: two processes fit.
	writeConfig(t, dir, "[program.a]\n"+budgetSleeper+"[program.b]\n"+budgetSleeper)
	if _, err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, d, "b", "RUNNING")
}

func TestAddProgramOverBudgetRefused(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "[program.a]\n"+budgetSleeper)
	d, err := newBudgetDaemon(t, path, twoProcesses)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.AddProgram(ctx, budgetProgram("b", 1, false, "")); err != nil {
		t.Fatal(err)
	}
	_, err = d.AddProgram(ctx, budgetProgram("c", 1, true, ""))
	if !errors.Is(err, ErrOverBudget) || !strings.Contains(err.Error(), `program "c" not added`) {
		t.Fatalf("AddProgram c: %v, want ErrOverBudget", err)
	}
	if _, err := d.Status("c"); err == nil {
		t.Error("c was added")
	}
	// A removed program gives its descriptors back.
	if err := d.RemoveProgram(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddProgram(ctx, budgetProgram("c", 1, true, "")); err != nil {
		t.Fatalf("AddProgram c after b was removed: %v", err)
	}
}
