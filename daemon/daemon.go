package daemon

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/handoff"
	"github.com/corralhq/corral/logs"
	"github.com/corralhq/corral/monitor"
	"github.com/corralhq/corral/store"
)

// Version is corral's version, reported by the API.
var Version = "0.1.0-dev"

// Errors that the API maps to 4xx statuses.
var (
	ErrNoSuchProcess = errors.New("no such process")
	ErrNoSuchProgram = errors.New("no such program")
	ErrProgramExists = errors.New("program already exists")
	ErrBadRequest    = errors.New("bad request")
	ErrShuttingDown  = errors.New("daemon is shutting down")
)

// ErrNotSaved is returned (wrapped) when a change could not be written to
// the state store, so a daemon restart would not remember it. The API
// answers it with a 5xx status and the CLI exits 1.
var ErrNotSaved = errors.New("not saved to the state file")

// Options configure a Daemon.
type Options struct {
	// Logger receives the daemon's log; nil means slog.Default().
	Logger *slog.Logger
	// Monitor options; Subreaper is forced on.
	Monitor monitor.Options
	// Limits are the resource limits the programs must fit in (see
	// ComputeBudget); nil reads them from the system (SystemLimits).
	Limits *Limits
	// Listeners is the number of HTTP listeners the caller serves the API
	// on, counted in the descriptor budget.
	Listeners int
	// Handoff, when set, is the state a previous image of this process
	// handed over (handoff.FromEnv): the daemon adopts its processes and
	// pipes instead of reclaiming and autostarting (see upgrade.go).
	Handoff *handoff.State
	// Carry, when set, returns the caller's descriptors an upgrade carries
	// into the new image (its listening sockets), and a release function
	// called if the exec fails.
	Carry func() ([]handoff.File, func(), error)
	// HealthWorkers is the number of goroutines running HTTP and TCP
	// health probes (health.DefaultWorkers when 0), whatever the number of
	// programs.
	HealthWorkers int
}

// Daemon supervises the programs of one configuration.
type Daemon struct {
	log     *slog.Logger
	mon     *monitor.Monitor
	capture *logs.Capture
	store   *store.Store
	started time.Time
	metrics *metrics
	quit    chan struct{}
	quitMu  sync.Once
	baseEnv []string // the daemon's environment plus [daemon] environment, shared
	runID   string   // this run's token, in every process's environment (RunEnv)
	cg      cgroups  // this run's cgroup subtree (see cgroup.go)
	// adding, while New registers the configuration's programs, collects
	// their specs for one AddEach; nil otherwise (register adds each).
	adding []monitor.Spec
	// logDirsMade are the log directories made while New opens the
	// programs' streams (one mkdir for all the programs logging there).
	logDirsMade map[string]bool
	pumpEnd     chan struct{}
	opts        Options
	up          upgradeState

	// supervisordLog: the configuration is supervisord's, whose log is
	// its activity log (activitylog.go). Set by New, never changed.
	supervisordLog bool
	// serverURL is SUPERVISOR_SERVER_URL for a supervisord configuration's
	// processes (supervisorenv.go).
	serverURL string

	// reloadMu serializes configuration reloads: each reads the file and
	// applies its diff against what the previous one left.
	reloadMu sync.Mutex

	// mu guards the configuration below. Process state is the monitor's.
	mu       sync.Mutex
	cfg      *config.Config
	programs map[string]*program // by program name
	procs    map[string]*proc    // by full process name
	streams  map[string]*shared  // log streams by file, shared by processes
	closing  bool
	budget   budgetState
	notifier *Notifier // NOTIFY_SOCKET and notification fds (notify.go)

	health healthState
	lis    *listenerState // event listeners (eventlisteners.go); nil without
}

type program struct {
	// cfg is the program's definition, shared with the configuration it
	// came from (an element of d.cfg.Programs) or, for a program added at
	// run time, its own. Never written through: a reload that keeps the
	// program repoints cfg to the new configuration's equal definition
	// (repointPrograms), under d.mu, so read it under d.mu.
	cfg     *config.Program
	runtime bool // added through the API, persisted in the store
	procs   []*proc
	fcgi    *fcgiSocket // an [fcgi-program:x]'s socket, or nil
}

type proc struct {
	name     string
	program  *program
	priority int
	stdout   *logs.Stream
	stderr   *logs.Stream // nil when redirected into stdout
	logErr   string

	mu      sync.Mutex
	drained []<-chan struct{} // the latest spawn's pipes
	stdin   stdinPipe         // the latest spawn's stdin, with stdin = "pipe"
}

// New opens the state store, the log capture and the monitor, re-reads the
// programs added at run time, ends processes a crashed daemon left behind,
// and registers every process. Nothing starts until Start.
func New(cfg *config.Config, opts Options) (*Daemon, error) {
	d := &Daemon{
		log: opts.Logger, cfg: cfg, started: time.Now(),
		programs: map[string]*program{}, procs: map[string]*proc{}, streams: map[string]*shared{},
		quit: make(chan struct{}), pumpEnd: make(chan struct{}), opts: opts,
	}
	d.up.exe, _ = os.Executable()
	d.up.dir, _ = os.Getwd()
	if d.log == nil {
		d.log = slog.Default()
	}
	d.runID = newRunID()
	if h := opts.Handoff; h != nil {
		d.runID, d.started, d.up.adopted = h.RunID, h.Started, h
	}
	d.supervisordLog = cfg.Daemon.Activity != nil
	if d.supervisordLog {
		d.serverURL = serverURL(cfg)
	}
	d.baseEnv = runEnviron(os.Environ(), cfg.Daemon.Environment, d.runID)
	for _, w := range cfg.Warnings {
		d.log.Warn("config: " + w)
	}
	var err error
	if d.budget, err = newBudgetState(opts); err != nil {
		return nil, err
	}
	// The state directory every configuration shared before each got its
	// own is imported from at the first start, and only into a directory
	// of that base (not into one given with --state-dir).
	shared := cfg.Daemon.SharedStateDir
	if shared != "" && filepath.Dir(filepath.Clean(cfg.Daemon.StateDir)) != filepath.Clean(shared) {
		shared = ""
	}
	if d.store, err = store.OpenImport(cfg.Daemon.StateDir, shared); err != nil {
		return nil, err
	}
	if from := d.store.ImportedFrom(); from != "" {
		d.log.Info("state: this configuration's state directory starts with the programs added at run time and the desired states of the state file all configurations shared before; from now on it is its own",
			"from", from, "state", d.store.Path())
	}
	if err := d.checkStartBudget(cfg.Programs); err != nil {
		d.store.Close()
		return nil, err
	}
	d.capture, err = newCapture(cfg.Daemon, d.log, d.onDrop)
	if err != nil {
		d.store.Close()
		return nil, err
	}
	mopts := opts.Monitor
	mopts.Subreaper = mopts.Backend == monitor.BackendReaper
	mopts.Logger = d.log
	newMonitor := monitor.New
	if opts.Handoff != nil {
		newMonitor = monitor.NewAdopting
	}
	if d.mon, err = newMonitor(mopts); err != nil {
		d.capture.Close()
		d.store.Close()
		return nil, err
	}
	d.metrics = newMetrics(d)
	if d.notifier, err = NewNotifier(cfg.Daemon.StateDir, d.runID, d.mon, d.log); err != nil {
		d.abort()
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	d.startHealth(opts)
	d.setupCgroups()
	if opts.Handoff == nil {
		d.reclaim()
	}

	// Each log directory is resolved once for all programs, not per stream,
	// and the monitor is asked once per batch of processes (AddEach).
	release := d.capture.HoldDirs()
	d.logDirsMade = map[string]bool{}
	defer func() { d.logDirsMade = nil }()
	d.adding = make([]monitor.Spec, 0, len(cfg.Programs)) // one per program, most often
	for i := range cfg.Programs {
		if err := d.addProgram(&cfg.Programs[i], false); err != nil {
			release()
			d.abort()
			return nil, err
		}
	}
	release()
	adding := d.adding
	d.adding = nil
	for i, err := range d.mon.AddEach(adding) {
		if err != nil {
			d.abort()
			return nil, fmt.Errorf("process %q: %w", adding[i].Name, err)
		}
	}
	saved, err := d.store.Programs()
	if err != nil {
		d.abort()
		return nil, err
	}
	for name, raw := range saved {
		var p config.Program
		if err := json.Unmarshal(raw, &p); err != nil {
			d.log.Error("state: cannot read a program added at run time; skipped", "program", name, "err", err)
			continue
		}
		if _, dup := d.programs[p.Name]; dup {
			d.log.Warn("state: a program added at run time now exists in the config file; the file wins", "program", name)
			continue
		}
		if err := d.addProgram(&p, true); err != nil {
			d.log.Error("state: cannot restore a program added at run time", "program", name, "err", err)
		}
	}
	sub, err := d.mon.Subscribe(1 << 16)
	if err != nil {
		d.abort()
		return nil, err
	}
	go d.pump(sub)
	if opts.Handoff != nil {
		if err := d.adoptHandoff(opts.Handoff); err != nil {
			d.abort()
			return nil, err
		}
		if dir := opts.Handoff.Dir; dir != "" && dir != d.up.dir {
			if err := os.Chdir(dir); err != nil {
				d.log.Error("upgrade: cannot go back to the previous image's working directory", "dir", dir, "err", err)
			}
		}
	}
	return d, nil
}

// runEnviron is the base environment of every process: the daemon's own
// (without a RunEnv it may have inherited from a supervising corral), the
// [daemon] environment, and this run's token.
func runEnviron(own, extra []string, runID string) []string {
	env := make([]string, 0, len(own)+len(extra)+1)
	for _, kv := range own {
		if !strings.HasPrefix(kv, RunEnv+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, extra...)
	return append(env, RunEnv+"="+runID)
}

func (d *Daemon) abort() {
	d.health.checker.Close()
	_ = d.mon.Close()
	if d.notifier != nil {
		d.notifier.Close()
	}
	d.closeListeners()
	d.removeCgroups()
	d.capture.Close()
	d.store.Close()
}

// Config returns the configuration the daemon runs.
func (d *Daemon) Config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// Monitor returns the daemon's monitor (for event subscriptions).
func (d *Daemon) Monitor() *monitor.Monitor { return d.mon }

// Quit is closed when a client asks the daemon to shut down.
func (d *Daemon) Quit() <-chan struct{} { return d.quit }

// RequestShutdown asks the daemon's owner to shut it down (see Quit).
func (d *Daemon) RequestShutdown() { d.quitMu.Do(func() { close(d.quit) }) }

// addProgram registers a program's processes with the monitor. The
// program keeps p, which must not be written afterwards (see program.cfg).
// Caller holds no lock (it takes d.mu).
func (d *Daemon) addProgram(p *config.Program, runtime bool) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := d.checkLimits(*p); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return ErrShuttingDown
	}
	if _, ok := d.programs[p.Name]; ok {
		return fmt.Errorf("%w: %q", ErrProgramExists, p.Name)
	}
	used, err := d.budget.admit(*p)
	if err != nil {
		return err
	}
	prog := &program{cfg: p, runtime: runtime}
	if err := d.makeProgramCgroup(*p); err != nil {
		return err
	}
	if p.Socket != nil {
		if prog.fcgi, err = openFCGISocket(p.Socket); err != nil {
			return fmt.Errorf("program %q: %w", p.Name, err)
		}
	}
	// EachProcess, not Processes: no copy of the program per process (the
	// process record shares its command and environment when there is
	// nothing to expand).
	for cp := range p.EachProcess {
		name := cp.FullName()
		if _, ok := d.procs[name]; ok {
			d.unregister(prog)
			return fmt.Errorf("%w: process %q of program %q", ErrProgramExists, name, p.Name)
		}
		pr, err := d.register(prog, cp, name)
		if err != nil {
			d.unregister(prog)
			return err
		}
		prog.procs = append(prog.procs, pr)
	}
	d.programs[p.Name] = prog
	d.budget.used = used
	d.listenersAdded(prog)
	return nil
}

// register opens a process's log streams and adds it to the monitor.
func (d *Daemon) register(prog *program, cp config.Process, name string) (*proc, error) {
	pr := &proc{name: name, program: prog, priority: cp.Program.Priority}
	pr.stdin.init(cp.Program.Stdin == config.StdinPipe)
	pr.stdout, pr.logErr = d.openStream(name, "stdout", cp.Program.Stdout)
	if !cp.Program.Stderr.Redirect {
		var errText string
		pr.stderr, errText = d.openStream(name, "stderr", cp.Program.Stderr)
		if pr.logErr == "" {
			pr.logErr = errText
		}
	}
	spec, err := Spec(cp, name, d.baseEnv)
	if err != nil {
		d.closeStreams(pr)
		return nil, fmt.Errorf("program %q: %w", prog.cfg.Name, err)
	}
	spec.Stdio = pr.stdio
	spec.Cgroup = d.processCgroup(prog.cfg.Name, name)
	spec.ExtraEnv = d.processEnv(cp, name, spec.ExtraEnv)
	d.readiness(cp.Program, &spec)
	if usesListeners(*prog.cfg) {
		spec.Stdio = d.listenerStdio(pr)
	}
	if d.adding != nil {
		d.adding = append(d.adding, spec) // New adds them all at once
	} else if err := d.mon.Add(spec); err != nil {
		d.closeStreams(pr)
		return nil, err
	}
	d.setHealth(name, cp.Program.Health, spec)
	d.procs[name] = pr
	return pr, nil
}

// stdio is called by the monitor before each spawn.
func (pr *proc) stdio() (stdin, stdout, stderr *os.File, err error) {
	in, err := pr.newStdin()
	if err != nil {
		return nil, nil, nil, err
	}
	if pr.stdout == nil {
		return in, nil, nil, nil
	}
	out, outDone, err := pr.stdout.NewPipe()
	if err != nil {
		closeFile(in)
		return nil, nil, nil, err
	}
	errw, drained := out, []<-chan struct{}{outDone}
	if pr.stderr != nil {
		w, errDone, err := pr.stderr.NewPipe()
		if err != nil {
			out.Close()
			closeFile(in)
			return nil, nil, nil, err
		}
		errw = w
		drained = append(drained, errDone)
	}
	pr.mu.Lock()
	pr.drained = drained
	pr.mu.Unlock()
	return in, out, errw, nil
}

// awaitDrained waits, until deadline at the latest, for the last spawn's
// output to be stored, so an exit is reported after the bytes written before
// it. A grandchild that keeps the pipe open only costs the wait up to the
// deadline, which the pump shares across a whole batch of exits.
func (pr *proc) awaitDrained(deadline time.Time) {
	pr.mu.Lock()
	chans := pr.drained
	pr.mu.Unlock()
	timeout := time.NewTimer(time.Until(deadline))
	defer timeout.Stop()
	for _, c := range chans {
		select {
		case <-c:
		case <-timeout.C:
			return
		}
	}
}

// unregister forgets a program's processes (already stopped) from the maps
// and the monitor. Caller holds d.mu.
func (d *Daemon) unregister(prog *program) {
	for _, pr := range prog.procs {
		if err := d.mon.Remove(pr.name); err != nil && !errors.Is(err, monitor.ErrNotFound) {
			d.log.Error("remove from monitor", "program", pr.name, "err", err)
		}
		d.closeStreams(pr)
		d.setHealth(pr.name, nil, monitor.Spec{})
		delete(d.procs, pr.name)
	}
	prog.fcgi.close()
	if d.programs[prog.cfg.Name] == prog {
		d.budget.release(*prog.cfg)
		d.removeProgramCgroup(prog.cfg.Name)
		d.listenersRemoved(prog)
	}
	delete(d.programs, prog.cfg.Name)
}

// keepsDesired reports whether a program's recorded desired state outlives
// the daemon: that of a program added at run time does (there is no file to
// say otherwise), and that of a program of the configuration file only under
// Docker's unless-stopped policy. For every other program of the file, its
// autostart decides at each daemon start, as in supervisord.
func keepsDesired(p *program) bool {
	return p.runtime || p.cfg.Restart == config.RestartUnlessStopped
}

// Start starts, lowest priority first, the processes that should run: the
// autostart ones, except those whose program keeps a stop a user gave it
// (keepsDesired), and those whose program keeps a start. The desired states
// recorded for the other programs are forgotten: the file has decided.
func (d *Daemon) Start() {
	d.listenersStart()
	if d.up.adopted != nil {
		d.log.Info("daemon upgraded in place: processes adopted, nothing autostarted", "processes", len(d.procs))
		return
	}
	desired, err := d.store.DesiredStates()
	if err != nil {
		d.log.Error("state: cannot read desired states", "err", err)
	}
	var names []string
	forget := map[string]store.Desired{}
	d.mu.Lock()
	for _, pr := range d.sortedProcs(false) {
		want := pr.program.cfg.Autostart
		if keepsDesired(pr.program) {
			switch desired[pr.name] {
			case store.Started:
				want = true
			case store.Stopped:
				want = false
			}
		} else if _, ok := desired[pr.name]; ok {
			forget[pr.name] = ""
		}
		if want {
			names = append(names, pr.name)
		}
	}
	d.mu.Unlock()
	if len(forget) > 0 {
		if err := d.store.SetDesiredBatch(forget); err != nil {
			d.log.Error("state: cannot forget desired states the configuration file overrides", "err", err)
		}
	}
	for i, err := range d.mon.StartEach(names) {
		// A dependency that a program started before it is already on its way.
		if err != nil && !errors.Is(err, monitor.ErrAlreadyStarted) {
			d.log.Warn("autostart failed", "program", names[i], "err", err)
		}
	}
	d.log.Info("daemon started", "processes", len(d.procs), "autostarted", len(names))
}

// sortedProcs returns processes by priority (descending when reverse), then
// name. Caller holds d.mu.
func (d *Daemon) sortedProcs(reverse bool) []*proc {
	out := make([]*proc, 0, len(d.procs))
	for _, pr := range d.procs {
		out = append(out, pr)
	}
	slices.SortFunc(out, func(a, b *proc) int {
		c := cmp.Compare(a.priority, b.priority)
		if reverse {
			c = -c
		}
		if c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	return out
}

// Shutdown stops every process, highest priority first (each priority tier
// together, each process with its own grace period), then closes the monitor,
// the log capture and the store.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.listenersStopping()
	d.mu.Lock()
	d.closing = true
	// Dependants stop before what they depend on (rank), then priority.
	rank := d.dependencyDepth()
	type tier struct{ rank, priority int }
	tiers := map[tier][]string{}
	var order []tier
	for _, pr := range d.sortedProcs(true) {
		t := tier{rank[pr.name], pr.priority}
		if _, ok := tiers[t]; !ok {
			order = append(order, t)
		}
		tiers[t] = append(tiers[t], pr.name)
	}
	d.mu.Unlock()
	// No probe, and no on_unhealthy action, during the shutdown.
	d.health.checker.Close()
	slices.SortStableFunc(order, func(a, b tier) int { return cmp.Compare(b.rank, a.rank) })
	for _, t := range order {
		d.listenersDrain(ctx, tiers[t])
		if _, err := d.stopWait(ctx, tiers[t], false); err != nil && ctx.Err() != nil {
			break
		}
	}
	err := d.mon.Shutdown(ctx)
	d.notifier.Close()
	d.removeCgroups()
	<-d.pumpEnd
	d.closeListeners()
	d.capture.Close()
	if e := d.store.ClearRunning(); e != nil {
		d.log.Error("state: clear live processes", "err", e)
	}
	d.store.Close()
	d.log.Info("daemon stopped")
	return err
}
