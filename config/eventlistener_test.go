package config

import (
	"slices"
	"strings"
	"testing"
)

func TestINIEventListenerKeys(t *testing.T) {
	cfg := mustINI(t, `[eventlistener:mon]
command = /usr/bin/python3 listener.py
events = PROCESS_STATE, tick_60
buffer_size = 50
result_handler = supervisor.dispatchers:default_handler
numprocs = 2
process_name = %(program_name)s_%(process_num)d
stderr_logfile = /tmp/mon.err
`)
	if len(cfg.Programs) != 1 {
		t.Fatalf("programs = %d, want 1", len(cfg.Programs))
	}
	p := cfg.Programs[0]
	if p.Listener == nil {
		t.Fatal("no Listener for an [eventlistener:x] section")
	}
	if !slices.Equal(p.Listener.Events, []string{"PROCESS_STATE", "TICK_60"}) || p.Listener.BufferSize != 50 {
		t.Errorf("listener = %+v", *p.Listener)
	}
	// supervisord's default priority for listeners (start first, stop
	// last), and no stdout log: stdout is the protocol.
	if p.Priority != -1 || p.Stdout.File != "" || p.Stderr.File != "/tmp/mon.err" {
		t.Errorf("priority %d, stdout %q, stderr %q", p.Priority, p.Stdout.File, p.Stderr.File)
	}
	var names []string
	for _, pr := range p.Processes() {
		names = append(names, pr.FullName())
	}
	if !slices.Equal(names, []string{"mon:mon_0", "mon:mon_1"}) {
		t.Errorf("processes = %q", names)
	}
	for _, w := range cfg.Warnings {
		t.Errorf("unexpected warning: %s", w)
	}
}

func TestINIEventListenerDefaults(t *testing.T) {
	cfg := mustINI(t, "[eventlistener:x]\ncommand = cat\nevents = EVENT\npriority = 5\n")
	p := cfg.Programs[0]
	if p.Listener.BufferSize != 10 || p.Priority != 5 {
		t.Errorf("buffer_size %d (want 10), priority %d (want the one set, 5)", p.Listener.BufferSize, p.Priority)
	}
}

// Bad [eventlistener:x] sections are refused with supervisord's reason,
// the file, the line and the key.
func TestINIEventListenerErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"[eventlistener:x]\ncommand = cat\n", `supervisord.conf:1: [eventlistener:x]: key "events": [eventlistener:x] section requires an "events" line`},
		{"[eventlistener:x]\ncommand = cat\nevents = PROCESS_STATE,NOPE\n", "supervisord.conf:3: [eventlistener:x]: key \"events\": Unknown event type NOPE in [eventlistener:x] events"},
		{"[eventlistener:x]\ncommand = cat\nevents = EVENT\nbuffer_size = 0\n", "supervisord.conf:4: [eventlistener:x]: key \"buffer_size\": section sets invalid buffer_size (0)"},
		{"[eventlistener:x]\ncommand = cat\nevents = EVENT\nredirect_stderr = true\n", "supervisord.conf:4: [eventlistener:x]: key \"redirect_stderr\": section sets redirect_stderr=true but this is not allowed because it will interfere with the eventlistener protocol"},
		{"[eventlistener:x]\ncommand = cat\nevents = EVENT\nresult_handler = mymod:handler\n", "supervisord.conf:4: [eventlistener:x]: key \"result_handler\": mymod:handler cannot be resolved"},
		{"[eventlistener:x]\nevents = EVENT\n", "[eventlistener:x]"},
	}
	for _, tt := range tests {
		_, err := ParseINI("supervisord.conf", []byte(tt.src), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q:\n got %v\nwant %s", tt.src, err, tt.want)
		}
	}
}
