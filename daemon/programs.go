package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/corralhq/corral/config"
)

// ProgramConfig returns the configuration of every program, sorted by name.
func (d *Daemon) ProgramConfig() []config.Program {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]config.Program, 0, len(d.programs))
	for _, p := range d.programs {
		out = append(out, *p.cfg)
	}
	slices.SortFunc(out, func(a, b config.Program) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// AddProgram adds a program at run time, records it so it survives a daemon
// restart, and starts it when Autostart is set.
func (d *Daemon) AddProgram(ctx context.Context, p config.Program) ([]Result, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if err := d.addProgram(&p, true); err != nil {
		return nil, err
	}
	if err := d.store.PutProgram(p.Name, raw); err != nil {
		// Not durable, not added: a program that a restart would lose must
		// not look added now.
		d.mu.Lock()
		if prog, ok := d.programs[p.Name]; ok {
			d.unregister(prog)
		}
		d.mu.Unlock()
		d.log.Error("state: cannot record added program; not added", "program", p.Name, "err", err)
		return nil, fmt.Errorf("%w: program %q not added: %v", ErrNotSaved, p.Name, err)
	}
	d.log.Info("program added", "program", p.Name)
	if !p.Autostart {
		return nil, nil
	}
	return d.startNames(ctx, d.namesOf(p.Name), false)
}

func (d *Daemon) namesOf(program string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	if p, ok := d.programs[program]; ok {
		for _, pr := range p.procs {
			out = append(out, pr.name)
		}
	}
	return out
}

// RemoveProgram stops a program's processes, waits, and forgets it. A
// program from the config file comes back at the next reload. The removal
// is written to the state store first: if that fails nothing is removed.
// Once under way it completes, whether or not the caller waits (ctx).
func (d *Daemon) RemoveProgram(ctx context.Context, name string) error {
	d.mu.Lock()
	p, ok := d.programs[name]
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrNoSuchProgram, name)
	}
	names := d.namesOf(name)
	if err := d.store.ForgetProgram(name, p.runtime, names); err != nil {
		d.log.Error("state: cannot forget program; not removed", "program", name, "err", err)
		return fmt.Errorf("%w: program %q not removed: %v", ErrNotSaved, name, err)
	}
	_, _ = d.stopWait(context.WithoutCancel(ctx), names, false)
	d.mu.Lock()
	if d.programs[name] == p {
		d.unregister(p)
	}
	d.mu.Unlock()
	d.log.Info("program removed", "program", name)
	return nil
}

// Diff is what a configuration reload changes, by program name.
type Diff struct {
	Added   []string `json:"added"`
	Changed []string `json:"changed"`
	Removed []string `json:"removed"`
}

// Empty reports whether the diff changes nothing.
func (df Diff) Empty() bool { return len(df.Added)+len(df.Changed)+len(df.Removed) == 0 }

// Reread reads the configuration file again and returns what differs from
// what runs, without applying it (supervisorctl reread).
func (d *Daemon) Reread() (Diff, *config.Config, error) {
	d.mu.Lock()
	file := d.cfg.File
	d.mu.Unlock()
	cfg, err := config.Load(file)
	if err != nil {
		return Diff{}, nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var df Diff
	fromFile := map[string]bool{}
	for _, p := range cfg.Programs {
		fromFile[p.Name] = true
		cur, ok := d.programs[p.Name]
		switch {
		case !ok:
			df.Added = append(df.Added, p.Name)
		case cur.runtime || !sameProgram(*cur.cfg, p):
			df.Changed = append(df.Changed, p.Name)
		}
	}
	for name, p := range d.programs {
		if !p.runtime && !fromFile[name] {
			df.Removed = append(df.Removed, name)
		}
	}
	slices.Sort(df.Added)
	slices.Sort(df.Changed)
	slices.Sort(df.Removed)
	return df, cfg, nil
}

func sameProgram(a, b config.Program) bool {
	a.Source, b.Source = config.Position{}, config.Position{}
	return reflect.DeepEqual(a, b)
}

// Reload applies the configuration file as a diff: added programs start,
// removed ones stop and go, changed ones restart with the new definition,
// and the others keep running untouched (same pids). With only set, just
// those program names are applied (supervisorctl update NAME).
//
// Reloads run one at a time: one that arrives during another waits, then
// reads the file as it is then. Once under way a reload completes, whether
// or not the caller waits (ctx).
func (d *Daemon) Reload(ctx context.Context, only ...string) (Diff, error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	ctx = context.WithoutCancel(ctx)
	df, cfg, err := d.Reread()
	if err != nil {
		return Diff{}, err
	}
	keep := func(name string) bool { return len(only) == 0 || slices.Contains(only, name) }
	progs := cfg.ProgramsByName() // not cfg.Program per name: 10,000 added would take 10,000 walks
	if err := d.checkReloadBudget(df, cfg, progs, keep); err != nil {
		return Diff{}, err
	}
	var applied Diff
	for _, name := range df.Removed {
		if keep(name) {
			if err := d.RemoveProgram(ctx, name); err != nil {
				return applied, err
			}
			applied.Removed = append(applied.Removed, name)
		}
	}
	for _, name := range df.Changed {
		if keep(name) {
			if err := d.RemoveProgram(ctx, name); err != nil {
				return applied, err
			}
			_ = d.store.DeleteProgram(name)
			if err := d.addAndStart(ctx, progs[name]); err != nil {
				return applied, err
			}
			applied.Changed = append(applied.Changed, name)
		}
	}
	for _, name := range df.Added {
		if keep(name) {
			if err := d.addAndStart(ctx, progs[name]); err != nil {
				return applied, err
			}
			applied.Added = append(applied.Added, name)
		}
	}
	d.mu.Lock()
	d.cfg.Programs = cfg.Programs
	d.cfg.Groups = cfg.Groups
	d.cfg.Warnings = cfg.Warnings
	d.repointPrograms()
	d.mu.Unlock()
	d.log.Info("configuration reloaded", "added", applied.Added, "changed", applied.Changed, "removed", applied.Removed)
	return applied, nil
}

func (d *Daemon) addAndStart(ctx context.Context, p *config.Program) error {
	if err := d.addProgram(p, false); err != nil {
		return err
	}
	if p.Autostart {
		_, _ = d.startNames(ctx, d.namesOf(p.Name), false)
	}
	return nil
}
