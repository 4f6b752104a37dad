package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Health check defaults: Docker's HEALTHCHECK defaults, except the timeout
// (Docker's is 30s, as long as its interval, so a hung probe delays the next
// one by a whole interval) and on_unhealthy (Docker only reports; a program
// marked unhealthy and left alone is one of the traps this feature avoids).
const (
	DefaultHealthInterval      = 30 * time.Second
	DefaultHealthTimeout       = 10 * time.Second
	DefaultHealthStartInterval = 5 * time.Second
	DefaultHealthRetries       = 3
)

// OnUnhealthy is what the daemon does when a process turns unhealthy.
type OnUnhealthy string

// The on_unhealthy actions.
const (
	UnhealthyRestart  OnUnhealthy = "restart"  // restart the process (the default)
	UnhealthyStop     OnUnhealthy = "stop"     // stop it, as `corral stop` would
	UnhealthyIgnore   OnUnhealthy = "ignore"   // only report it
	UnhealthyShutdown OnUnhealthy = "shutdown" // shut the daemon down (a container's PID 1 exits)
)

// Health is a program's health check ([program.x.health] in TOML, health_*
// keys in a supervisord [program:x]). Exactly one of Exec, HTTP and TCP is
// set. Every process of the program is probed on its own.
type Health struct {
	// Exec is a command run for each probe, in the program's environment,
	// directory and user; exit 0 passes.
	Exec []string `json:",omitempty"`
	// HTTP is a URL fetched with GET; a 2xx or 3xx status passes.
	HTTP string `json:",omitempty"`
	// TCP is a host:port; a connection accepted passes.
	TCP string `json:",omitempty"`
	// Interval is the time between the end of a probe and the next one.
	Interval time.Duration
	// Timeout bounds one probe; an exec probe's process group is killed.
	Timeout time.Duration
	// StartPeriod is a grace period after each spawn: failures in it do
	// not count, and probes run every StartInterval.
	StartPeriod   time.Duration
	StartInterval time.Duration
	// Retries is the number of consecutive failures that make a process
	// unhealthy.
	Retries int
	// OnUnhealthy is the action taken when a process becomes unhealthy.
	OnUnhealthy OnUnhealthy
}

// NewHealth returns a check with the defaults and no probe.
func NewHealth() *Health {
	return &Health{
		Interval: DefaultHealthInterval, Timeout: DefaultHealthTimeout,
		StartInterval: DefaultHealthStartInterval, Retries: DefaultHealthRetries,
		OnUnhealthy: UnhealthyRestart,
	}
}

// Kind is "exec", "http" or "tcp".
func (h *Health) Kind() string {
	switch {
	case len(h.Exec) > 0:
		return "exec"
	case h.HTTP != "":
		return "http"
	}
	return "tcp"
}

// check validates the check and returns the faulty key (TOML name, without
// the "health." prefix) with the error.
func (h *Health) check() (string, error) {
	n := 0
	for _, set := range []bool{len(h.Exec) > 0, h.HTTP != "", h.TCP != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return "", errors.New("a health check needs exactly one of exec, http and tcp")
	}
	if len(h.Exec) > 0 && h.Exec[0] == "" {
		return "exec", errors.New("the command is empty")
	}
	if h.HTTP != "" {
		u, err := url.Parse(h.HTTP)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "http", fmt.Errorf("%q is not an http:// or https:// URL with a host", h.HTTP)
		}
	}
	if h.TCP != "" {
		host, port, err := net.SplitHostPort(h.TCP)
		if err != nil || port == "" {
			return "tcp", fmt.Errorf("%q is not host:port", h.TCP)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "tcp", fmt.Errorf("%q: port %q is not a number from 1 to 65535", h.TCP, port)
		}
		_ = host // empty means the local host, as net.Dial takes it
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start_interval", h.StartInterval}} {
		if d.v <= 0 {
			return d.key, fmt.Errorf("must be more than 0, not %s", d.v)
		}
	}
	if h.StartPeriod < 0 {
		return "start_period", fmt.Errorf("must be 0 or more, not %s", h.StartPeriod)
	}
	if h.Retries < 1 {
		return "retries", fmt.Errorf("must be 1 or more, not %d", h.Retries)
	}
	if _, err := ParseOnUnhealthy(string(h.OnUnhealthy)); err != nil {
		return "on_unhealthy", err
	}
	return "", nil
}

// ParseOnUnhealthy parses an on_unhealthy value.
func ParseOnUnhealthy(s string) (OnUnhealthy, error) {
	switch a := OnUnhealthy(strings.ToLower(strings.TrimSpace(s))); a {
	case UnhealthyRestart, UnhealthyStop, UnhealthyIgnore, UnhealthyShutdown:
		return a, nil
	}
	return "", fmt.Errorf("invalid value %q (want restart, stop, ignore or shutdown)", s)
}

// health reads a [program.x.health] table.
func (s tsec) health(hp **Health, v any) error {
	m, err := s.table(v, "health")
	if err != nil {
		return err
	}
	h := NewHealth()
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch k {
		case "exec":
			switch x := v.(type) {
			case string:
				if h.Exec, err = SplitCommand(x); err != nil {
					return s.err(err, "health", k)
				}
			case []any:
				for _, e := range x {
					w, ok := e.(string)
					if !ok {
						return s.wrongType(e, "a string or an array of strings", "health", k)
					}
					h.Exec = append(h.Exec, w)
				}
			default:
				return s.wrongType(v, "a string or an array of strings", "health", k)
			}
		case "http":
			h.HTTP, err = s.str(v, "health", k)
		case "tcp":
			h.TCP, err = s.str(v, "health", k)
		case "interval":
			h.Interval, err = s.duration(v, "health", k)
		case "timeout":
			h.Timeout, err = s.duration(v, "health", k)
		case "start_period":
			h.StartPeriod, err = s.duration(v, "health", k)
		case "start_interval":
			h.StartInterval, err = s.duration(v, "health", k)
		case "retries":
			h.Retries, err = s.integer(v, 1, "health", k)
		case "on_unhealthy":
			var x string
			if x, err = s.str(v, "health", k); err == nil {
				if h.OnUnhealthy, err = ParseOnUnhealthy(x); err != nil {
					return s.err(err, "health", k)
				}
			}
		default:
			return s.err(errors.New("unknown key (want exec, http, tcp, interval, timeout, start_period, start_interval, retries or on_unhealthy)"), "health", k)
		}
		if err != nil {
			return err
		}
	}
	if key, err := h.check(); err != nil {
		if key == "" {
			return s.err(err, "health")
		}
		return s.err(err, "health", key)
	}
	*hp = h
	return nil
}

// iniHealthKeys maps the supervisord form of a health check, health_KEY in
// [program:x], to the TOML keys of [program.x.health].
var iniHealthKeys = map[string]string{
	"health_exec": "exec", "health_http": "http", "health_tcp": "tcp",
	"health_interval": "interval", "health_timeout": "timeout",
	"health_start_period": "start_period", "health_start_interval": "start_interval",
	"health_retries": "retries", "health_on_unhealthy": "on_unhealthy",
}

// iniHealth sets one health_* key of a supervisord [program:x] section.
// Durations are "10s" or a number of seconds.
func iniHealth(hp **Health, key, v string) error {
	if *hp == nil {
		*hp = NewHealth()
	}
	h := *hp
	var err error
	switch iniHealthKeys[key] {
	case "exec":
		h.Exec, err = SplitCommand(v)
	case "http":
		h.HTTP = strings.TrimSpace(v)
	case "tcp":
		h.TCP = strings.TrimSpace(v)
	case "interval":
		h.Interval, err = ParseDuration(strings.TrimSpace(v))
	case "timeout":
		h.Timeout, err = ParseDuration(strings.TrimSpace(v))
	case "start_period":
		h.StartPeriod, err = ParseDuration(strings.TrimSpace(v))
	case "start_interval":
		h.StartInterval, err = ParseDuration(strings.TrimSpace(v))
	case "retries":
		h.Retries, err = strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			err = fmt.Errorf("invalid number %q", v)
		}
	case "on_unhealthy":
		h.OnUnhealthy, err = ParseOnUnhealthy(v)
	}
	return err
}

// iniHealthCheck validates the check a [program:x] section built, naming
// the health_* key at fault.
func iniHealthCheck(s *iniSection, h *Health) error {
	if h == nil {
		return nil
	}
	key, err := h.check()
	if err == nil {
		return nil
	}
	if key == "" {
		// Name the last probe key given (the one too many), or the section.
		at := ""
		for _, k := range []string{"health_exec", "health_http", "health_tcp"} {
			if kv, ok := s.get(k); ok && (at == "" || kv.line > s.posOf(at).Line) {
				at = k
			}
		}
		return s.err(at, err)
	}
	return s.err("health_"+key, err)
}

// CheckHealthListen checks a health_listen address: host:port, the host
// may be empty (all addresses).
func CheckHealthListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (such as 0.0.0.0:8558)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}
