package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/corralhq/corral/client"
)

// hang bounds every wait in the tests: it is a guard against a hung test,
// not a timed assertion.
const hang = 60 * time.Second

// runMainEnv makes the test binary run corral itself (for tests that start
// the daemon outside a script).
const runMainEnv = "CORRAL_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(mainAs(os.Args))
	}
	testscript.Main(m, map[string]func(){
		"corral": func() { os.Exit(mainAs(os.Args)) },
	})
}

// TestScripts runs the end-to-end CLI scripts in testdata/script: each
// starts a real daemon in its $WORK, on a real socket, with real processes.
//
// Custom commands:
//
//	waitfor STATE NAME...     poll corral status until each process is in STATE
//	pid NAME VAR              set $VAR to the process's pid
//	countproc PREFIX N        poll until exactly N processes of this script have an argv
//	                          (joined by spaces) that starts with PREFIX
//	expectout REGEXP CMD... [--then TRIGGER...]
//	                          run CMD until its stdout matches REGEXP (running
//	                          TRIGGER again each time nothing matched yet), then
//	                          interrupt it; it must exit 0
//
// Every process of a script (the daemons and what they spawned carry
// WORK=$WORK in their environment) is killed when the script ends, and a
// passing script must leave none.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			work := env.WorkDir
			env.Setenv("CORRAL_SOCKET", filepath.Join(work, "corral.sock"))
			env.Defer(func() {
				if left := reapScript(work); len(left) > 0 {
					env.T().Log(fmt.Sprintf("processes left behind by the script were killed: %v", left))
					env.T().Fatal("script left processes behind")
				}
			})
			return nil
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"waitfor":   cmdWaitFor,
			"pid":       cmdPid,
			"countproc": cmdCountProc,
			"expectout": cmdExpectOut,
		},
	})
}

func scriptClient(ts *testscript.TestScript) *client.Client {
	return client.New(ts.Getenv("CORRAL_SOCKET"), client.WithBasicAuth(ts.Getenv("CORRAL_USERNAME"), ts.Getenv("CORRAL_PASSWORD")))
}

func cmdWaitFor(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: waitfor STATE NAME...")
	}
	c := scriptClient(ts)
	defer c.Close()
	deadline := time.Now().Add(hang)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		sts, err := c.Status(ctx, args[1:]...)
		cancel()
		ok := err == nil && len(sts) > 0
		for _, st := range sts {
			ok = ok && st.State == args[0]
		}
		if ok {
			return
		}
		last = fmt.Sprint(err)
		if err == nil {
			last = fmt.Sprintf("%+v", sts)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("%v never reached %s; last status: %s", args[1:], args[0], last)
}

func cmdPid(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: pid NAME VAR")
	}
	c := scriptClient(ts)
	defer c.Close()
	sts, err := c.Status(context.Background(), args[0])
	if err != nil || len(sts) != 1 || sts[0].Pid == 0 {
		ts.Fatalf("pid of %s: %v %+v", args[0], err, sts)
	}
	ts.Setenv(args[1], strconv.Itoa(sts[0].Pid))
}

// scriptProcs returns the pids of the live processes whose environment has
// WORK=work, with their argv joined by spaces.
func scriptProcs(work string) map[int]string {
	out := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	marker := []byte("WORK=" + work + "\x00")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(env, marker) {
			continue
		}
		argv, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(argv) == 0 {
			continue // a zombie
		}
		out[pid] = strings.TrimSpace(string(bytes.ReplaceAll(argv, []byte{0}, []byte{' '})))
	}
	return out
}

func cmdCountProc(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: countproc PREFIX N")
	}
	want, err := strconv.Atoi(args[1])
	if err != nil {
		ts.Fatalf("countproc: %v", err)
	}
	deadline := time.Now().Add(hang)
	var found []string
	for time.Now().Before(deadline) {
		found = found[:0]
		for pid, argv := range scriptProcs(ts.Getenv("WORK")) {
			if strings.HasPrefix(argv, args[0]) {
				found = append(found, fmt.Sprintf("%d:%q", pid, argv))
			}
		}
		if len(found) == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	slices.Sort(found)
	ts.Fatalf("want %d processes whose argv starts with %q, have %d: %v", want, args[0], len(found), found)
}

// reapScript kills every process left by the script in work and waits until
// they are gone; it returns what it found.
func reapScript(work string) []string {
	var left []string
	deadline := time.Now().Add(hang)
	for time.Now().Before(deadline) {
		procs := scriptProcs(work)
		if len(procs) == 0 {
			break
		}
		for pid, argv := range procs {
			left = append(left, fmt.Sprintf("%d:%q", pid, argv))
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	slices.Sort(left)
	return slices.Compact(left)
}

// scriptEnv is the environment a script's commands see.
func scriptEnv(ts *testscript.TestScript) []string {
	env := os.Environ()
	for _, k := range []string{"PATH", "WORK", "HOME", "TMPDIR", "CORRAL_SOCKET", "CORRAL_USERNAME", "CORRAL_PASSWORD"} {
		env = append(env, k+"="+ts.Getenv(k))
	}
	return env
}

func cmdExpectOut(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: expectout REGEXP CMD... [--then TRIGGER...]")
	}
	re, err := regexp.Compile(args[0])
	if err != nil {
		ts.Fatalf("expectout: %v", err)
	}
	argv, trigger := args[1:], []string(nil)
	if i := slices.Index(argv, "--then"); i >= 0 {
		argv, trigger = argv[:i], argv[i+1:]
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = scriptEnv(ts)
	cmd.Dir = ts.Getenv("WORK")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		ts.Fatalf("expectout: %v", err)
	}
	if err := cmd.Start(); err != nil {
		ts.Fatalf("expectout: %v", err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	var seen []string
	timeout := time.NewTimer(hang)
	defer timeout.Stop()
	retry := time.NewTicker(200 * time.Millisecond)
	defer retry.Stop()
	runTrigger := func() {
		if trigger != nil {
			if err := ts.Exec(trigger[0], trigger[1:]...); err != nil {
				ts.Fatalf("expectout trigger %v: %v", trigger, err)
			}
		}
	}
	runTrigger()
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				ts.Fatalf("%v ended before printing a line matching %q; stdout:\n%s\nstderr:\n%s", argv, args[0], strings.Join(seen, "\n"), stderr.String())
			}
			seen = append(seen, l)
			if re.MatchString(l) {
				break wait
			}
		case <-retry.C:
			runTrigger()
		case <-timeout.C:
			ts.Fatalf("%v never printed a line matching %q; stdout:\n%s", argv, args[0], strings.Join(seen, "\n"))
		}
	}
	_ = cmd.Process.Signal(os.Interrupt)
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		ts.Fatalf("%v after an interrupt: %v; stderr:\n%s", argv, err, stderr.String())
	}
	fmt.Fprintf(ts.Stdout(), "%s\n", strings.Join(seen, "\n"))
}
