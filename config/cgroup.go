package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Hooks are commands run for a program around each process's life, each as
// a process of its own (argv, split as command is), with the program's
// environment, directory and user, its output in the program's log, and a
// time limit (Timeout, default 30s) after which it is killed.
//
//   - PreStart runs to completion before each start; a failure (an exit
//     code other than 0, a signal, the timeout) is a failed start.
//   - PostStop runs after each exit of the process (a stop or a death).
//   - StopCommand runs instead of sending the stop signal; the stop
//     timeout still applies, after which the process group (and its
//     cgroup) is killed.
type Hooks struct {
	PreStart    []string `json:"pre_start,omitempty"`
	PostStop    []string `json:"post_stop,omitempty"`
	StopCommand []string `json:"stop_command,omitempty"`
	Timeout     time.Duration
}

// ParseMemoryMax reads memory_max: "max" or a size in bytes with an
// optional K, M, G or T suffix (powers of 1024), as memory.max takes it.
func ParseMemoryMax(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "max" {
		return v, nil
	}
	num, mult := v, int64(1)
	if n := len(v); n > 0 {
		switch strings.ToUpper(v[n-1:]) {
		case "K":
			mult = 1 << 10
		case "M":
			mult = 1 << 20
		case "G":
			mult = 1 << 30
		case "T":
			mult = 1 << 40
		}
		if mult > 1 {
			num = v[:n-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return "", fmt.Errorf("invalid memory limit %q (want max or a positive size such as 512M)", v)
	}
	return strconv.FormatInt(n*mult, 10), nil
}

// ParseCPUMax reads cpu_max: "max", a share of one CPU in percent ("50%",
// "250%" for two and a half CPUs), or cpu.max's own "QUOTA PERIOD" in
// microseconds.
func ParseCPUMax(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "max" {
		return v, nil
	}
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(pct, 64)
		if err != nil || !(f >= 0.1) || f > 100000 {
			return "", fmt.Errorf("invalid CPU limit %q (want a percentage of one CPU from 0.1%% up)", v)
		}
		return fmt.Sprintf("%d 100000", int64(f*1000)), nil
	}
	f := strings.Fields(v)
	if len(f) == 2 {
		period, err := strconv.ParseUint(f[1], 10, 32)
		if err == nil && period >= 1000 && period <= 1000000 {
			if f[0] == "max" {
				return v, nil
			}
			if q, err := strconv.ParseUint(f[0], 10, 63); err == nil && q >= 1000 {
				return fmt.Sprintf("%d %d", q, period), nil
			}
		}
	}
	return "", fmt.Errorf("invalid CPU limit %q (want max, a percentage such as 50%%, or \"QUOTA PERIOD\" in microseconds, period 1000-1000000, quota >= 1000)", v)
}

// ParsePidsMax reads pids_max: "max" or a positive number of processes.
func ParsePidsMax(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "max" {
		return v, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return "", fmt.Errorf("invalid process limit %q (want max or a positive number)", v)
	}
	return v, nil
}

// setCgroupKey sets one of the cgroup and hook keys from its text (INI) or
// its string value (TOML); the caller wraps the error with the position.
func setCgroupKey(p *Program, key, v string) error {
	var err error
	switch key {
	case "memory_max":
		p.MemoryMax, err = ParseMemoryMax(v)
	case "cpu_max":
		p.CPUMax, err = ParseCPUMax(v)
	case "pids_max":
		p.PidsMax, err = ParsePidsMax(v)
	case "hook_timeout":
		p.Hooks.Timeout, err = ParseDuration(v)
		if err == nil && p.Hooks.Timeout <= 0 {
			err = fmt.Errorf("must be > 0, not %q", v)
		}
	case "pre_start", "post_stop", "stop_command":
		var argv []string
		if argv, err = SplitCommand(v); err == nil && len(argv) == 0 {
			err = fmt.Errorf("empty command")
		}
		switch key {
		case "pre_start":
			p.Hooks.PreStart = argv
		case "post_stop":
			p.Hooks.PostStop = argv
		default:
			p.Hooks.StopCommand = argv
		}
	}
	return err
}

func iniCgroupKey(s *iniSection, p *Program, key, v string) error {
	if err := setCgroupKey(p, key, v); err != nil {
		return s.err(key, err)
	}
	return nil
}

func (s tsec) cgroupKey(p *Program, key string, v any) error {
	switch x := v.(type) {
	case string:
		if err := setCgroupKey(p, key, x); err != nil {
			return s.err(err, key)
		}
		return nil
	case int64:
		if key == "pids_max" || key == "memory_max" || key == "hook_timeout" {
			if err := setCgroupKey(p, key, strconv.FormatInt(x, 10)); err != nil {
				return s.err(err, key)
			}
			return nil
		}
	case []any:
		if key == "pre_start" || key == "post_stop" || key == "stop_command" {
			var argv []string
			for _, e := range x {
				w, ok := e.(string)
				if !ok {
					return s.wrongType(e, "a string or an array of strings", key)
				}
				argv = append(argv, w)
			}
			if len(argv) == 0 {
				return s.err(fmt.Errorf("empty command"), key)
			}
			switch key {
			case "pre_start":
				p.Hooks.PreStart = argv
			case "post_stop":
				p.Hooks.PostStop = argv
			default:
				p.Hooks.StopCommand = argv
			}
			return nil
		}
	}
	want := "a string"
	switch key {
	case "pre_start", "post_stop", "stop_command":
		want = "a string or an array of strings"
	case "pids_max", "memory_max":
		want = `"max" or an integer`
	case "hook_timeout":
		want = `a duration such as "30s"`
	}
	return s.wrongType(v, want, key)
}
