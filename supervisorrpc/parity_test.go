package supervisorrpc

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const supervisordPath = "/usr/bin/supervisord"

// parityMain uses numprocs, an explicit group in an included file, include
// globs and %(ENV_X)s; the socket path is the only thing that differs
// between the two daemons, and it comes from the environment too.
const parityMain = `[unix_http_server]
file=%(ENV_PARITY_SOCK)s

[supervisord]
logfile=%(here)s/supervisord.log
pidfile=%(here)s/supervisord.pid
childlogdir=%(here)s/logs
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%(ENV_PARITY_SOCK)s

[include]
files=conf.d/*.conf

[program:worker]
command=sleep %(ENV_PARITY_SECS)s
process_name=%(program_name)s_%(process_num)d
numprocs=3
numprocs_start=1
`

var parityIncludes = map[string]string{
	"backend.conf": `[group:backend]
programs=api,jobs

[program:api]
command=sleep %(ENV_PARITY_SECS)s

[program:jobs]
command=sleep %(ENV_PARITY_SECS)s
process_name=jobs-%(process_num)02d
numprocs=2
`,
	"cache.conf": `[program:cache]
command=sleep %(ENV_PARITY_SECS)s
process_name=%(ENV_PARITY_NAME)s
environment=CACHE_NAME="%(ENV_PARITY_NAME)s"
`,
	"ignored.txt": `[program:notincluded]
command=sleep 1
`,
}

func writeParityConf(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range parityIncludes {
		if err := os.WriteFile(filepath.Join(dir, "conf.d", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "supervisord.conf")
	if err := os.WriteFile(conf, []byte(parityMain), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// names returns the NAME column of supervisorctl status.
func names(out string) []string {
	var ns []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			ns = append(ns, f[0])
		}
	}
	return ns
}

// ctlEnv is ctl with the parity environment (the client expands
// %(ENV_PARITY_SOCK)s too).
func ctlEnv(t *testing.T, conf, sock string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	cmd := exec.CommandContext(ctx, supervisorctlPath, append([]string{"-c", conf}, args...)...)
	cmd.Env = append(os.Environ(), "PARITY_SOCK="+sock)
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}

func TestSameConfigSameProcessNamesAsSupervisord(t *testing.T) {
	needSupervisor(t, supervisorctlPath)
	needSupervisor(t, supervisordPath)
	t.Setenv("PARITY_SECS", "1000")
	t.Setenv("PARITY_NAME", "cachename")
	want := []string{
		"backend:api", "backend:jobs-00", "backend:jobs-01", "cache:cachename",
		"worker:worker_1", "worker:worker_2", "worker:worker_3",
	}

	// supervisord, for real, on its own socket.
	svDir := t.TempDir()
	svConf := writeParityConf(t, svDir)
	svSock := filepath.Join(svDir, "sv.sock")
	sv := exec.Command(supervisordPath, "-c", svConf)
	sv.Env = append(os.Environ(), "PARITY_SOCK="+svSock)
	sv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { sv.Wait(); close(exited) }()
	var children []int
	t.Cleanup(func() { stopSupervisord(t, svConf, svSock, sv, exited, children) })

	var svOut string
	waitFor(t, "supervisord to answer with every process", func() bool {
		out, code := ctlEnv(t, svConf, svSock, "status")
		svOut = out
		return code != 4 && len(names(out)) == len(want) && !strings.Contains(out, "STARTING")
	})
	pids, _ := ctlEnv(t, svConf, svSock, "pid", "all")
	for _, f := range strings.Fields(pids) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			children = append(children, pid)
		}
	}
	if len(children) != len(want) {
		t.Fatalf("supervisord runs %d processes (%q), want %d", len(children), pids, len(want))
	}

	// corral, in this process, on another socket.
	cDir := t.TempDir()
	cConf := writeParityConf(t, cDir)
	cSock := filepath.Join(cDir, "c.sock")
	t.Setenv("PARITY_SOCK", cSock)
	s := startServer(t, cConf)
	var cOut string
	waitFor(t, "corral's processes to run", func() bool {
		out, _ := ctlEnv(t, cConf, cSock, "status")
		cOut = out
		return len(names(out)) == len(want) && !strings.Contains(out, "STARTING")
	})

	if got := names(svOut); !slices.Equal(got, want) {
		t.Errorf("supervisord status names = %q, want %q\n%s", got, want, svOut)
	}
	if got := names(cOut); !slices.Equal(got, names(svOut)) {
		t.Errorf("corral status names differ from supervisord's:\ncorral:\n%s\nsupervisord:\n%s", cOut, svOut)
	}
	if !strings.Contains(cOut, "RUNNING") || strings.Count(cOut, "RUNNING") != len(want) {
		t.Errorf("corral does not run every process:\n%s", cOut)
	}
	st := s.state(t, "cache:cachename")
	env, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/environ")
	if !strings.Contains(string(env), "CACHE_NAME=cachename\x00") {
		t.Errorf("cache's environment lacks CACHE_NAME=cachename")
	}
}

// stopSupervisord shuts supervisord down through supervisorctl, waits for
// it, and makes sure none of its children outlive it.
func stopSupervisord(t *testing.T, conf, sock string, sv *exec.Cmd, exited <-chan struct{}, children []int) {
	ctlEnv(t, conf, sock, "shutdown")
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Errorf("supervisord (pid %d) ignored shutdown; killing it", sv.Process.Pid)
		syscall.Kill(-sv.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range children {
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Errorf("supervisord's child %d outlived it; killing its group", pid)
				syscall.Kill(-pid, syscall.SIGKILL)
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
