package daemon

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/corralhq/corral/cgroup"
	"github.com/corralhq/corral/config"
)

// cgroups is the daemon's cgroup v2 subtree: <base>/corral.<run id>, with
// one directory per program and, below it, one leaf per process, where the
// monitor spawns it. base is the daemon's own cgroup (or its parent when
// the daemon moved itself into the leaf daemonLeaf). The zero value (root
// "") means the daemon could not make one: it then falls back to process
// groups and the records of the store.
type cgroups struct {
	base string // where each run's subtree goes
	root string // this run's subtree
	// controllers enabled for each program's directory (limits and
	// memory.current need them).
	controllers []string
}

// daemonLeaf is the cgroup, under base, a daemon moves itself into when it
// must enable controllers in base (a cgroup with processes may not have
// controllers enabled for its children).
const daemonLeaf = "corral.daemon"

// cgroupTimeout bounds each wait for a killed cgroup to empty.
const cgroupTimeout = 10 * time.Second

// setupCgroups finds where this run's subtree goes and makes it, or says
// once why the daemon runs without cgroups.
func (d *Daemon) setupCgroups() {
	if os.Getenv("CORRAL_NO_CGROUPS") != "" {
		d.log.Warn("cgroups: off (CORRAL_NO_CGROUPS is set); a program's processes that leave its process group (setsid, double fork, container runtimes) are not tracked and may outlive a stop")
		return
	}
	if u := d.cfg.Daemon.User; u != "" && !isRoot(u) && os.Geteuid() == 0 {
		d.log.Info("cgroups: off: the daemon drops its privileges to "+u+" ([supervisord] user), and then cannot place processes in cgroups it does not own; a program's processes that leave its process group are not tracked", "user", u)
		return
	}
	own, mount, err := cgroup.Own()
	if err == nil {
		d.cg.base = own
		if filepath.Base(own) == daemonLeaf {
			d.cg.base = filepath.Dir(own)
		}
		root := filepath.Join(d.cg.base, "corral."+d.runID)
		if err = cgroup.Make(root); err == nil {
			d.cg.root = root
			d.enableControllers(own, mount)
			d.log.Info("cgroups: each process runs in its own cgroup", "cgroup", root, "controllers", strings.Join(d.cg.controllers, " "))
			return
		}
	}
	d.cg = cgroups{}
	d.log.Warn("cgroups: not available, so a program's processes that leave its process group (setsid, double fork, container runtimes) are not tracked: a stop kills the process group, and a shutdown kills every orphan the daemon adopted; run as root or in a delegated cgroup v2 subtree for full tracking", "err", err)
}

// enableControllers enables, best effort, the cpu, memory and pids
// controllers down to each program's directory, moving the daemon into a
// leaf of base when base holds it (the "no internal processes" rule).
func (d *Daemon) enableControllers(own, mount string) {
	avail, err := cgroup.Controllers(d.cg.base)
	if err != nil {
		return
	}
	var want []string
	for _, c := range []string{"cpu", "memory", "pids"} {
		if slices.Contains(avail, c) {
			want = append(want, c)
		}
	}
	if len(want) == 0 {
		return
	}
	if own == d.cg.base && own != mount {
		leaf := filepath.Join(d.cg.base, daemonLeaf)
		err := cgroup.Make(leaf)
		if err == nil {
			err = cgroup.MoveSelf(leaf)
		}
		if err != nil {
			d.log.Warn("cgroups: cannot move the daemon into a leaf of its cgroup, so no limits (memory_max, cpu_max, pids_max) can be set", "err", err)
			return
		}
	}
	if err := cgroup.Enable(d.cg.base, want...); err != nil {
		d.log.Warn("cgroups: no limits (memory_max, cpu_max, pids_max) can be set", "err", err)
		return
	}
	if err := cgroup.Enable(d.cg.root, want...); err != nil {
		d.log.Warn("cgroups: no limits (memory_max, cpu_max, pids_max) can be set", "err", err)
		return
	}
	d.cg.controllers = want
}

// programCgroup is the directory of a program, "" without cgroups.
func (d *Daemon) programCgroup(program string) string {
	if d.cg.root == "" {
		return ""
	}
	return filepath.Join(d.cg.root, cgroupName(program))
}

// processCgroup is the leaf of one process of a program.
func (d *Daemon) processCgroup(program, process string) string {
	if d.cg.root == "" {
		return ""
	}
	return filepath.Join(d.cg.root, cgroupName(program), cgroupName(process))
}

// cgroupName makes a program or process name a directory name that cannot
// be a cgroup's control file (those all hold a dot after a controller
// name, as do names the daemon gives: a leading "p." keeps them apart).
func cgroupName(name string) string {
	return "p." + strings.ReplaceAll(name, "/", "_")
}

// limitChecks reports whether the program sets a limit this daemon cannot
// apply, naming the program and the key.
func (d *Daemon) checkLimits(p config.Program) error {
	for _, l := range limitsOf(p) {
		if l.value == "" {
			continue
		}
		if d.cg.root == "" {
			return fmt.Errorf("program %q: %s = %q needs cgroups, which this daemon has not (see the log at its start)", p.Name, l.key, l.value)
		}
		if !slices.Contains(d.cg.controllers, l.controller) {
			return fmt.Errorf("program %q: %s = %q needs the %s controller, which is not enabled in %s (available: %q)", p.Name, l.key, l.value, l.controller, d.cg.base, strings.Join(d.cg.controllers, " "))
		}
	}
	return nil
}

type limit struct{ key, controller, file, value string }

func limitsOf(p config.Program) []limit {
	return []limit{
		{"memory_max", "memory", "memory.max", p.MemoryMax},
		{"cpu_max", "cpu", "cpu.max", p.CPUMax},
		{"pids_max", "pids", "pids.max", p.PidsMax},
	}
}

// makeProgramCgroup makes a program's directory, enables the controllers
// for its leaves and writes its limits.
func (d *Daemon) makeProgramCgroup(p config.Program) error {
	dir := d.programCgroup(p.Name)
	if dir == "" {
		return nil
	}
	if err := cgroup.Make(dir); err != nil {
		return fmt.Errorf("program %q: %w", p.Name, err)
	}
	if len(d.cg.controllers) > 0 {
		if err := cgroup.Enable(dir, d.cg.controllers...); err != nil {
			d.log.Warn("cgroups: cannot enable controllers for the processes of a program", "program", p.Name, "err", err)
		}
	}
	for _, l := range limitsOf(p) {
		v := l.value
		if v == "" {
			if !slices.Contains(d.cg.controllers, l.controller) {
				continue
			}
			v = "max" // a reload that drops a limit lifts it
		}
		if err := cgroup.Set(dir, l.file, v); err != nil {
			return fmt.Errorf("program %q: %s: %w", p.Name, l.key, err)
		}
	}
	return nil
}

// removeProgramCgroup kills what is left in a program's directory (its
// processes are stopped already) and removes it.
func (d *Daemon) removeProgramCgroup(name string) {
	dir := d.programCgroup(name)
	if dir == "" {
		return
	}
	if err := cgroup.KillAndRemove(dir, cgroupTimeout); err != nil {
		d.log.Error("cgroups: cannot clean up the cgroup of a removed program", "program", name, "err", err)
	}
}

// removeCgroups ends this run's subtree at shutdown: whatever is still in
// it (a process that outlived its stop, a kept group) is killed, and the
// daemon waits until it is empty before removing it.
func (d *Daemon) removeCgroups() {
	if d.cg.root == "" {
		return
	}
	if pids, _ := cgroup.Procs(d.cg.root); len(pids) > 0 {
		d.log.Warn("shutdown: killing processes left in the programs' cgroups", "count", len(pids), "pids", pids)
	}
	if err := cgroup.KillAndRemove(d.cg.root, cgroupTimeout); err != nil {
		d.log.Error("shutdown: cgroups not removed", "err", err)
	}
}

// reclaimCgroups kills everything in the subtree of the previous run
// (token) and removes it. Membership is exact: nothing outside it is
// touched, whatever pids were reused.
func (d *Daemon) reclaimCgroups(token string) []int {
	if d.cg.base == "" || token == "" || strings.ContainsAny(token, "/.") {
		return nil
	}
	dir := filepath.Join(d.cg.base, "corral."+token)
	pids, _ := cgroup.Procs(dir) // none when the previous run had no cgroups
	if len(pids) > 0 {
		progs, _ := os.ReadDir(dir)
		for _, pd := range progs {
			name, ok := strings.CutPrefix(pd.Name(), "p.")
			if !ok || !pd.IsDir() {
				continue
			}
			in, _ := cgroup.Procs(filepath.Join(dir, pd.Name()))
			for _, pid := range in {
				d.log.Warn("killing a process left by a previous daemon", "program", name, "pid", pid, "cgroup", dir)
			}
		}
	}
	if err := cgroup.KillAndRemove(dir, cgroupTimeout); err != nil {
		d.log.Error("cannot clean up the cgroups a previous daemon left", "cgroup", dir, "err", err)
	}
	return pids
}

// isRoot reports whether name (a user name or a uid) is root.
func isRoot(name string) bool {
	if name == "0" || name == "root" {
		return true
	}
	u, err := user.Lookup(name)
	return err == nil && u.Uid == "0"
}
