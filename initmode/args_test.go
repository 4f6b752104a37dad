package initmode

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseReadsTinyFlagsAndStopsAtCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want Options
	}{
		{[]string{"--", "sleep", "1"}, Options{Command: []string{"sleep", "1"}}},
		{[]string{"sleep", "-g"}, Options{Command: []string{"sleep", "-g"}}},
		{[]string{"-g", "-s", "-w", "-v", "cmd"}, Options{Group: true, Subreaper: true, WarnOnReap: true, Verbose: true, Command: []string{"cmd"}}},
		{[]string{"-gwv", "--", "cmd", "--", "x"}, Options{Group: true, WarnOnReap: true, Verbose: true, Command: []string{"cmd", "--", "x"}}},
		{[]string{"--pgroup", "--subreaper=false", "--warn-on-reap", "--verbose", "cmd"}, Options{Group: true, WarnOnReap: true, Verbose: true, Command: []string{"cmd"}}},
		{[]string{"-e", "3", "-e143", "--remap-exit", "4", "--remap-exit=5,6", "-ge", "7", "cmd"}, Options{Group: true, RemapExit: []int{3, 143, 4, 5, 6, 7}, Command: []string{"cmd"}}},
		{[]string{"-c", "f.toml", "--exit-on", "a", "--exit-on=b"}, Options{Config: "f.toml", ExitOn: []string{"a", "b"}}},
		{[]string{"--config=f.ini", "-v"}, Options{Config: "f.ini", Verbose: true}},
		{[]string{"-cf.ini"}, Options{Config: "f.ini"}},
	} {
		got, err := Parse(c.args)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", c.args, got, err, c.want)
		}
	}
}

func TestParseRefusesBadLines(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{nil, "init: give a command to run, or --config FILE"},
		{[]string{"-g", "--"}, "init: give a command to run, or --config FILE"},
		{[]string{"-c", "f", "cmd"}, "init: give a command or --config, not both"},
		{[]string{"--exit-on", "x", "cmd"}, "init: --exit-on needs --config"},
		{[]string{"-c", "f", "-g"}, "init: -g and -e apply to a command, not to --config"},
		{[]string{"-e", "300", "cmd"}, "init: -e takes an exit code from 0 to 255"},
		{[]string{"-e", "x", "cmd"}, `init: -e "x": want an exit code from 0 to 255`},
		{[]string{"-x", "cmd"}, `init: unknown shorthand flag: "x" in -x`},
		{[]string{"--nope", "cmd"}, "init: unknown flag: --nope"},
		{[]string{"--g", "cmd"}, "init: unknown flag: --g"},
		{[]string{"--pgroup=maybe", "cmd"}, "init: --pgroup=maybe: want true or false"},
		{[]string{"-e"}, "init: flag needs an argument: -e"},
		{[]string{"--config"}, "init: flag needs an argument: --config"},
	} {
		_, err := Parse(c.args)
		var ue *UsageError
		if !errors.As(err, &ue) || err.Error() != c.msg {
			t.Errorf("Parse(%q): %v, want usage error %q", c.args, err, c.msg)
		}
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-g", "-h", "cmd"}} {
		if _, err := Parse(args); err != ErrHelp {
			t.Errorf("Parse(%q): %v, want ErrHelp", args, err)
		}
	}
}
