// Command corralbench runs corral and its peers side by side on one machine
// and prints a markdown table: for N supervised programs (each `sleep`), the
// time until all N run, the supervisor's own memory, threads and processes,
// its CPU while idle, the time to bring all N back after they are killed at
// once, zombies left, and whether it survived. Times are also given as a
// ratio against a C posix_spawn loop measured in the same run, the limit of
// this machine; absolute times on a shared machine mean little alone.
//
// Usage (from the module root, as root for the rlimits):
//
//	go run ./bench/cmd/corralbench -n 1000
//	go run ./bench/cmd/corralbench -n 10000 -only corral,gopersup
//
// See docs/BENCHMARKS.md. The harness kills and reaps every process it
// started, also when interrupted; it never kills by name.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	ns         []int
	only       map[string]bool
	idle       time.Duration
	settle     time.Duration
	timeout    time.Duration
	poll       time.Duration
	peersLarge bool
	keep       bool
	rounds     int
}

func main() {
	var (
		nFlag    = flag.String("n", "1000", "comma-separated numbers of supervised programs")
		onlyFlag = flag.String("only", "", "comma-separated subjects to run (default all): spawnloop,spawnloop-cg,spawnloop-2,goloop,gopersup,corral,supervisord,runit,s6; spawnloop always runs as the baseline")
		opt      options
	)
	flag.DurationVar(&opt.idle, "idle", 10*time.Second, "idle window for the CPU measurement")
	flag.DurationVar(&opt.settle, "settle", 2*time.Second, "pause after all programs run, before measuring")
	flag.DurationVar(&opt.timeout, "timeout", 120*time.Second, "limit for each phase (start, recovery)")
	flag.DurationVar(&opt.poll, "poll", 10*time.Millisecond, "/proc polling interval")
	flag.BoolVar(&opt.peersLarge, "peers-large", false, "also run supervisord, runit and s6 when N > 1000")
	flag.BoolVar(&opt.keep, "keep", false, "keep the temporary directory (configs, logs)")
	flag.IntVar(&opt.rounds, "rounds", 1, "run every subject this many times, alternating, and summarize each subject's ratios to spawnloop's run of the same round (median and range)")
	flag.Parse()
	if opt.rounds < 1 {
		fatalf("bad -rounds %d", opt.rounds)
	}
	for _, f := range strings.Split(*nFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fatalf("bad -n %q", *nFlag)
		}
		opt.ns = append(opt.ns, n)
	}
	if *onlyFlag != "" {
		opt.only = map[string]bool{"spawnloop": true}
		known := map[string]bool{}
		for _, s := range allSubjects() {
			known[s.Name()] = true
		}
		for _, name := range strings.Split(*onlyFlag, ",") {
			name = strings.TrimSpace(name)
			if !known[name] {
				fatalf("unknown subject %q in -only", name)
			}
			opt.only[name] = true
		}
	}
	if err := run(opt); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "corralbench: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "# "+format+"\n", args...)
}

func run(opt options) (err error) {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tr, err := newTracker()
	if err != nil {
		return err
	}
	base, err := os.MkdirTemp("", "corralbench-")
	if err != nil {
		return err
	}
	if !opt.keep {
		tr.addDir(base)
	} else {
		logf("keeping %s", base)
	}
	defer func() {
		if cerr := tr.abort(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	// Interrupted: kill and reap everything, remove the temporary files, exit.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		logf("%v: cleaning up", sig)
		if err := tr.abort(); err != nil {
			logf("%v", err)
			os.Exit(1)
		}
		os.Exit(130)
	}()

	maxN := 0
	for _, n := range opt.ns {
		maxN = max(maxN, n)
	}
	raiseLimits(maxN)

	env := &benchEnv{root: root, bin: filepath.Join(base, "bin")}
	if err := os.MkdirAll(env.bin, 0o755); err != nil {
		return err
	}
	var subs []prepared
	for _, s := range allSubjects() {
		if opt.only != nil && !opt.only[s.Name()] {
			continue
		}
		v, err := s.Prepare(env)
		if err != nil {
			logf("%s: not available: %v", s.Name(), err)
		}
		subs = append(subs, prepared{s, v, err})
	}

	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Printf("corralbench %s: kernel %s, %d CPUs, pid_max %d, threads-max %d, GOVERSION %s\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.TrimSpace(string(kernel)), runtime.NumCPU(),
		readInt("/proc/sys/kernel/pid_max"), readInt("/proc/sys/kernel/threads-max"), runtime.Version())
	fmt.Println("| subject | version |\n|---|---|")
	for _, p := range subs {
		v := p.version
		if p.err != nil {
			v = "not available: " + p.err.Error()
		}
		fmt.Printf("| %s | %s |\n", p.s.Name(), v)
	}
	fmt.Println()

	for _, n := range opt.ns {
		var rounds [][]*result
		for round := 1; round <= opt.rounds; round++ {
			if opt.rounds > 1 {
				fmt.Printf("Round %d of %d.\n\n", round, opt.rounds)
			}
			rounds = append(rounds, runRound(tr, subs, n, base, opt))
		}
		if opt.rounds > 1 {
			printRounds(n, rounds)
		}
	}
	return nil
}

// prepared is a subject, ready to run or not available.
type prepared struct {
	s       subject
	version string
	err     error
}

// runRound runs every subject once with n programs, spawnloop first, and
// prints their table.
func runRound(tr *tracker, subs []prepared, n int, base string, opt options) []*result {
	var results []*result
	var limit, cgLimit *result
	for _, p := range subs {
		name := p.s.Name()
		if n > 1000 && !opt.peersLarge && (name == "supervisord" || name == "runit" || name == "s6") {
			continue
		}
		if p.err != nil {
			results = append(results, &result{name: name, n: n, err: "not available"})
			continue
		}
		logf("%s N=%d ...", name, n)
		r := measure(tr, p.s, n, base, opt)
		logf("%s N=%d: %s", name, n, r.summary())
		switch name {
		case "spawnloop":
			limit = r
		case "spawnloop-cg":
			cgLimit = r
		}
		results = append(results, r)
		time.Sleep(opt.settle) // let the kernel finish tearing down
	}
	printTable(n, results, limit, cgLimit, opt)
	return results
}

// moduleRoot walks up from the working directory to corral's go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/corralhq/corral")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run corralbench inside the corral module (no go.mod for github.com/corralhq/corral above the working directory)")
		}
		dir = parent
	}
}

// raiseLimits lifts the descriptor and process limits the supervisors inherit:
// supervisord keeps ~5 descriptors per program, and runit and s6 run two
// processes per program. Without CAP_SYS_RESOURCE only the soft limits can
// go up, to the hard ones.
func raiseLimits(n int) {
	want := uint64(max(65536, 16*n))
	if nrOpen := uint64(readInt("/proc/sys/fs/nr_open")); nrOpen > 0 && want > nrOpen {
		want = nrOpen
	}
	raise := func(name string, res int, want uint64) uint64 {
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: want, Max: want}); err == nil {
			return want
		}
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(res, &lim); err != nil {
			return 0
		}
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(res, &lim); err != nil {
			logf("cannot raise %s: %v", name, err)
		}
		return lim.Max
	}
	noFile = raise("RLIMIT_NOFILE", syscall.RLIMIT_NOFILE, want)
	const rlimitNproc = 6
	raise("RLIMIT_NPROC", rlimitNproc, ^uint64(0))
	if pm := readInt("/proc/sys/kernel/pid_max"); pm > 0 && pm < 3*n+2000 {
		logf("warning: pid_max %d is low for N=%d (runit and s6 need 2 pids per program)", pm, n)
	}
}

// noFile is the RLIMIT_NOFILE every supervisor starts with.
var noFile uint64

// result is one row of the table.
type result struct {
	name string
	n    int
	err  string // set when the subject did not run at all

	start     time.Duration
	startNote string // "" when all n ran
	// startCPU is the supervisor's own CPU (user and system ticks of its
	// processes, its children's not counted) from its exec to the end of
	// the start: less at the mercy of a loaded machine than start.
	startCPU    uint64
	pssKiB      int
	threads     int
	procs       int
	idleTicks   uint64
	recovery    time.Duration
	recoverNote string
	// startForked and recoveryForked end at the start time of the
	// phase's last program (/proc/PID/stat, in ticks of 10 ms, taken at
	// the middle of its tick) instead of at the poll that saw it: polls
	// come every 10 ms or more (five times the cost of a scan), so the
	// phase times above are late by up to a poll.
	startForked, recoveryForked time.Duration
	// firstForked is when the first program started, from the same
	// clock: the supervisor's own start before it forks anything.
	firstForked time.Duration
	zombies     int
	survived    bool
	death       string // how it died, from its output
	measured    bool   // memory, threads and idle CPU were measured
}

func (r *result) summary() string {
	if r.err != "" {
		return r.err
	}
	s := fmt.Sprintf("start %s (CPU %d ticks), PSS %d KiB, %d threads, %d procs, idle %d ticks, recovery %s, zombies %d, survived %v",
		fmtPhase(r.start, r.startNote), r.startCPU, r.pssKiB, r.threads, r.procs, r.idleTicks, fmtPhase(r.recovery, r.recoverNote), r.zombies, r.survived)
	if r.death != "" {
		s += ": " + r.death
	}
	return s
}

// measure runs one subject through every phase. Each phase is bounded by
// opt.timeout; the supervisor dying ends the run and is reported as a result.
func measure(tr *tracker, s subject, n int, base string, opt options) *result {
	r := &result{name: s.Name(), n: n}
	dir, err := os.MkdirTemp(base, fmt.Sprintf("%s-%d-", s.Name(), n))
	if err != nil {
		r.err = err.Error()
		return r
	}
	// A fresh token per run keeps leftovers of one run from counting in the
	// next; GNU sleep takes the fraction.
	token := fmt.Sprintf("86400.%09d", rand.IntN(1e9))
	argv := []string{"/bin/sleep", token}
	cmd, extraEnv, err := s.Setup(dir, n, argv)
	if err != nil {
		r.err = "setup: " + err.Error()
		return r
	}
	if p, err := exec.LookPath(cmd[0]); err == nil {
		cmd[0] = p
	}
	envv := append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + dir}, extraEnv...)
	logPath := filepath.Join(dir, "supervisor.out")

	var cgroups string // the supervisor's per-run cgroup tree, if it makes one
	defer func() {
		if err := tr.killAll(30 * time.Second); err != nil {
			logf("%s: %v", s.Name(), err)
		}
		if left := len(newMarkerScanner(token).markers()); left > 0 {
			logf("%s: %d supervised programs survived cleanup", s.Name(), left)
		}
		if cgroups != "" {
			removeCgroupTree(cgroups)
		}
		if c, ok := s.(interface{ Cleanup() }); ok {
			c.Cleanup() // what it made in Setup, if still there
		}
	}()

	sc := newMarkerScanner(token)
	t0, boot0 := time.Now(), bootTime()
	root, err := tr.start(cmd, envv, dir, logPath, token)
	if err != nil {
		r.err = err.Error()
		return r
	}
	alive := func() bool {
		st, err := readStat(root, make([]byte, 1024))
		return err == nil && st.state != 'Z'
	}
	died := func(when string) *result {
		r.survived = false
		r.measured = false // whatever was read belongs to a dying process
		r.death = "died " + when
		if note := deathNote(logPath); note != "" {
			r.death += ": " + note
		}
		return r
	}

	// Phase 1: start.
	r.start, r.startNote = waitFor(sc, n, nil, t0, opt, alive)
	if r.startNote == "" {
		first, last := sc.startRange()
		r.firstForked, r.startForked = first-boot0, last-boot0
	}
	for _, t := range cpuTicks(supervisorPids(root, token)) {
		r.startCPU += t
	}
	for pid := range sc.markers() {
		cgroups = cgroupTree(pid)
		break
	}
	if strings.HasPrefix(r.startNote, "died") {
		return died("while starting")
	}
	if r.startNote != "" {
		r.death = "stalled"
		if note := deathNote(logPath); note != "" {
			r.death += ": " + note
		}
	}
	time.Sleep(opt.settle)

	// Phase 2: idle CPU, then memory, threads, processes.
	sup := supervisorPids(root, token)
	ticks0 := cpuTicks(sup)
	time.Sleep(opt.idle)
	ticks1 := cpuTicks(sup)
	for pid, t := range ticks1 {
		r.idleTicks += t - ticks0[pid]
	}
	sup = supervisorPids(root, token)
	snap := takeSnapshot()
	for _, pid := range sup {
		r.threads += snap[pid].threads
		if k, err := pssKiB(pid); err == nil {
			r.pssKiB += k
		}
	}
	r.procs = len(sup)
	r.measured = true
	if !alive() {
		return died("after all ran, before the kill storm")
	}

	// Phase 3: kill storm. SIGKILL every supervised program in a tight loop
	// and wait for n new ones.
	if r.startNote == "" {
		dead := sc.markers()
		sc = newMarkerScanner(token)
		t1, boot1 := time.Now(), bootTime()
		for pid := range dead {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		r.recovery, r.recoverNote = waitFor(sc, n, dead, t1, opt, alive)
		if r.recoverNote == "" {
			_, last := sc.startRange()
			r.recoveryForked = last - boot1
		}
		if strings.HasPrefix(r.recoverNote, "died") {
			return died("during kill-storm recovery")
		}
	} else {
		r.recoverNote = "skipped"
	}

	// Phase 4: zombies left and survival, after a pause.
	time.Sleep(opt.settle)
	r.zombies = zombies(root, token)
	count, _ := newMarkerScanner(token).count(nil)
	r.survived = alive() && count == n
	if !alive() {
		died("after recovery")
	}
	return r
}

// waitFor polls until n markers not in dead are running under a live
// supervisor. It returns the time since t0, or a note: "died ..." if the
// supervisor's root process exited, "timeout k/n" if the phase ran out of
// time.
//
// A scan of /proc costs ~1 ms per 1,000 processes, on the same two cores as
// the subject, so the interval stretches to five times the last scan's cost:
// the harness never takes more than a sixth of one core.
func waitFor(sc *markerScanner, n int, dead map[int]uint64, t0 time.Time, opt options, alive func() bool) (time.Duration, string) {
	deadline := t0.Add(opt.timeout)
	for {
		ts := time.Now()
		c, _ := sc.count(dead)
		cost := time.Since(ts)
		if !alive() {
			return time.Since(t0), fmt.Sprintf("died at %.1f s with %d/%d running", time.Since(t0).Seconds(), c, n)
		}
		if c >= n {
			return time.Since(t0), ""
		}
		if time.Now().After(deadline) {
			return time.Since(t0), fmt.Sprintf("timeout %d/%d", c, n)
		}
		time.Sleep(max(opt.poll, 5*cost))
	}
}

// supervisorPids returns the supervisor's own processes: its root and every
// process below it that is not a supervised program (and not a zombie).
func supervisorPids(root int, token string) []int {
	snap := takeSnapshot()
	sc := newMarkerScanner(token)
	var out []int
	for _, pid := range snap.descendants(root) {
		if snap[pid].state == 'Z' || sc.isMarker(pid) {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// zombies counts unreaped children of the supervisor's own processes.
func zombies(root int, token string) int {
	snap := takeSnapshot()
	sup := map[int]bool{}
	for _, pid := range supervisorPids(root, token) {
		sup[pid] = true
	}
	z := 0
	for _, st := range snap {
		if st.state == 'Z' && sup[st.ppid] {
			z++
		}
	}
	return z
}

func cpuTicks(pids []int) map[int]uint64 {
	out := map[int]uint64{}
	buf := make([]byte, 1024)
	for _, pid := range pids {
		if st, err := readStat(pid, buf); err == nil {
			out[pid] = st.utime + st.stime
		}
	}
	return out
}

// deathNote returns the lines of the supervisor's output that say why it
// stopped (Go runtime fatal errors, tracebacks' first line, Python errors).
func deathNote(logPath string) string {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return ""
	}
	var notes []string
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, line := range lines {
		if strings.HasPrefix(line, "runtime:") || strings.HasPrefix(line, "fatal error:") ||
			strings.Contains(line, "Error:") || strings.HasPrefix(line, "panic:") {
			notes = append(notes, strings.TrimSpace(line))
		}
		if len(notes) == 3 {
			break
		}
	}
	if len(notes) == 0 && len(lines) > 0 {
		notes = append(notes, strings.TrimSpace(lines[len(lines)-1]))
	}
	note := strings.Join(notes, "; ")
	if len(note) > 200 {
		note = note[:200] + "..."
	}
	return note
}

func fmtPhase(d time.Duration, note string) string {
	if note != "" {
		return note
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func ratio(r *result, limit *result, get func(*result) (time.Duration, string)) string {
	if limit == nil || limit.err != "" {
		return "n/a"
	}
	d, note := get(r)
	ld, lnote := get(limit)
	if note != "" || lnote != "" || ld <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(d)/float64(ld))
}

// printTable prints one row per subject. With cgLimit (spawnloop-cg ran)
// each time also gets a ratio against it, "x cg", the baseline for corral
// with a cgroup per process.
func printTable(n int, results []*result, limit, cgLimit *result, opt options) {
	fmt.Printf("### N = %d\n\n", n)
	cg, cgHead := "", ""
	if cgLimit != nil {
		cg, cgHead = " x cg |", "---:|"
	}
	fmt.Printf("| subject | start all | x limit |%s start CPU (ticks) | PSS total | PSS / program | threads | procs | idle CPU (ticks / %v) | kill-storm recovery | x limit |%s zombies | survived |\n", cg, opt.idle, cg)
	fmt.Println("|---|---:|---:|" + cgHead + "---:|---:|---:|---:|---:|---:|---:|---:|" + cgHead + "---:|---|")
	startOf := func(r *result) (time.Duration, string) { return r.start, r.startNote }
	recOf := func(r *result) (time.Duration, string) { return r.recovery, r.recoverNote }
	for _, r := range results {
		if r.err != "" {
			fmt.Printf("| %s | %s | | | | | | | | | | | |%s\n", r.name, r.err, strings.Repeat(" |", strings.Count(cg, "|")*2))
			continue
		}
		mem, per, thr, procs, idle := "-", "-", "-", "-", "-"
		if r.measured {
			mem = fmt.Sprintf("%.1f MiB", float64(r.pssKiB)/1024)
			per = fmt.Sprintf("%.1f KiB", float64(r.pssKiB)/float64(n))
			thr = fmt.Sprint(r.threads)
			procs = fmt.Sprint(r.procs)
			idle = fmt.Sprint(r.idleTicks)
		}
		rec, recRatio, recCg, z := "-", "-", "-", "-"
		if r.recoverNote != "" || r.recovery > 0 {
			rec = fmtPhase(r.recovery, r.recoverNote)
			recRatio = ratio(r, limit, recOf)
			recCg = ratio(r, cgLimit, recOf)
		}
		startRatio := ratio(r, limit, startOf)
		if cgLimit != nil {
			startRatio += " | " + ratio(r, cgLimit, startOf)
			recRatio += " | " + recCg
		}
		if r.survived || r.death == "" {
			z = fmt.Sprint(r.zombies)
		}
		surv := "yes"
		if !r.survived {
			surv = "**no**"
			if r.death != "" {
				surv += ": " + r.death
			}
		}
		fmt.Printf("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.name, fmtPhase(r.start, r.startNote), startRatio, r.startCPU, mem, per, thr, procs, idle,
			rec, recRatio, z, surv)
	}
	fmt.Println()
	// The same phases ended at their last program's start time, not at
	// the poll that saw it.
	fmt.Printf("Ended at the last program's start time (/proc/PID/stat; N = %d):\n\n", n)
	fmt.Println("| subject | first program | start, last program | x limit | recovery, last program | x limit |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	forkedStart := func(r *result) (time.Duration, string) { return r.startForked, r.startNote }
	forkedRec := func(r *result) (time.Duration, string) { return r.recoveryForked, r.recoverNote }
	for _, r := range results {
		if r.err != "" || r.startForked <= 0 {
			continue
		}
		rec, recRatio := "-", "-"
		if r.recoveryForked > 0 {
			rec, recRatio = fmt.Sprintf("%.3f s", r.recoveryForked.Seconds()), ratio(r, limit, forkedRec)
		}
		fmt.Printf("| %s | %.3f s | %.3f s | %s | %s | %s |\n", r.name, r.firstForked.Seconds(), r.startForked.Seconds(), ratio(r, limit, forkedStart), rec, recRatio)
	}
	fmt.Println()
}

// printRounds summarizes rounds of the same n: for each subject, its
// first program's and last program's start times (medians), and the ratio
// of each phase (ended at its last program's start time) to spawnloop's in
// the same round, and to spawnloop-cg's when it ran, as a median and a
// range. A machine shared with others makes single runs vary by tens of
// percent; the baseline of the same round shares most of a round's noise.
func printRounds(n int, rounds [][]*result) {
	fmt.Printf("### N = %d, %d rounds: ratios to the baselines' runs of the same round\n\n", n, len(rounds))
	fmt.Println("| subject | first program, median | start, last program, median | start x limit: median (range) | recovery x limit: median (range) | start x cg | recovery x cg | rounds |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	type series struct{ first, at, start, rec, startCg, recCg []float64 }
	var names []string
	byName := map[string]*series{}
	ratio := func(r, base *result, get func(*result) time.Duration) (float64, bool) {
		if base == nil || base.err != "" || get(r) <= 0 || get(base) <= 0 {
			return 0, false
		}
		return float64(get(r)) / float64(get(base)), true
	}
	startOf := func(r *result) time.Duration { return r.startForked }
	recOf := func(r *result) time.Duration { return r.recoveryForked }
	for _, results := range rounds {
		var limit, cg *result
		for _, r := range results {
			switch {
			case r.err != "":
			case r.name == "spawnloop":
				limit = r
			case r.name == "spawnloop-cg":
				cg = r
			}
		}
		for _, r := range results {
			if r.err != "" || r.startForked <= 0 {
				continue
			}
			s := byName[r.name]
			if s == nil {
				s = &series{}
				byName[r.name] = s
				names = append(names, r.name)
			}
			s.first = append(s.first, r.firstForked.Seconds())
			s.at = append(s.at, r.startForked.Seconds())
			for _, x := range []struct {
				base *result
				get  func(*result) time.Duration
				into *[]float64
			}{{limit, startOf, &s.start}, {limit, recOf, &s.rec}, {cg, startOf, &s.startCg}, {cg, recOf, &s.recCg}} {
				if v, ok := ratio(r, x.base, x.get); ok {
					*x.into = append(*x.into, v)
				}
			}
		}
	}
	spread := func(v []float64) string {
		if len(v) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx (%.2f-%.2f)", median(v), slices.Min(v), slices.Max(v))
	}
	for _, name := range names {
		s := byName[name]
		fmt.Printf("| %s | %.3f s | %.3f s | %s | %s | %s | %s | %d |\n", name, median(s.first), median(s.at),
			spread(s.start), spread(s.rec), spread(s.startCg), spread(s.recCg), len(s.at))
	}
	fmt.Println()
}

// median returns the middle value of v (the mean of the two middle ones
// for an even count).
func median(v []float64) float64 {
	w := slices.Sorted(slices.Values(v))
	if len(w)%2 == 1 {
		return w[len(w)/2]
	}
	return (w[len(w)/2-1] + w[len(w)/2]) / 2
}
