package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// expander substitutes Python %-style names, as supervisord does with
// "%(program_name)s" and "%(process_num)02d".
//
// In strict mode (INI files) it follows Python: "%%" is a literal "%", an
// unknown name or a lone "%" is an error. Names in keep are checked but left
// in place, for a later per-process pass. Outside strict mode (TOML, and
// the per-process pass) only known names are replaced and every other "%"
// stays as written, so commands such as `date +%s` need no escaping.
type expander struct {
	vars   map[string]any // string or int values
	strict bool
	keep   map[string]bool
	// lazyHost: host_node_name is the host name, read at its first use
	// (a read of /proc per expander that needs none costs a start of
	// thousands of programs a few milliseconds).
	lazyHost bool
}

func (e *expander) expand(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if e.strict && i+1 < len(s) && s[i+1] == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		name, spec, n, ok := scanRef(s[i:])
		if !ok {
			if e.strict {
				return "", fmt.Errorf("bad format at %q: write %%(name)s to expand a name or %%%% for a literal %%", clip(s[i:]))
			}
			b.WriteByte(c)
			continue
		}
		v, known := e.vars[name]
		if !known && name == "host_node_name" && e.lazyHost {
			host, _ := os.Hostname()
			e.vars[name], v, known = host, host, true
		}
		if e.keep[name] {
			if _, err := format(spec, 0); err != nil {
				return "", err
			}
			b.WriteString(s[i : i+n])
			i += n - 1
			continue
		}
		if !known {
			if e.strict {
				if env, ok := strings.CutPrefix(name, "ENV_"); ok {
					return "", fmt.Errorf("%%(%s) cannot be expanded: environment variable %s is not set", name, env)
				}
				return "", fmt.Errorf("%%(%s) cannot be expanded: no such name (use %%(ENV_%s)s for an environment variable)", name, name)
			}
			b.WriteByte(c)
			continue
		}
		out, err := format(spec, v)
		if err != nil {
			if !e.strict {
				b.WriteByte(c)
				continue
			}
			return "", fmt.Errorf("%%(%s)%s: %w", name, spec, err)
		}
		b.WriteString(out)
		i += n - 1
	}
	return b.String(), nil
}

func clip(s string) string {
	if len(s) > 12 {
		return s[:12] + "..."
	}
	return s
}

// scanRef reads "%(name)spec" at the start of s, where spec is Python's
// [flags][width][.precision]conversion. n is the length consumed.
func scanRef(s string) (name, spec string, n int, ok bool) {
	if len(s) < 2 || s[1] != '(' {
		return "", "", 0, false
	}
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return "", "", 0, false
	}
	name = s[2:end]
	j := end + 1
	for j < len(s) && strings.IndexByte("-+ #0", s[j]) >= 0 {
		j++
	}
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
	}
	if j >= len(s) {
		return "", "", 0, false
	}
	return name, s[end+1 : j+1], j + 1, true
}

// format renders v with a Python conversion spec such as "s", "02d" or "-5s".
func format(spec string, v any) (string, error) {
	conv := spec[len(spec)-1]
	mods := spec[:len(spec)-1]
	if len(mods) > 8 {
		return "", fmt.Errorf("format %q is too wide", spec)
	}
	if w := strings.TrimLeft(mods, "-+ #0"); w != "" {
		if n, err := strconv.Atoi(strings.SplitN(w, ".", 2)[0]); err == nil && n > 1000 {
			return "", fmt.Errorf("format %q is too wide", spec)
		}
	}
	switch conv {
	case 's':
		var str string
		switch x := v.(type) {
		case string:
			str = x
		case int:
			str = strconv.Itoa(x)
		}
		return fmt.Sprintf("%"+mods+"s", str), nil
	case 'd', 'i', 'u', 'x', 'X', 'o':
		n, ok := v.(int)
		if !ok {
			return "", fmt.Errorf("%%%c format needs a number, not the string %q", conv, v)
		}
		if conv == 'i' || conv == 'u' {
			conv = 'd'
		}
		return fmt.Sprintf("%"+mods+string(conv), n), nil
	}
	return "", fmt.Errorf("unsupported format character %q", conv)
}
