package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Readiness holds a program's readiness, watchdog and dependency keys (see
// docs/READINESS.md). The zero value is supervisord's behaviour: ready
// after start_secs, no dependencies.
type Readiness struct {
	// Ready is when a process counts as up: "started" (default: after
	// start_secs), "notify" (READY=1 on NOTIFY_SOCKET), "fd:N" (a newline
	// written on descriptor N), "healthy" (the first passing health probe)
	// or "exited" (type = "oneshot": exit with one of exit_codes).
	Ready string `json:",omitempty"`
	// Type is "simple" (default) or "oneshot" (runs to completion; its
	// ready is "exited").
	Type string `json:",omitempty"`
	// ReadyTimeout: a process not ready after this long is killed and its
	// death counts as a failed start (0: no limit).
	ReadyTimeout time.Duration `json:",omitempty"`
	// NotifyAccess is "main" (default: only the main pid may notify) or
	// "all" (any process of its process group).
	NotifyAccess string `json:",omitempty"`
	// Watchdog: WATCHDOG=1 expected at least this often; a miss sends
	// SIGABRT and the restart policy applies (0: none).
	Watchdog time.Duration `json:",omitempty"`
	// Requires, Wants and After are NAME[:CONDITION] lists, CONDITION one
	// of started, ready (default), healthy, completed.
	Requires []string `json:",omitempty"`
	Wants    []string `json:",omitempty"`
	After    []string `json:",omitempty"`
	// OnDependencyRestart is "none" (default), "restart" or "stop".
	OnDependencyRestart string `json:",omitempty"`
}

// Ready modes and dependency conditions, as written in configurations.
const (
	ReadyStarted = "started"
	ReadyNotify  = "notify"
	ReadyHealthy = "healthy"
	ReadyExited  = "exited"
	TypeOneshot  = "oneshot"
)

// DefaultOnDependencyRestart is what a dependant does when a dependency
// restarts, unless on_dependency_restart says otherwise.
const DefaultOnDependencyRestart = "none"

// readinessKeys are the TOML (and INI) keys of Readiness.
var readinessKeys = []string{"ready", "type", "ready_timeout", "notify_access", "watchdog", "requires", "wants", "after", "on_dependency_restart"}

func init() {
	for _, k := range readinessKeys {
		iniKeyName[k] = k
	}
}

// ReadyFD returns N of ready = "fd:N", or 0.
func (r Readiness) ReadyFD() int {
	s, ok := strings.CutPrefix(r.Ready, "fd:")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}

// Oneshot reports type = "oneshot".
func (r Readiness) Oneshot() bool { return r.Type == TypeOneshot }

// Notified reports whether the process says itself when it is ready
// (notify, fd:N, healthy).
func (r Readiness) Notified() bool {
	return r.Ready == ReadyNotify || r.Ready == ReadyHealthy || r.ReadyFD() > 0
}

// WantsNotifySocket reports whether processes get NOTIFY_SOCKET.
func (r Readiness) WantsNotifySocket() bool { return r.Ready == ReadyNotify || r.Watchdog > 0 }

// ParseDep splits NAME[:CONDITION]; the condition defaults to "ready".
func ParseDep(s string) (name, cond string, err error) {
	name, cond, _ = strings.Cut(strings.TrimSpace(s), ":")
	if cond == "" {
		cond = "ready"
	}
	if err := checkName(name); err != nil {
		return "", "", fmt.Errorf("dependency %q: %w", s, err)
	}
	switch cond {
	case "started", "ready", "healthy", "completed":
	default:
		return "", "", fmt.Errorf("dependency %q: unknown condition %q (want started, ready, healthy or completed)", s, cond)
	}
	return name, cond, nil
}

// normalize writes defaults as the zero value, so a program read back from
// its own description (AddReadinessFields) is the same program.
func (r *Readiness) normalize() {
	if r.Type == "simple" {
		r.Type = ""
	}
	if r.Ready == ReadyStarted || (r.Ready == ReadyExited && r.Oneshot()) {
		r.Ready = ""
	}
	if r.NotifyAccess == "main" {
		r.NotifyAccess = ""
	}
	if r.OnDependencyRestart == DefaultOnDependencyRestart {
		r.OnDependencyRestart = ""
	}
}

// validate returns the TOML key at fault; it normalizes r first.
func (r *Readiness) validate() (string, error) {
	r.normalize()
	switch r.Type {
	case "", "simple", TypeOneshot:
	default:
		return "type", fmt.Errorf("unknown type %q (want simple or oneshot)", r.Type)
	}
	switch {
	case r.Ready == "", r.Ready == ReadyStarted, r.Ready == ReadyNotify, r.Ready == ReadyHealthy, r.Ready == ReadyExited:
	case strings.HasPrefix(r.Ready, "fd:"):
		if n, err := strconv.Atoi(r.Ready[3:]); err != nil || n < 3 || n > 1023 {
			return "ready", fmt.Errorf("%q: N of fd:N must be a descriptor from 3 to 1023 (0-2 are stdio)", r.Ready)
		}
	default:
		return "ready", fmt.Errorf("unknown value %q (want started, notify, fd:N, healthy or exited)", r.Ready)
	}
	if r.Oneshot() && r.Ready != "" && r.Ready != ReadyExited {
		return "ready", fmt.Errorf("type = \"oneshot\" is ready when it exits: ready must be \"exited\" (or unset), not %q", r.Ready)
	}
	if r.Ready == ReadyExited && !r.Oneshot() {
		return "ready", errors.New(`ready = "exited" needs type = "oneshot"`)
	}
	if r.ReadyTimeout < 0 {
		return "ready_timeout", errors.New("must be >= 0")
	}
	if r.Watchdog < 0 {
		return "watchdog", errors.New("must be >= 0")
	}
	switch r.NotifyAccess {
	case "", "main", "all":
	default:
		return "notify_access", fmt.Errorf("unknown value %q (want main or all)", r.NotifyAccess)
	}
	switch r.OnDependencyRestart {
	case "", "none", "restart", "stop":
	default:
		return "on_dependency_restart", fmt.Errorf("unknown value %q (want none, restart or stop)", r.OnDependencyRestart)
	}
	for _, l := range []struct {
		key  string
		deps []string
	}{{"requires", r.Requires}, {"wants", r.Wants}, {"after", r.After}} {
		for _, d := range l.deps {
			if _, _, err := ParseDep(d); err != nil {
				return l.key, err
			}
		}
	}
	return "", nil
}

// depEdge is one dependency of a program, with the key it was written in.
type depEdge struct{ name, key string }

func (r Readiness) edges() []depEdge {
	var out []depEdge
	for _, l := range []struct {
		key  string
		deps []string
	}{{"requires", r.Requires}, {"wants", r.Wants}, {"after", r.After}} {
		for _, d := range l.deps {
			name, _, _ := ParseDep(d)
			out = append(out, depEdge{name, l.key})
		}
	}
	return out
}

// CheckDependencies refuses dependencies on programs that do not exist and
// cycles, naming the program and key at fault and printing a cycle as
// "app -> db -> app". Load and every reload run it, so a refused reload
// changes nothing.
func (c *Config) CheckDependencies() error {
	return c.checkDeps(func(n string) string { return fmt.Sprintf("program %q", n) }, func(k string) string { return k },
		func(*Program, string) Position { return Position{} })
}

func (c *Config) checkDeps(section func(string) string, keyName func(string) string, posOf func(p *Program, key string) Position) error {
	byName := make(map[string]*Program, len(c.Programs))
	for i := range c.Programs {
		byName[c.Programs[i].Name] = &c.Programs[i]
	}
	fail := func(p *Program, key string, err error) error {
		e := &Error{Pos: p.Source, Section: section(p.Name), Key: keyName(key), Err: err}
		if pos := posOf(p, key); pos.Line > 0 {
			e.Pos = pos
		}
		return e
	}
	for i := range c.Programs {
		p := &c.Programs[i]
		for _, e := range p.Readiness.edges() {
			if byName[e.name] == nil {
				return fail(p, e.key, fmt.Errorf("no program named %q", e.name))
			}
			if e.name == p.Name {
				return fail(p, e.key, fmt.Errorf("dependency cycle: %s -> %s", p.Name, p.Name))
			}
		}
	}
	// Depth-first search, programs in file order; a grey node met again
	// closes a cycle, printed from its first member.
	const (
		white = iota
		grey
		black
	)
	color := make(map[string]int, len(c.Programs))
	var stack []string
	var keys []string
	var visit func(p *Program) error
	visit = func(p *Program) error {
		color[p.Name] = grey
		stack = append(stack, p.Name)
		for _, e := range p.Readiness.edges() {
			keys = append(keys, e.key)
			switch color[e.name] {
			case grey:
				start := slices.Index(stack, e.name)
				cycle := append(slices.Clone(stack[start:]), e.name)
				first := byName[cycle[0]]
				return fail(first, keys[start], fmt.Errorf("dependency cycle: %s", strings.Join(cycle, " -> ")))
			case white:
				if err := visit(byName[e.name]); err != nil {
					return err
				}
			}
			keys = keys[:len(keys)-1]
		}
		stack = stack[:len(stack)-1]
		color[p.Name] = black
		return nil
	}
	for i := range c.Programs {
		if color[c.Programs[i].Name] == white {
			if err := visit(&c.Programs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// readinessTOML reads one readiness key of a [program.NAME] table; known is
// false for a key that is not one.
func (s tsec) readinessTOML(r *Readiness, k string, v any) (known bool, err error) {
	switch k {
	case "ready":
		r.Ready, err = s.str(v, k)
	case "type":
		r.Type, err = s.str(v, k)
	case "ready_timeout":
		r.ReadyTimeout, err = s.duration(v, k)
	case "notify_access":
		r.NotifyAccess, err = s.str(v, k)
	case "watchdog":
		r.Watchdog, err = s.duration(v, k)
	case "on_dependency_restart":
		r.OnDependencyRestart, err = s.str(v, k)
	case "requires", "wants", "after":
		var list []string
		switch x := v.(type) {
		case string:
			list = splitDeps(x)
		case []any:
			for _, e := range x {
				w, ok := e.(string)
				if !ok {
					return true, s.wrongType(e, "an array of strings", k)
				}
				list = append(list, w)
			}
		default:
			return true, s.wrongType(v, "an array of strings", k)
		}
		switch k {
		case "requires":
			r.Requires = list
		case "wants":
			r.Wants = list
		default:
			r.After = list
		}
	default:
		return false, nil
	}
	return true, err
}

// splitDeps splits a list written as one string, by commas or blanks.
func splitDeps(s string) []string {
	return strings.FieldsFunc(s, func(c rune) bool { return c == ',' || c == ' ' || c == '\t' || c == '\n' })
}

// readinessINIKeys are the keys of a [program:x] section that readinessINI
// reads, besides readinessKeys.
var readinessINIKeys = map[string]bool{"depends_on": true, "dependent_startup": true, "dependent_startup_wait_for": true}

func isReadinessINIKey(k string) bool {
	return readinessINIKeys[k] || slices.Contains(readinessKeys, k)
}

// readinessINI reads the readiness keys of a [program:x] section: corral's
// own (ready=notify, requires=db:healthy migrate:completed, ...), the Go
// supervisord clone's depends_on = a, b (requires a:ready, b:ready), and
// supervisord-dependent-startup's dependent_startup = true with
// dependent_startup_wait_for = a:running b:exited (running means ready,
// exited means completed). supervisord ignores keys it does not know, so
// one file runs under both.
func (ip *iniParser) readinessINI(s *iniSection, p *Program) error {
	ex := &expander{vars: ip.baseVars(s.here), keep: map[string]bool{"process_num": true}}
	get := func(k string) (string, bool, error) { return ip.value(s, ex, k) }
	r := &p.Readiness
	for _, k := range readinessKeys {
		v, ok, err := get(k)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "ready":
			r.Ready = v
		case "type":
			r.Type = v
		case "notify_access":
			r.NotifyAccess = v
		case "on_dependency_restart":
			r.OnDependencyRestart = v
		case "ready_timeout", "watchdog":
			d, err := ParseDuration(v)
			if err != nil {
				return s.err(k, err)
			}
			if k == "watchdog" {
				r.Watchdog = d
			} else {
				r.ReadyTimeout = d
			}
		case "requires":
			r.Requires = splitDeps(v)
		case "wants":
			r.Wants = splitDeps(v)
		case "after":
			r.After = splitDeps(v)
		}
	}
	if v, ok, err := get("depends_on"); err != nil {
		return err
	} else if ok {
		r.Requires = append(r.Requires, splitDeps(v)...)
	}
	on := false
	if v, ok, err := get("dependent_startup"); err != nil {
		return err
	} else if ok {
		if on, err = ParseBool(v); err != nil {
			return s.err("dependent_startup", err)
		}
	}
	if v, ok, err := get("dependent_startup_wait_for"); err != nil {
		return err
	} else if ok && !on {
		ip.warn(s, s.posOf("dependent_startup_wait_for"), "dependent_startup_wait_for without dependent_startup = true; ignored, as the plugin does")
	} else if ok {
		for _, w := range splitDeps(v) {
			name, state, _ := strings.Cut(w, ":")
			cond := "ready"
			switch strings.ToLower(state) {
			case "running", "":
			case "exited":
				cond = "completed"
			case "starting":
				cond = "started"
			default:
				return s.err("dependent_startup_wait_for", fmt.Errorf("%q: unknown state %q (want running, exited or starting)", w, state))
			}
			r.Requires = append(r.Requires, name+":"+cond)
		}
	}
	return nil
}

// AddReadinessFields adds p's readiness keys, defaults included, to a
// program described with TOML keys (corral inspect, the API), so that
// on_dependency_restart's default is shown, not implied.
func AddReadinessFields(p Program, out map[string]any) {
	r := p.Readiness
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	ready := ReadyStarted
	if r.Oneshot() {
		ready = ReadyExited
	}
	list := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	out["ready"] = or(r.Ready, ready)
	out["type"] = or(r.Type, "simple")
	out["ready_timeout"] = r.ReadyTimeout.String()
	out["notify_access"] = or(r.NotifyAccess, "main")
	out["watchdog"] = r.Watchdog.String()
	out["requires"] = list(r.Requires)
	out["wants"] = list(r.Wants)
	out["after"] = list(r.After)
	out["on_dependency_restart"] = or(r.OnDependencyRestart, DefaultOnDependencyRestart)
}

// DependencyRanks ranks programs for stopping: a program ranks above every
// program it depends on (requires, wants, after), so stopping from the
// highest rank down stops dependants before what they depend on. Names
// that are not programs, and cycles (refused at load), are ignored.
func DependencyRanks(programs []Program) map[string]int {
	byName := make(map[string]*Program, len(programs))
	for i := range programs {
		byName[programs[i].Name] = &programs[i]
	}
	rank := make(map[string]int, len(programs))
	onPath := map[string]bool{}
	var visit func(p *Program) int
	visit = func(p *Program) int {
		if r, ok := rank[p.Name]; ok {
			return r
		}
		if onPath[p.Name] {
			return 0
		}
		onPath[p.Name] = true
		r := 0
		for _, e := range p.Readiness.edges() {
			if q := byName[e.name]; q != nil {
				r = max(r, visit(q)+1)
			}
		}
		delete(onPath, p.Name)
		rank[p.Name] = r
		return r
	}
	for i := range programs {
		visit(&programs[i])
	}
	return rank
}
