package daemon

import "github.com/corralhq/corral/config"

// repointPrograms makes the programs of the configuration file share the
// definitions of d.cfg after a reload replaced it: a program whose
// definition did not change points to the new configuration's (equal but
// for its position in the file), and one that differs from it or is no
// longer in it (a reload of some programs only left it as it was) gets its
// own copy. No program then points into an older configuration, which can
// go: the daemon holds one definition per program, however many reloads
// ran. Programs added at run time have their own already. Caller holds
// d.mu.
func (d *Daemon) repointPrograms() {
	byName := make(map[string]*config.Program, len(d.cfg.Programs))
	for i := range d.cfg.Programs {
		byName[d.cfg.Programs[i].Name] = &d.cfg.Programs[i]
	}
	for name, prog := range d.programs {
		if prog.runtime {
			continue
		}
		if p := byName[name]; p != nil && (p == prog.cfg || sameProgram(*prog.cfg, *p)) {
			prog.cfg = p
			continue
		}
		own := *prog.cfg
		prog.cfg = &own
	}
}
