package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
)

// Limits of a program body: a program table nests three levels deep
// (program, backoff or stdout, an array), so maxDepth leaves room; a
// document nested deeper is refused before it is decoded.
const (
	maxProgramBody = 256 << 10
	maxDepth       = 8
)

// ParseProgram reads the body of POST /v1/programs: a JSON object with a
// "name" and the keys of a TOML [program.NAME] table. Its values are
// decoded straight into the types a TOML table holds and handed to
// config.ProgramFromTable, so defaults, checks and error wording are those
// of a configuration file; errors name the program and the field at fault:
//
//	bad request: program "web": key "stop_signal": unknown signal "TERMX"
//
// A body over 256 KiB or nested deeper than 8 levels is refused before it
// is decoded. Relative paths are refused: the daemon cannot know the
// caller's directory.
func ParseProgram(body []byte) (config.Program, error) {
	bad := func(format string, args ...any) (config.Program, error) {
		return config.Program{}, fmt.Errorf("%w: %s", daemon.ErrBadRequest, fmt.Sprintf(format, args...))
	}
	if len(body) > maxProgramBody {
		return bad("request body: %d bytes, more than the %d a program may take", len(body), maxProgramBody)
	}
	if err := checkDepth(body, maxDepth); err != nil {
		return bad("request body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return bad("request body: want a JSON object with the keys of a program table: %v", err)
	}
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return bad("request body: %q after the JSON value", truncate(rest))
	}
	if fields == nil {
		return bad("request body: want a JSON object with the keys of a program table")
	}
	name, ok := fields["name"].(string)
	if !ok || name == "" {
		return bad(`missing "name" (a string)`)
	}
	delete(fields, "name")
	table, err := tomlValue(fields, "")
	if err != nil {
		return bad("program %q: %v", name, err)
	}
	p, err := config.ProgramFromTable(name, table.(map[string]any))
	if err != nil {
		return config.Program{}, fmt.Errorf("%w: %v", daemon.ErrBadRequest, err)
	}
	for _, key := range []string{"directory", "stdout.file", "stderr.file"} {
		if raw, ok := lookup(fields, key); ok && raw != "" && !strings.HasPrefix(raw, "/") && !strings.EqualFold(raw, config.LogAuto) && !strings.EqualFold(raw, "NONE") {
			return bad("program %q: key %q: %q is a relative path; give an absolute one", name, key, raw)
		}
	}
	return p, nil
}

// checkDepth refuses JSON whose arrays and objects nest deeper than max,
// in one pass over the bytes and without allocating: encoding/json (v1)
// has no depth option, and its own limit (10,000) lets a 60 KB body cost
// seconds downstream. Invalid JSON passes; the decoder reports it.
func checkDepth(data []byte, max int) error {
	depth := 0
	inString, escaped := false, false
	for i, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > max {
				return fmt.Errorf("JSON nested deeper than %d levels (at byte %d)", max, i)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// lookup returns a dotted key's string value in the request's fields.
func lookup(fields map[string]any, key string) (string, bool) {
	var v any = fields
	for _, part := range strings.Split(key, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		v = m[part]
	}
	s, ok := v.(string)
	return s, ok
}

// tomlValue turns decoded JSON into values the TOML encoder writes with the
// types config expects: integers as int64, other numbers as float64.
func tomlValue(v any, key string) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("key %q: %v", key, err)
		}
		return f, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if e == nil {
				continue // null: the default
			}
			sub := k
			if key != "" {
				sub = key + "." + k
			}
			val, err := tomlValue(e, sub)
			if err != nil {
				return nil, err
			}
			out[k] = val
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if e == nil {
				return nil, fmt.Errorf("key %q: null in an array", key)
			}
			val, err := tomlValue(e, key)
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	}
	return v, nil
}

// ProgramFields describes a program with the keys of a TOML program table
// plus "name", and "group" and "source" for information; without those two
// ParseProgram accepts it back.
func ProgramFields(p config.Program) map[string]any {
	restart := string(p.Restart)
	if p.RestartLimit > 0 {
		restart += ":" + strconv.Itoa(p.RestartLimit)
	}
	env := map[string]any{}
	for _, kv := range p.Environment {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	logSpec := func(l config.LogSpec, stderr bool) map[string]any {
		file := l.File
		if file == "" {
			file = "NONE"
		}
		m := map[string]any{"file": file, "max_bytes": l.MaxBytes, "backups": l.Backups}
		if stderr {
			m["redirect"] = l.Redirect
		}
		return m
	}
	out := map[string]any{
		"name":           p.Name,
		"command":        p.Command,
		"process_name":   p.ProcessName,
		"numprocs":       p.NumProcs,
		"numprocs_start": p.NumProcsStart,
		"autostart":      p.Autostart,
		"restart":        restart,
		"exit_codes":     p.ExitCodes,
		"start_secs":     p.StartPeriod.String(),
		"start_retries":  p.StartRetries,
		"backoff": map[string]any{
			"initial": p.Backoff.Initial.String(), "max": p.Backoff.Max.String(),
			"factor": p.Backoff.Factor, "reset_after": p.Backoff.ResetAfter.String(),
		},
		"fatal_retry":   p.FatalRetry.String(),
		"stop_signal":   config.SignalName(p.StopSignal),
		"stop_timeout":  p.StopTimeout.String(),
		"stop_as_group": p.StopAsGroup,
		"kill_as_group": p.KillAsGroup,
		"priority":      p.Priority,
		"stdout":        logSpec(p.Stdout, false),
		"stderr":        logSpec(p.Stderr, true),
		"group":         p.Group,
	}
	if len(env) > 0 {
		out["environment"] = env
	}
	if p.Directory != "" {
		out["directory"] = p.Directory
	}
	if p.User != "" {
		out["user"] = p.User
	}
	if p.Umask != nil {
		out["umask"] = fmt.Sprintf("%03o", *p.Umask)
	}
	if p.Health != nil {
		out["health"] = healthFields(p.Health)
	}
	if p.Source.File != "" {
		out["source"] = p.Source.String()
	}
	config.AddReadinessFields(p, out)
	return out
}
