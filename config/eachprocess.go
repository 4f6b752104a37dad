package config

import (
	"slices"
	"strings"
)

// EachProcess yields the processes of p, the same as Processes returns,
// one at a time. A program of one process with nothing left to expand (no
// "%" in its process name, command, directory, environment or log file
// names: the usual case once the configuration is read) yields a process
// whose Program shares p's Command and Environment, neither copied nor
// expanded: the caller must not write them. A daemon registering 10,000
// programs then makes no garbage of a full Program copy (and a host name
// lookup) per program.
func (p Program) EachProcess(yield func(Process) bool) {
	if max(p.NumProcs, 1) > 1 || p.expands() {
		for _, cp := range p.Processes() {
			if !yield(cp) {
				return
			}
		}
		return
	}
	yield(Process{Name: p.ProcessName, Num: p.NumProcsStart, Program: p})
}

// expands reports whether Processes would substitute anything in p.
func (p *Program) expands() bool {
	has := func(s string) bool { return strings.Contains(s, "%") }
	return has(p.ProcessName) || has(p.Directory) || has(p.Stdout.File) || has(p.Stderr.File) ||
		slices.ContainsFunc(p.Command, has) || slices.ContainsFunc(p.Environment, has)
}
