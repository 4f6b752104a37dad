package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// The real supervisorctl sees a WAITING program as STARTING, with what it
// waits for as its description, and a ready one as RUNNING with the
// STATUS= text its process sent after supervisord's description.
func TestSupervisorctlShowsWaitingAsStartingAndTheStatusText(t *testing.T) {
	for _, tool := range []string{"supervisorctl", "systemd-notify"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
	root := t.TempDir()
	conf := filepath.Join(root, "supervisord.conf")
	writeTestFile(t, conf, `[supervisord]
childlogdir = %(here)s
[unix_http_server]
file = %(here)s/s.sock
[supervisorctl]
serverurl = unix://%(here)s/s.sock
[program:db]
command = sh -c "while [ ! -e %(here)s/go ]; do sleep 0.02; done; systemd-notify --ready --status=serving; exec sleep 1000.601"
ready = notify
startsecs = 0
[program:app]
command = sleep 1000.601
depends_on = db
startsecs = 0
`)
	t.Cleanup(func() { reapScript(root) })
	cmd := corralAs("corral", root, root, "daemon", "--config", conf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(hang):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	waiting := regexp.MustCompile(`(?m)^app +STARTING +waiting for db:ready$`)
	var out string
	waitFor(t, "app STARTING, waiting for db", func() bool {
		out = supervisorctlIn(t, conf, "status")
		return waiting.MatchString(out)
	})
	writeTestFile(t, filepath.Join(root, "go"), "")
	running := regexp.MustCompile(`(?m)^db +RUNNING +pid [0-9]+, uptime [0-9:]+, serving$`)
	waitFor(t, "db RUNNING with its status text", func() bool {
		out = supervisorctlIn(t, conf, "status")
		return running.MatchString(out) && regexp.MustCompile(`(?m)^app +RUNNING +pid`).MatchString(out)
	})
}
