package initmode_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// whoRanMe is a child script that records its parent: the init's pid and
// the binary it runs.
const whoRanMe = `echo $PPID > $D/ppid; readlink /proc/$PPID/exe > $D/exe; exit 3`

// `corral init -- CMD` replaces itself with corral-init from its own
// directory: same pid (PID 1 stays PID 1), the child's exit code kept.
func TestInitExecsCorralInitInTheSamePid(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, []string{corralBin, "init", "--", "sh", "-c", whoRanMe})
	if code := r.wait(); code != 3 {
		t.Errorf("exit %d, want 3", code)
	}
	if got, want := readTrim(filepath.Join(dir, "ppid")), strconv.Itoa(r.cmd.Process.Pid); got != want {
		t.Errorf("child's parent %s, want the pid corral was started with, %s", got, want)
	}
	if got, want := readTrim(filepath.Join(dir, "exe")), filepath.Join(filepath.Dir(corralBin), "corral-init"); got != want {
		t.Errorf("child's parent runs %s, want %s", got, want)
	}
}

// Without corral-init beside it, corral runs init itself, with the same
// behaviour.
func TestInitWithoutCorralInitRunsInCorral(t *testing.T) {
	dir := t.TempDir()
	alone := filepath.Join(dir, "corral")
	b, err := os.ReadFile(corralBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, b, 0o755); err != nil {
		t.Fatal(err)
	}
	r := start(t, dir, []string{alone, "init", "--", "sh", "-c", whoRanMe})
	if code := r.wait(); code != 3 {
		t.Errorf("exit %d, want 3", code)
	}
	if got := readTrim(filepath.Join(dir, "exe")); got != alone {
		t.Errorf("child's parent runs %s, want %s", got, alone)
	}
}

// corral-init run directly behaves as `corral init`, --config included
// (which it hands to the corral binary beside it).
func TestCorralInitDirectly(t *testing.T) {
	initBin := filepath.Join(filepath.Dir(corralBin), "corral-init")
	dir := t.TempDir()
	if code := start(t, dir, []string{initBin, "-e", "5", "--", "sh", "-c", "exit 5"}).wait(); code != 0 {
		t.Errorf("corral-init -e 5 -- exit 5: exit %d, want 0", code)
	}
	conf := writeConfig(t, dir, "corral.toml", `
[program.only]
command = ["sh", "-c", "exit 4"]
restart = "no"
start_secs = 0
`)
	if code := start(t, dir, []string{initBin, "--config", conf, "--exit-on", "only"}).wait(); code != 4 {
		t.Errorf("corral-init --config with --exit-on a program exiting 4: exit %d, want 4", code)
	}
	err := exec.Command(initBin, "--exit-on", "x", "--", "true").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("corral-init --exit-on without --config: %v, want exit status 2", err)
	}
	out, err := exec.Command(initBin, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "128+N") || !strings.Contains(string(out), "--remap-exit") {
		t.Errorf("corral-init --help: %v\n%s", err, out)
	}
}

// corral-init starts with GOMAXPROCS=1 (fewer threads), set by `corral
// init` or by its own re-exec: the child still gets the environment init
// was given, GOMAXPROCS included or absent.
func TestInitKeepsChildEnvironment(t *testing.T) {
	initBin := filepath.Join(filepath.Dir(corralBin), "corral-init")
	script := `echo "${GOMAXPROCS-unset} ${CORRAL_INIT_GOMAXPROCS-unset}" > $D/env`
	for _, c := range []struct {
		name string
		argv []string
		env  []string
		want string
	}{
		{"corral init, no GOMAXPROCS", []string{corralBin, "init", "--"}, nil, "unset unset"},
		{"corral init, GOMAXPROCS=7", []string{corralBin, "init", "--"}, []string{"GOMAXPROCS=7"}, "7 unset"},
		{"corral-init, no GOMAXPROCS", []string{initBin, "--"}, nil, "unset unset"},
		{"corral-init, GOMAXPROCS=7", []string{initBin, "--"}, []string{"GOMAXPROCS=7"}, "7 unset"},
	} {
		dir := t.TempDir()
		cmd := exec.Command(c.argv[0], append(c.argv[1:], "sh", "-c", script)...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "D=" + dir}, c.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", c.name, err, out)
			continue
		}
		if got := readTrim(filepath.Join(dir, "env")); got != c.want {
			t.Errorf("%s: child's GOMAXPROCS and CORRAL_INIT_GOMAXPROCS %q, want %q", c.name, got, c.want)
		}
	}
}

// A reader of init's stderr that goes away does not kill init: with -w it
// logs the orphan it reaps to a pipe nobody reads (EPIPE), and still exits
// with the child's code.
func TestInitSurvivesStderrNobodyReads(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer w.Close()
	dir := t.TempDir()
	// The orphan (sleep) is re-parented to init, a subreaper, and reaped
	// with a warning; the child waits until it is gone from /proc.
	cmd := exec.Command(corralBin, "init", "-w", "--", "sh", "-c",
		`(sh -c 'echo $$ > $D/o.tmp; mv $D/o.tmp $D/o; exec sleep 0.2' &)
		while [ ! -e $D/o ]; do sleep 0.01; done; o=$(cat $D/o); i=0
		while [ -e /proc/$o ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; exit 3`)
	cmd.Env = append(os.Environ(), "D="+dir)
	cmd.Stderr = w
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 3 {
		t.Errorf("corral init -w with stderr closed at the other end: %v, want exit status 3", err)
	}
}
