package initmode_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// trapper is a program that records its TERM in the shared order file.
func trapper(dir, name string) string {
	return fmt.Sprintf(`["sh", "-c", "trap 'echo %s >> %s/order; exit 0' TERM; touch %s/%s.up; sleep 30 & wait"]`, name, dir, dir, name)
}

func writeConfig(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// tini has no equivalent: it runs one program.
func TestInitExitOnStopsOthersInDescendingPriorityAndExitsWithItsCode(t *testing.T) {
	requireTools(t)
	dir := t.TempDir()
	conf := writeConfig(t, dir, "corral.toml", fmt.Sprintf(`
[program.main]
command = ["sh", "-c", "while [ ! -e %[1]s/web.up ] || [ ! -e %[1]s/worker.up ]; do sleep 0.02; done; sleep 0.5; exit 5"]
restart = "no"
start_secs = 0
priority = 1

[program.web]
command = %[2]s
priority = 10

[program.worker]
command = %[3]s
priority = 20
`, dir, trapper(dir, "web"), trapper(dir, "worker")))
	code := start(t, dir, pidns([]string{corralBin, "init", "--config", conf, "--exit-on", "main"})).wait()
	if code != 5 {
		t.Errorf("exit %d, want 5 (main's code)", code)
	}
	if got := readTrim(filepath.Join(dir, "order")); got != "worker\nweb" {
		t.Errorf("TERM traps ran in order %q, want worker then web", got)
	}
}

func TestInitExitOnSupervisordINIProgramKilledBySignal(t *testing.T) {
	requireTools(t)
	dir := t.TempDir()
	conf := writeConfig(t, dir, "supervisord.conf", fmt.Sprintf(`
[program:job]
command = sh -c "while [ ! -e %[1]s/web.up ]; do sleep 0.02; done; kill -KILL $$"
autorestart = false
startsecs = 0

[program:web]
command = sh -c "trap 'echo web >> %[1]s/order; exit 0' TERM; touch %[1]s/web.up; sleep 30 & wait"
`, dir))
	code := start(t, dir, pidns([]string{corralBin, "init", "-c", conf, "--exit-on", "job"})).wait()
	if code != 137 {
		t.Errorf("exit %d, want 137 (128+SIGKILL)", code)
	}
	if got := readTrim(filepath.Join(dir, "order")); got != "web" {
		t.Errorf("web's TERM trap: %q, want it run", got)
	}
}

func TestInitExitOnFatalSpawnErrorExits127(t *testing.T) {
	requireTools(t)
	dir := t.TempDir()
	conf := writeConfig(t, dir, "corral.toml", fmt.Sprintf(`
[program.broken]
command = "/nonexistent/program"

[program.web]
command = %s
`, trapper(dir, "web")))
	code := start(t, dir, pidns([]string{corralBin, "init", "--config", conf, "--exit-on", "broken"})).wait()
	if code != 127 {
		t.Errorf("exit %d, want 127", code)
	}
}

func TestInitConfigSIGTERMStopsAllAndExits0(t *testing.T) {
	requireTools(t)
	dir := t.TempDir()
	conf := writeConfig(t, dir, "corral.toml", fmt.Sprintf(`
[program.web]
command = %s
priority = 1

[program.worker]
command = %s
priority = 2
`, trapper(dir, "web"), trapper(dir, "worker")))
	r := start(t, dir, pidns([]string{corralBin, "init", "--config", conf}))
	waitFile(t, filepath.Join(dir, "web.up"))
	waitFile(t, filepath.Join(dir, "worker.up"))
	if err := syscall.Kill(r.pid1(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	if got := readTrim(filepath.Join(dir, "order")); got != "worker\nweb" {
		t.Errorf("TERM traps ran in order %q, want worker then web", got)
	}
}

func TestInitConfigAllProgramsEndExits0(t *testing.T) {
	requireTools(t)
	dir := t.TempDir()
	conf := writeConfig(t, dir, "corral.toml", `
[program.a]
command = "true"
restart = "no"
start_secs = 0

[program.b]
command = ["sh", "-c", "sleep 0.2"]
restart = "no"
start_secs = 0
`)
	if code := start(t, dir, pidns([]string{corralBin, "init", "--config", conf})).wait(); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

func TestInitUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"init"},
		{"init", "--exit-on", "x", "--", "true"},
		{"init", "--config", "x.toml", "--", "true"},
		{"init", "-e", "300", "--", "true"},
	} {
		err := exec.Command(corralBin, args...).Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("corral %v: %v, want exit status 2", args, err)
		}
	}
}

func TestInitRemapExitReportsCodeAsZero(t *testing.T) {
	err := exec.Command(corralBin, "init", "-e", "143", "--", "sh", "-c", "kill -TERM $$").Run()
	if err != nil {
		t.Errorf("corral init -e 143 of a child killed by SIGTERM: %v, want exit 0", err)
	}
}

// The rules are part of the command's help, not only of the docs.
func TestInitHelpStatesSignalAndExitCodeRules(t *testing.T) {
	out, err := exec.Command(corralBin, "init", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("corral init --help: %v\n%s", err, out)
	}
	for _, want := range []string{
		"128+N", "SIGTERM", "SIGTTIN", "SIGTTOU", "TSTP", "WINCH", "foreground",
		"127", "126", "--exit-on", "FATAL", "descending priority", "subreaper",
		"--pgroup", "--remap-exit", "log file settings are ignored",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("corral init --help does not mention %q", want)
		}
	}
}
