package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChildrenGetSupervisordsEnvironment: a process of a supervisord
// configuration gets SUPERVISOR_ENABLED, SUPERVISOR_PROCESS_NAME,
// SUPERVISOR_GROUP_NAME and SUPERVISOR_SERVER_URL as under supervisord, so
// supervisor.childutils.getRPCInterface (what superlance's listeners use)
// reaches the daemon that started it. Run beside the real supervisord.
func TestChildrenGetSupervisordsEnvironment(t *testing.T) {
	const probe = `import os, sys
from supervisor import childutils
rpc = childutils.getRPCInterface(os.environ)
state = rpc.supervisor.getState()["statename"]
info = rpc.supervisor.getProcessInfo(os.environ["SUPERVISOR_GROUP_NAME"] + ":" + os.environ["SUPERVISOR_PROCESS_NAME"])
url = os.environ["SUPERVISOR_SERVER_URL"].replace(os.environ["WORK"], "WORK")
print(os.environ["SUPERVISOR_ENABLED"], os.environ["SUPERVISOR_PROCESS_NAME"], os.environ["SUPERVISOR_GROUP_NAME"], url, state, info["name"], flush=True)
`
	conf := `[group:g]
programs = probe
[program:probe]
command = /usr/bin/python3 %(here)s/probe.py
startsecs = 0
autorestart = false
stdout_logfile = %(here)s/probe.log
`
	got := map[string]string{}
	for _, s := range bothSupervisors(t) {
		dir, path := setupListenerDir(t, conf)
		writeTestFile(t, filepath.Join(dir, "probe.py"), probe)
		rd := startSupervisor(t, s, dir, path)
		log := filepath.Join(dir, "probe.log")
		waitFor(t, s.name+": the probe's line", func() bool {
			b, _ := os.ReadFile(log)
			return strings.HasSuffix(string(b), "\n")
		})
		b, _ := os.ReadFile(log)
		got[s.name] = strings.TrimSpace(string(b))
		rd.stop(t)
	}
	want := "1 probe g unix://WORK/s.sock RUNNING probe"
	if got["supervisord"] != want {
		t.Errorf("under supervisord the probe printed %q, want %q (the test's expectation is wrong)", got["supervisord"], want)
	}
	if got["corral"] != got["supervisord"] {
		t.Errorf("under corral the probe printed %q; under supervisord %q", got["corral"], got["supervisord"])
	}
}
