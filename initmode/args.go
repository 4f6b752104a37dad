package initmode

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrHelp is returned by Parse when the command line asks for help
// (-h, --help): print Help and Flags and exit 0.
var ErrHelp = errors.New("init: help requested")

// Flags lists corral init's flags, for its help.
const Flags = `Flags:
  -c, --config FILE        supervise the programs of this TOML or supervisord INI file
      --exit-on NAME       with --config: exit with this program's code when it exits or
                           goes FATAL, after stopping the others (repeatable)
  -e, --remap-exit CODE    report this exit code of the child as 0 (repeatable; tini -e)
  -g, --pgroup             forward signals to the child's process group, not just the
                           child (tini -g)
  -h, --help               print this help
  -s, --subreaper          be a child subreaper (always on outside PID 1; accepted for
                           tini -s)
  -v, --verbose            log what init does
  -w, --warn-on-reap       log every orphan reaped (tini -w)
`

// A UsageError is a bad command line: corral init exits 2 with it.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return "init: " + e.Msg }

func usage(format string, a ...any) error { return &UsageError{fmt.Sprintf(format, a...)} }

// Parse reads corral init's command line (what follows "init"): flags, then
// CMD and its arguments. Flags end at CMD or at "--", as with tini, so
// everything after CMD is CMD's. Short flags combine (-gw, -e143), long ones
// take "--flag VALUE" or "--flag=VALUE", -e takes a comma-separated list too.
// It returns ErrHelp for -h/--help and a *UsageError for a bad line.
func Parse(args []string) (Options, error) {
	var o Options
	bools := map[string]*bool{
		"g": &o.Group, "pgroup": &o.Group,
		"s": &o.Subreaper, "subreaper": &o.Subreaper,
		"w": &o.WarnOnReap, "warn-on-reap": &o.WarnOnReap,
		"v": &o.Verbose, "verbose": &o.Verbose,
	}
	values := map[string]func(string) error{
		"c": func(v string) error { o.Config = v; return nil },
		"e": func(v string) error {
			for _, s := range strings.Split(v, ",") {
				c, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil {
					return usage("-e %q: want an exit code from 0 to 255", v)
				}
				o.RemapExit = append(o.RemapExit, c)
			}
			return nil
		},
		"exit-on": func(v string) error { o.ExitOn = append(o.ExitOn, v); return nil },
	}
	values["config"], values["remap-exit"] = values["c"], values["e"]

	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break // CMD
		}
		if strings.HasPrefix(a, "--") {
			name, val, hasVal := strings.Cut(a[2:], "=")
			if name == "help" {
				return Options{}, ErrHelp
			}
			if b, ok := bools[name]; ok && len(name) > 1 {
				if !hasVal {
					*b = true
					continue
				}
				v, err := strconv.ParseBool(val)
				if err != nil {
					return Options{}, usage("--%s=%s: want true or false", name, val)
				}
				*b = v
				continue
			}
			set, ok := values[name]
			if !ok || len(name) == 1 {
				return Options{}, usage("unknown flag: --%s", name)
			}
			if !hasVal {
				if i+1 >= len(args) {
					return Options{}, usage("flag needs an argument: --%s", name)
				}
				i++
				val = args[i]
			}
			if err := set(val); err != nil {
				return Options{}, err
			}
			continue
		}
		// One or more short flags: -g, -gw, -e 3, -e3, -gwe 3.
		for j := 1; j < len(a); j++ {
			name := a[j : j+1]
			if name == "h" {
				return Options{}, ErrHelp
			}
			if b, ok := bools[name]; ok {
				*b = true
				continue
			}
			set, ok := values[name]
			if !ok {
				return Options{}, usage("unknown shorthand flag: %q in %s", name, a)
			}
			val := a[j+1:]
			if val == "" {
				if i+1 >= len(args) {
					return Options{}, usage("flag needs an argument: -%s", name)
				}
				i++
				val = args[i]
			}
			if err := set(val); err != nil {
				return Options{}, err
			}
			break
		}
	}
	o.Command = args[i:]
	if len(o.Command) == 0 {
		o.Command = nil
	}
	return o, check(o)
}

// check refuses contradictory options.
func check(o Options) error {
	switch {
	case o.Config == "" && len(o.Command) == 0:
		return usage("give a command to run, or --config FILE")
	case o.Config != "" && len(o.Command) > 0:
		return usage("give a command or --config, not both")
	case o.Config == "" && len(o.ExitOn) > 0:
		return usage("--exit-on needs --config")
	case o.Config != "" && (o.Group || len(o.RemapExit) > 0):
		return usage("-g and -e apply to a command, not to --config")
	}
	for _, c := range o.RemapExit {
		if c < 0 || c > 255 {
			return usage("-e takes an exit code from 0 to 255")
		}
	}
	return nil
}
