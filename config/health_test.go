package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestHealthFromTOMLAndINIAgree(t *testing.T) {
	toml := `
[daemon]
health_listen = "0.0.0.0:8558"
[program.db]
command = "postgres"
[program.db.health]
exec = ["pg_isready", "-q"]
interval = "10s"
timeout = "3s"
start_period = "1m"
start_interval = "2s"
retries = 5
on_unhealthy = "stop"
[program.web]
command = "web"
health = { http = "http://127.0.0.1:8080/healthz" }
`
	ini := `
[supervisord]
health_listen = 0.0.0.0:8558
[program:db]
command = postgres
health_exec = pg_isready -q
health_interval = 10
health_timeout = 3s
health_start_period = 1m
health_start_interval = 2s
health_retries = 5
health_on_unhealthy = stop
[program:web]
command = web
health_http = http://127.0.0.1:8080/healthz
`
	tc, err := ParseTOML("corral.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	ic, err := ParseINI("supervisord.conf", []byte(ini), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Health{Exec: []string{"pg_isready", "-q"}, Interval: 10 * time.Second, Timeout: 3 * time.Second,
		StartPeriod: time.Minute, StartInterval: 2 * time.Second, Retries: 5, OnUnhealthy: UnhealthyStop}
	defaults := NewHealth()
	defaults.HTTP = "http://127.0.0.1:8080/healthz"
	for _, cfg := range []*Config{tc, ic} {
		if got := cfg.Program("db").Health; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: db health %+v, want %+v", cfg.File, got, want)
		}
		if got := cfg.Program("web").Health; !reflect.DeepEqual(got, defaults) {
			t.Errorf("%s: web health %+v, want the defaults %+v", cfg.File, got, defaults)
		}
		if cfg.Daemon.HealthListen != "0.0.0.0:8558" {
			t.Errorf("%s: health_listen %q", cfg.File, cfg.Daemon.HealthListen)
		}
	}
	if d := NewHealth(); d.Interval != 30*time.Second || d.Timeout != 10*time.Second || d.Retries != 3 ||
		d.StartPeriod != 0 || d.StartInterval != 5*time.Second || d.OnUnhealthy != UnhealthyRestart {
		t.Errorf("defaults changed: %+v (update docs/HEALTH.md)", d)
	}
}

func TestHealthErrorsNameFileLineProgramAndKey(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"toml no probe", "[program.web]\ncommand = \"x\"\n[program.web.health]\ninterval = \"1s\"",
			`corral.toml:3: program "web": key "health": a health check needs exactly one of exec, http and tcp`},
		{"toml two probes", "[program.web]\ncommand = \"x\"\n[program.web.health]\ntcp = \"127.0.0.1:1\"\nhttp = \"http://x/\"",
			`corral.toml:3: program "web": key "health": a health check needs exactly one of exec, http and tcp`},
		{"toml bad url", "[program.web]\ncommand = \"x\"\n[program.web.health]\nhttp = \"localhost:80/x\"",
			`corral.toml:4: program "web": key "health.http": "localhost:80/x" is not an http:// or https:// URL with a host`},
		{"toml bad tcp", "[program.web]\ncommand = \"x\"\nhealth = { tcp = \"127.0.0.1\" }",
			`corral.toml:3: program "web": key "health.tcp": "127.0.0.1" is not host:port`},
		{"toml zero interval", "[program.web]\ncommand = \"x\"\n[program.web.health]\ntcp = \":1\"\ninterval = \"0s\"",
			`corral.toml:5: program "web": key "health.interval": must be more than 0`},
		{"toml retries", "[program.web]\ncommand = \"x\"\n[program.web.health]\ntcp = \":1\"\nretries = 0",
			`corral.toml:5: program "web": key "health.retries": 0 is out of range`},
		{"toml action", "[program.web]\ncommand = \"x\"\n[program.web.health]\ntcp = \":1\"\non_unhealthy = \"reboot\"",
			`corral.toml:5: program "web": key "health.on_unhealthy": invalid value "reboot" (want restart, stop, ignore or shutdown)`},
		{"toml unknown key", "[program.web]\ncommand = \"x\"\n[program.web.health]\ntcp = \":1\"\ncmd = \"x\"",
			`corral.toml:5: program "web": key "health.cmd": unknown key`},
		{"toml health_listen", "[daemon]\nhealth_listen = \"8558\"",
			`corral.toml:2: daemon: key "health_listen": "8558" is not host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTOML("corral.toml", []byte(tt.src))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error\n%v\nwant it to start with\n%s", err, tt.want)
			}
		})
	}
	ini := []struct {
		name, src, want string
	}{
		{"ini two probes", "[program:web]\ncommand = x\nhealth_tcp = :1\nhealth_http = http://x/",
			`supervisord.conf:4: [program:web]: key "health_http": a health check needs exactly one of exec, http and tcp`},
		{"ini no probe", "[program:web]\ncommand = x\nhealth_retries = 2",
			`supervisord.conf:1: [program:web]: a health check needs exactly one of exec, http and tcp`},
		{"ini bad interval", "[program:web]\ncommand = x\nhealth_tcp = :1\nhealth_interval = soon",
			`supervisord.conf:4: [program:web]: key "health_interval": invalid duration "soon"`},
		{"ini zero timeout", "[program:web]\ncommand = x\nhealth_tcp = :1\nhealth_timeout = 0",
			`supervisord.conf:4: [program:web]: key "health_timeout": must be more than 0`},
		{"ini action", "[program:web]\ncommand = x\nhealth_tcp = :1\nhealth_on_unhealthy = later",
			`supervisord.conf:4: [program:web]: key "health_on_unhealthy": invalid value "later"`},
	}
	for _, tt := range ini {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseINI("supervisord.conf", []byte(tt.src), nil)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error\n%v\nwant it to start with\n%s", err, tt.want)
			}
		})
	}
}

func TestHealthFromAPITable(t *testing.T) {
	p, err := ProgramFromTable("web", map[string]any{
		"command": "web",
		"health":  map[string]any{"tcp": "127.0.0.1:80", "retries": int64(2)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Health == nil || p.Health.TCP != "127.0.0.1:80" || p.Health.Retries != 2 {
		t.Errorf("health %+v", p.Health)
	}
	p.Health.Retries = 0
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), `key "health.retries"`) {
		t.Errorf("Validate: %v, want the key health.retries", err)
	}
}
