package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/corralhq/corral/logs"
	"github.com/corralhq/corral/monitor"
	"github.com/corralhq/corral/store"
)

// pump follows the monitor's events on one goroutine: it logs them, counts
// them for metrics and records live processes in the store, in batches so
// 10,000 starts cost a handful of writes. New subscribes before any process
// can start, so the pump sees every spawn (a spawn it missed would not be
// recorded, and a daemon killed with SIGKILL would leave it unreclaimed).
func (d *Daemon) pump(sub *monitor.Subscription) {
	defer close(d.pumpEnd)
	defer sub.Close()
	// A done context makes Next return only what is already queued.
	drained, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		e, err := sub.Next(context.Background())
		if err != nil {
			return
		}
		batch := map[string]*store.Running{}
		stopped := map[string]bool{}
		drainBy := time.Now().Add(100 * time.Millisecond)
		resync := false
		for {
			if e.Type == monitor.EventMissed {
				resync = true
				d.metrics.missed.Add(float64(e.Missed))
				d.log.Warn("daemon fell behind the monitor's events; re-reading all processes", "missed", e.Missed)
			} else {
				d.onEvent(e, batch, drainBy)
				if e.Type == monitor.EventExited && e.State == monitor.StateStopped {
					stopped[e.Name] = true // what it left behind, without cgroups
				}
			}
			if len(batch) >= 4096 {
				break
			}
			if e, err = sub.Next(drained); err != nil {
				break
			}
		}
		if resync {
			d.resyncRunning()
		}
		d.killAdopted(stopped)
		if len(batch) > 0 {
			if testHookBeforeRecord != nil {
				testHookBeforeRecord(batch)
			}
			if err := d.store.SetRunningBatch(batch); err != nil {
				d.log.Error("state: cannot record live processes", "count", len(batch), "err", err)
			}
		}
	}
}

// testHookBeforeRecord, when set by a test, runs before each batch of live
// processes is written (a test kills the daemon there: the worst moment).
var testHookBeforeRecord func(batch map[string]*store.Running)

func (d *Daemon) onEvent(e monitor.Event, batch map[string]*store.Running, drainBy time.Time) {
	// A supervisord configuration's log says it in supervisord's words.
	log := d.log
	if d.activity(e) {
		log = discardLog
	}
	d.healthEvent(e)
	switch e.Type {
	case monitor.EventStarting:
		ticks := e.StartTicks
		if ticks == 0 {
			ticks = startTicks(e.Pid)
		}
		batch[e.Name] = &store.Running{Pid: e.Pid, StartTicks: ticks}
		log.Debug("process spawned", "program", e.Name, "pid", e.Pid)
	case monitor.EventRunning:
		log.Info("process running", "program", e.Name, "pid", e.Pid)
	case monitor.EventExited:
		batch[e.Name] = nil
		d.mu.Lock()
		pr := d.procs[e.Name]
		d.mu.Unlock()
		if pr != nil {
			pr.awaitDrained(drainBy)
		}
		x := e.Exit
		d.metrics.exit(e.Name, x)
		level := log.Info
		if !x.Expected {
			level = log.Warn
		}
		if x.Signal != 0 {
			level("process exited", "program", e.Name, "pid", x.Pid, "signal", x.Signal.String(), "expected", x.Expected, "state", e.State.String())
		} else {
			level("process exited", "program", e.Name, "pid", x.Pid, "code", x.Code, "expected", x.Expected, "state", e.State.String())
		}
	case monitor.EventBackoff:
		log.Info("process backing off", "program", e.Name, "delay", e.Delay, "err", e.Err)
	case monitor.EventFatal:
		log.Error("process gave up (FATAL)", "program", e.Name, "err", e.Err)
	case monitor.EventStopped:
		log.Info("process stopped", "program", e.Name)
	case monitor.EventOrphanReaped:
		log.Debug("reaped an orphan", "pid", e.Pid)
	case monitor.EventLost:
		log.Error("lost track of a process", "program", e.Name, "pid", e.Pid, "err", e.Err)
	}
}

var discardLog = slog.New(slog.DiscardHandler)

// resyncRunning rewrites the store's live processes from a snapshot.
func (d *Daemon) resyncRunning() {
	infos, _, err := d.mon.Snapshot()
	if err != nil {
		return
	}
	d.healthResync(infos)
	running := map[string]*store.Running{}
	for _, i := range infos {
		if i.Pid != 0 {
			running[i.Name] = &store.Running{Pid: i.Pid, StartTicks: startTicks(i.Pid)}
		}
	}
	// The session stays: it is what lets the next run reclaim these.
	if err := d.store.ReplaceRunning(running); err != nil {
		d.log.Error("state: resync", "err", err)
	}
}

func (d *Daemon) onDrop(e logs.DropEvent) {
	if d.metrics == nil {
		return
	}
	if e.Resumed {
		d.log.Warn("log file writable again", "file", e.Path, "dropped_bytes", e.Dropped)
	} else {
		d.log.Error("log file not writable; dropping output", "file", e.Path, "err", e.Err)
	}
}

// RunEnv is the environment variable the daemon sets in every process it
// spawns: a random token of the daemon run. A daemon killed with SIGKILL
// between a spawn and the store's record of it (the pump records in
// batches) leaves a process no record names; the next daemon finds it, and
// whatever it forked, by this mark.
const RunEnv = "CORRAL_RUN_ID"

// reclaim ends what a daemon run that died without stopping left behind,
// then records this run (boot id and token) before any process can start.
// It returns the pids it killed.
//
// A recorded process is identified by its pid and its exact start time (in
// clock ticks since boot), within the same boot: a pid reused by an
// unrelated process, or a record from before a reboot, kills nothing. What
// is killed: the recorded process's group while its leader is the recorded
// process; a group whose leader has exited (the kernel keeps a pid that
// still names a group from being reused, so the group can only be the
// recorded one's, unless all of it ended and a new group with that id was
// made and lost its leader too: members must also have started no earlier
// than the recorded leader); and every process carrying the last run's
// token in its environment.
func (d *Daemon) reclaim() []int {
	left, err := d.store.RunningProcesses()
	if err != nil {
		d.log.Error("state: cannot read the processes a previous daemon left", "err", err)
	}
	prev, hadPrev, err := d.store.PreviousSession()
	if err != nil {
		d.log.Error("state: cannot read the previous daemon run", "err", err)
	}
	boot := bootID()
	var killed []int
	switch {
	case !hadPrev && len(left) > 0:
		d.log.Warn("state: processes recorded without the daemon run that started them; not killing any (their pids may have been reused)", "count", len(left))
	case hadPrev && (prev.BootID == "" || prev.BootID != boot):
		if len(left) > 0 {
			d.log.Info("state: processes recorded before a reboot are gone; nothing to reclaim", "count", len(left))
		}
	case hadPrev:
		killed = d.reclaimCgroups(prev.Token)
		for pid, name := range leftovers(scanProc(), left, prev.Token, os.Getpid()) {
			d.log.Warn("killing a process left by a previous daemon", "program", name, "pid", pid)
			if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
				killed = append(killed, pid)
			}
		}
	}
	if err := d.store.BeginSession(store.Session{BootID: boot, Token: d.runID}); err != nil {
		d.log.Error("state: cannot record this daemon run; if it is killed, the next daemon cannot find what it started", "err", err)
	}
	slices.Sort(killed)
	return slices.Compact(killed)
}

// leftovers picks, from the processes procs, those a previous daemon run
// left (see reclaim), by pid, with the program each belongs to.
func leftovers(procs []procEntry, left map[string]store.Running, token string, self int) map[int]string {
	byPid := make(map[int]procEntry, len(procs))
	byGroup := map[int][]procEntry{}
	for _, p := range procs {
		byPid[p.pid] = p
		byGroup[p.pgrp] = append(byGroup[p.pgrp], p)
	}
	out := map[int]string{}
	for name, r := range left {
		if r.Pid <= 1 {
			continue
		}
		leader, alive := byPid[r.Pid]
		if alive && leader.start != r.StartTicks {
			continue // the pid was reused: the recorded process and its group are gone
		}
		for _, p := range byGroup[r.Pid] {
			if p.pid != self && (alive || p.start >= r.StartTicks) {
				out[p.pid] = name
			}
		}
	}
	if token != "" {
		mark := []byte(RunEnv + "=" + token)
		for _, p := range procs {
			if _, ok := out[p.pid]; ok || p.pid == self || p.pid == 1 {
				continue
			}
			if environHas(p.pid, mark) {
				out[p.pid] = "(spawned by the previous daemon, not yet recorded)"
			}
		}
	}
	return out
}

// environHas reports whether the NUL-separated /proc/PID/environ holds the
// entry kv.
func environHas(pid int, kv []byte) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for e := range bytes.SplitSeq(b, []byte{0}) {
		if bytes.Equal(e, kv) {
			return true
		}
	}
	return false
}

// bootID returns the kernel's id of the current boot, "" if unknown.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// newRunID returns a random token for RunEnv.
func newRunID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type procEntry struct {
	pid, pgrp int
	start     uint64
}

func scanProc() []procEntry {
	ents, _ := os.ReadDir("/proc")
	var out []procEntry
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := statFields(pid)
		if len(f) < 20 {
			continue
		}
		pgrp, _ := strconv.Atoi(f[2])
		start, _ := strconv.ParseUint(f[19], 10, 64)
		out = append(out, procEntry{pid: pid, pgrp: pgrp, start: start})
	}
	return out
}

// statFields returns /proc/PID/stat's fields after the command name: index 0
// is the state (field 3), so field N is at N-3.
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

func startTicks(pid int) uint64 {
	f := statFields(pid)
	if len(f) < 20 {
		return 0
	}
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}

func pidSelf() int    { return os.Getpid() }
func goroutines() int { return runtime.NumGoroutine() }

func threadCount() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}
