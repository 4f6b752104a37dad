package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A subject is one supervisor under test. The harness owns everything else:
// it starts the command a subject returns in its own process group, finds the
// supervised programs by their unique argv, counts every other process under
// the supervisor's root as the supervisor's own, and kills it all at the end.
//
// To add a supervisor, implement subject and list it in allSubjects.
type subject interface {
	// Name is the name used in -only and in the table.
	Name() string
	// Prepare finds or builds the supervisor once per harness run. It
	// returns the version that runs, or an error that says why the subject
	// cannot run and how to make it available.
	Prepare(env *benchEnv) (version string, err error)
	// Setup writes, under dir, whatever configuration makes the supervisor
	// run n programs, each exec'ing argv and restarted whenever it exits. It
	// returns the supervisor's command line and extra environment.
	Setup(dir string, n int, argv []string) (cmd []string, env []string, err error)
}

// benchEnv is what subjects may use to prepare themselves.
type benchEnv struct {
	root string // module root (holds go.mod)
	bin  string // private directory for binaries built at run time
}

func allSubjects() []subject {
	return []subject{
		&spawnLoop{},
		&spawnLoop{cgroup: true},
		&spawnLoop{procs: 2},
		&goLoop{},
		&goPerChild{},
		&corralSubject{},
		&supervisord{},
		&runit{},
		&s6{},
	}
}

const aptHint = "install with: apt-get install supervisor runit s6"

func dpkgVersion(pkg string) (string, error) {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", pkg).Output()
	if err != nil || len(out) == 0 {
		return "", fmt.Errorf("package %s not installed (%s)", pkg, aptHint)
	}
	return pkg + " " + strings.TrimSpace(string(out)), nil
}

func lookPath(name, pkg string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found (%s)", name, aptHint)
	}
	return p, nil
}

func programName(i int) string { return fmt.Sprintf("p%05d", i) }

// --- spawnloop: the machine's limit -------------------------------------

// With cgroup set it is spawnloop-cg: each child forked into a cgroup of
// its own (SPAWNLOOP_CGROUP, bench/spawnloop.c), what corral does by
// default as root; a second baseline for corral with cgroups, never the
// "x limit" one.
//
// With procs > 1 it is spawnloop-2 (or -K): the programs split among that
// many loop processes forking in parallel (SPAWNLOOP_PROCS). One loop's
// forks are serial (each holds the loop until its child execs); this says
// what parallel forks would buy on the machine, a reference and not a
// limit either.
type spawnLoop struct {
	path   string
	cgroup bool
	procs  int    // loop processes, when more than one
	base   string // the cgroup Setup made, for Cleanup
}

// Cleanup removes the cgroup tree of the last Setup, once its processes
// are dead: the harness finds a tree from a running program, which a run
// interrupted before the first one never had.
func (s *spawnLoop) Cleanup() {
	if s.base != "" {
		if _, err := os.Stat(s.base); err == nil {
			removeCgroupTree(s.base)
		}
		s.base = ""
	}
}

func (s *spawnLoop) Name() string {
	switch {
	case s.cgroup:
		return "spawnloop-cg"
	case s.procs > 1:
		return fmt.Sprintf("spawnloop-%d", s.procs)
	}
	return "spawnloop"
}

func (s *spawnLoop) Prepare(env *benchEnv) (string, error) {
	src := filepath.Join(env.root, "bench", "spawnloop.c")
	s.path = filepath.Join(env.bin, s.Name())
	out, err := exec.Command("gcc", "-O2", "-Wall", "-o", s.path, src).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("gcc %s: %v: %s (install with: apt-get install gcc)", src, err, firstLine(string(out)))
	}
	gcc, _ := exec.Command("gcc", "-dumpfullversion").Output()
	libc, _ := exec.Command("getconf", "GNU_LIBC_VERSION").Output()
	how := "C posix_spawn"
	if s.cgroup {
		if _, err := ownCgroup(); err != nil {
			return "", err
		}
		how = "C clone3(CLONE_INTO_CGROUP), a cgroup per child"
	}
	if s.procs > 1 {
		how = fmt.Sprintf("C posix_spawn from %d loop processes in parallel, N/%d each", s.procs, s.procs)
	}
	return fmt.Sprintf("%s, gcc %s, %s", how, strings.TrimSpace(string(gcc)), strings.TrimSpace(string(libc))), nil
}

func (s *spawnLoop) Setup(dir string, n int, argv []string) ([]string, []string, error) {
	cmd := append([]string{s.path, fmt.Sprint(n)}, argv...)
	if s.procs > 1 {
		return cmd, []string{fmt.Sprintf("SPAWNLOOP_PROCS=%d", s.procs)}, nil
	}
	if !s.cgroup {
		return cmd, nil, nil
	}
	// Named like corral's per-run cgroups, so the harness finds the tree
	// from a program and removes it after the run (cgroupTree).
	own, err := ownCgroup()
	if err != nil {
		return nil, nil, err
	}
	base := filepath.Join(own, "corral.spawnloop-cg."+filepath.Base(dir))
	if err := os.Mkdir(base, 0o755); err != nil {
		return nil, nil, err
	}
	s.base = base
	return cmd, []string{"SPAWNLOOP_CGROUP=" + base}, nil
}

// --- goloop: spawnloop in Go (syscall.ForkExec from one thread) ----------

type goLoop struct{ path string }

func (*goLoop) Name() string { return "goloop" }

func (g *goLoop) Prepare(env *benchEnv) (string, error) {
	g.path = filepath.Join(env.bin, "goloop")
	cmd := exec.Command("go", "build", "-o", g.path, "./bench/cmd/goloop")
	cmd.Dir = env.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./bench/cmd/goloop: %v: %s", err, firstLine(string(out)))
	}
	v, _ := exec.Command("go", "env", "GOVERSION").Output()
	return "syscall.ForkExec from one thread, " + strings.TrimSpace(string(v)), nil
}

func (g *goLoop) Setup(dir string, n int, argv []string) ([]string, []string, error) {
	return append([]string{g.path, fmt.Sprint(n)}, argv...), nil, nil
}

// --- gopersup: one goroutine (and one OS thread) per child ---------------

type goPerChild struct{ path string }

func (*goPerChild) Name() string { return "gopersup" }

func (g *goPerChild) Prepare(env *benchEnv) (string, error) {
	g.path = filepath.Join(env.bin, "gopersup")
	cmd := exec.Command("go", "build", "-o", g.path, "./bench/cmd/gopersup")
	cmd.Dir = env.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./bench/cmd/gopersup: %v: %s", err, firstLine(string(out)))
	}
	v, _ := exec.Command("go", "env", "GOVERSION").Output()
	return "exec.Cmd.Wait per child, " + strings.TrimSpace(string(v)), nil
}

func (g *goPerChild) Setup(dir string, n int, argv []string) ([]string, []string, error) {
	// No goroutine dump when the runtime aborts: 10,000 stacks say nothing
	// the one-line fatal error does not.
	return append([]string{g.path, "-n", fmt.Sprint(n)}, argv...), []string{"GOTRACEBACK=none"}, nil
}

// --- supervisord ----------------------------------------------------------

type supervisord struct{ path string }

func (*supervisord) Name() string { return "supervisord" }

func (s *supervisord) Prepare(*benchEnv) (string, error) {
	var err error
	if s.path, err = lookPath("supervisord", "supervisor"); err != nil {
		return "", err
	}
	return dpkgVersion("supervisor")
}

// Setup gives supervisord its usual "logs on" shape: every program's stdout
// (stderr redirected into it) captured to its own file under childlogdir,
// and supervisord's own log at its default level. minfds is raised to what N
// programs need (about 5 descriptors each), as a user would have to, within
// the harness's RLIMIT_NOFILE.
func (s *supervisord) Setup(dir string, n int, argv []string) ([]string, []string, error) {
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\npidfile=%s/supervisord.pid\nchildlogdir=%s\nminfds=%d\nminprocs=%d\n\n",
		dir, dir, logs, min(uint64(8*n+256), noFile), n+256)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "[program:%s]\ncommand=%s\nautorestart=true\nredirect_stderr=true\nstdout_logfile=AUTO\n\n",
			programName(i), strings.Join(argv, " "))
	}
	conf := filepath.Join(dir, "supervisord.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		return nil, nil, err
	}
	return []string{s.path, "-n", "-c", conf}, nil, nil
}

// --- runit and s6: one service directory and one supervisor process per program

// writeServices writes n service directories under dir/sv, each with a run
// script that execs argv, and returns dir/sv.
func writeServices(dir string, n int, argv []string) (string, error) {
	sv := filepath.Join(dir, "sv")
	run := "#!/bin/sh\nexec " + strings.Join(argv, " ") + "\n"
	for i := 0; i < n; i++ {
		d := filepath.Join(sv, programName(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(d, "run"), []byte(run), 0o755); err != nil {
			return "", err
		}
	}
	return sv, nil
}

type runit struct{ path string }

func (*runit) Name() string { return "runit" }

func (r *runit) Prepare(*benchEnv) (string, error) {
	var err error
	if r.path, err = lookPath("runsvdir", "runit"); err != nil {
		return "", err
	}
	return dpkgVersion("runit")
}

func (r *runit) Setup(dir string, n int, argv []string) ([]string, []string, error) {
	sv, err := writeServices(dir, n, argv)
	if err != nil {
		return nil, nil, err
	}
	return []string{r.path, "-P", sv}, nil, nil
}

type s6 struct{ path string }

func (*s6) Name() string { return "s6" }

func (s *s6) Prepare(*benchEnv) (string, error) {
	var err error
	if s.path, err = lookPath("s6-svscan", "s6"); err != nil {
		return "", err
	}
	return dpkgVersion("s6")
}

func (s *s6) Setup(dir string, n int, argv []string) ([]string, []string, error) {
	sv, err := writeServices(dir, n, argv)
	if err != nil {
		return nil, nil, err
	}
	// -c: s6-svscan refuses more than 1000 service directories by default.
	return []string{s.path, "-c", fmt.Sprint(n + 64), sv}, nil, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
