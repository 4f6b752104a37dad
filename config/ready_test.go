package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReadinessKeysTOML(t *testing.T) {
	cfg := mustTOML(t, `
[program.db]
command = "db"
ready = "notify"
ready_timeout = "30s"
notify_access = "all"
watchdog = "10s"

[program.migrate]
command = "migrate"
type = "oneshot"
requires = ["db"]

[program.app]
command = "app"
requires = ["db:healthy", "migrate:completed"]
wants = "cache:started"
after = ["logger"]
on_dependency_restart = "restart"

[program.cache]
command = "cache"
ready = "fd:3"

[program.logger]
command = "logger"
`)
	got := map[string]Readiness{}
	for _, p := range cfg.Programs {
		got[p.Name] = p.Readiness
	}
	want := map[string]Readiness{
		"db":      {Ready: "notify", ReadyTimeout: 30 * time.Second, NotifyAccess: "all", Watchdog: 10 * time.Second},
		"migrate": {Type: "oneshot", Requires: []string{"db"}},
		"app":     {Requires: []string{"db:healthy", "migrate:completed"}, Wants: []string{"cache:started"}, After: []string{"logger"}, OnDependencyRestart: "restart"},
		"cache":   {Ready: "fd:3"},
		"logger":  {},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("readiness\n got %+v\nwant %+v", got, want)
	}
	if fd := got["cache"].ReadyFD(); fd != 3 {
		t.Fatalf("ReadyFD = %d, want 3", fd)
	}
}

func TestDependencyErrorsNameFileLineAndCycle(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"cycle", `
[program.app]
command = "app"
requires = ["db"]

[program.db]
command = "db"
after = ["app"]
`, `corral.toml:4: program "app": key "requires": dependency cycle: app -> db -> app`},
		{"long cycle", `
[program.a]
command = "a"
wants = ["b:started"]
[program.b]
command = "b"
requires = ["c"]
[program.c]
command = "c"
after = ["b"]
`, `corral.toml:7: program "b": key "requires": dependency cycle: b -> c -> b`},
		{"self", `
[program.a]
command = "a"
requires = ["a"]
`, `corral.toml:4: program "a": key "requires": dependency cycle: a -> a`},
		{"unknown", `
[program.app]
command = "app"
wants = ["cache"]
`, `corral.toml:4: program "app": key "wants": no program named "cache"`},
		{"bad condition", `
[program.app]
command = "app"
requires = ["db:up"]
[program.db]
command = "db"
`, `corral.toml:4: program "app": key "requires": dependency "db:up": unknown condition "up" (want started, ready, healthy or completed)`},
		{"exited without oneshot", `
[program.app]
command = "app"
ready = "exited"
`, `corral.toml:4: program "app": key "ready": ready = "exited" needs type = "oneshot"`},
		{"fd below 3", `
[program.app]
command = "app"
ready = "fd:1"
`, `corral.toml:4: program "app": key "ready": "fd:1": N of fd:N must be a descriptor from 3 to 1023 (0-2 are stdio)`},
		{"bad on_dependency_restart", `
[program.app]
command = "app"
on_dependency_restart = "later"
`, `corral.toml:4: program "app": key "on_dependency_restart": unknown value "later" (want none, restart or stop)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTOML("corral.toml", []byte(tt.src))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v\nwant  %s", err, tt.want)
			}
		})
	}
}

func TestSupervisordDependencyKeys(t *testing.T) {
	cfg := mustINI(t, `
[program:db]
command = db
ready = notify
watchdog = 10s

[program:migrate]
command = migrate
type = oneshot
depends_on = db

[program:app]
command = app
requires = db:healthy
dependent_startup = true
dependent_startup_wait_for = migrate:exited db:running

[program:web]
command = web
dependent_startup_wait_for = app:running
`)
	got := map[string]Readiness{}
	for _, p := range cfg.Programs {
		got[p.Name] = p.Readiness
	}
	want := map[string]Readiness{
		"db":      {Ready: "notify", Watchdog: 10 * time.Second},
		"migrate": {Type: "oneshot", Requires: []string{"db"}},
		"app":     {Requires: []string{"db:healthy", "migrate:completed", "db:ready"}},
		"web":     {},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("readiness\n got %+v\nwant %+v", got, want)
	}
	warned := false
	for _, w := range cfg.Warnings {
		warned = warned || strings.Contains(w, "dependent_startup_wait_for without dependent_startup = true")
		if strings.Contains(w, "unknown key") {
			t.Errorf("readiness key warned as unknown: %s", w)
		}
	}
	if !warned {
		t.Errorf("no warning for dependent_startup_wait_for without dependent_startup: %q", cfg.Warnings)
	}
}

func TestSupervisordDependencyCycleNamesLine(t *testing.T) {
	_, err := ParseINI("supervisord.conf", []byte("[program:a]\ncommand=a\nrequires=b\n[program:b]\ncommand=b\nrequires=a:started\n"), nil)
	want := `supervisord.conf:3: [program:a]: key "requires": dependency cycle: a -> b -> a`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant  %s", err, want)
	}
}
