package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// corralSubject is the plug-in point for corral's own daemon. Prepare builds
// ./cmd/corral; while that does not build (or does not exist), the subject
// reports "not available" and the other subjects still run. Setup is the one
// place that knows corral's config schema and command line.
type corralSubject struct{ path string }

func (*corralSubject) Name() string { return "corral" }

func (c *corralSubject) Prepare(env *benchEnv) (string, error) {
	if _, err := os.Stat(filepath.Join(env.root, "cmd", "corral")); err != nil {
		return "", fmt.Errorf("./cmd/corral does not exist yet")
	}
	c.path = filepath.Join(env.bin, "corral")
	cmd := exec.Command("go", "build", "-o", c.path, "./cmd/corral")
	cmd.Dir = env.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/corral: %v: %s", err, firstLine(string(out)))
	}
	rev, _ := exec.Command("git", "-C", env.root, "describe", "--always", "--dirty").Output()
	return "corral " + strings.TrimSpace(string(rev)), nil
}

// Setup writes a corral.toml with n programs, logs on (stdout captured to a
// file per program with stderr redirected into it, as the supervisord config
// has stdout_logfile=AUTO and redirect_stderr=true), restart always.
func (c *corralSubject) Setup(dir string, n int, argv []string) ([]string, []string, error) {
	for _, d := range []string{"state", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, nil, err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[daemon]\nsocket = %q\nstate_dir = %q\nlog_dir = %q\n\n",
		filepath.Join(dir, "corral.sock"), filepath.Join(dir, "state"), filepath.Join(dir, "logs"))
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "[program.%s]\ncommand = [%s]\nrestart = \"always\"\nstdout = { file = \"AUTO\" }\nstderr = { redirect = true }\n\n",
			programName(i), strings.Join(quoted, ", "))
	}
	conf := filepath.Join(dir, "corral.toml")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		return nil, nil, err
	}
	// The daemon's CPU and heap profiles (cmd/corral/profile.go), when asked for.
	var env []string
	for _, k := range []string{"CORRAL_CPUPROFILE", "CORRAL_CPUPROFILE_SECONDS", "CORRAL_HEAPPROFILE", "CORRAL_HEAPPROFILE_SECONDS", "CORRAL_NO_CGROUPS"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return []string{c.path, "daemon", "--config", conf}, env, nil
}
