package monitor

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Saved is the monitor's state as an in-place upgrade carries it across
// execve (see Monitor.Exec and NewAdopting). Fields are named and every one
// is optional, so a later version can add fields an older reader ignores;
// the format version belongs to whoever serializes it (package handoff).
// Timers are carried as remaining durations, never as deadlines, so the
// reader's clock does not have to agree with the writer's.
type Saved struct {
	// Seq is the sequence number of the last event emitted.
	Seq       uint64         `json:"seq"`
	Processes []SavedProcess `json:"processes"`
}

// SavedProcess is one process of a Saved state.
type SavedProcess struct {
	Name  string `json:"name"`
	State State  `json:"state"`
	// Pid is set while the process runs (or has exited and is not reaped
	// yet); StartTicks is its start time in clock ticks after boot, field
	// 22 of /proc/PID/stat, which tells the same process from a reused pid.
	Pid        int       `json:"pid,omitempty"`
	StartTicks uint64    `json:"start_ticks,omitempty"`
	Started    time.Time `json:"started"`
	Since      time.Time `json:"since"`
	Restarts   uint64    `json:"restarts"`
	Failures   int       `json:"failures,omitempty"`
	Crashes    int       `json:"crashes,omitempty"`
	Retries    int       `json:"retries,omitempty"`
	LastExit   *ExitInfo `json:"last_exit,omitempty"`
	Err        string    `json:"err,omitempty"`
	// Timers pending for the process: kind name and remaining time.
	Timers []SavedTimer `json:"timers,omitempty"`
}

// SavedTimer is a pending deadline of a process, as time left.
type SavedTimer struct {
	Kind      string        `json:"kind"`
	Remaining time.Duration `json:"remaining_ns"`
}

var timerNames = map[timerKind]string{
	timerStarted: "started", timerBackoff: "backoff", timerKill: "kill", timerFatalRetry: "fatal-retry",
}

func timerByName(s string) (timerKind, bool) {
	for k, n := range timerNames {
		if n == s {
			return k, true
		}
	}
	return 0, false
}

// save returns the loop's state. It runs on the loop.
func (l *loop) save() (Saved, error) {
	now := l.clock.Now()
	s := Saved{Seq: l.seq, Processes: make([]SavedProcess, 0, len(l.procs))}
	byProc := map[*process][]SavedTimer{}
	for _, t := range l.timers {
		if t.gen != t.p.gen || l.procs[t.p.spec.Name] != t.p {
			continue
		}
		byProc[t.p] = append(byProc[t.p], SavedTimer{Kind: timerNames[t.kind], Remaining: max(t.at.Sub(now), 0)})
	}
	for _, p := range l.procs {
		sp := SavedProcess{
			Name: p.spec.Name, State: p.state, Pid: p.pid, Started: p.started, Since: p.since,
			Restarts: p.restarts, Failures: p.failures, Crashes: p.crashes, Retries: p.retries,
			LastExit: p.lastExit, Err: p.err, Timers: byProc[p],
		}
		if p.pid != 0 {
			st, err := readProcStat(p.pid)
			if err != nil {
				return Saved{}, fmt.Errorf("process %q (pid %d): %w", p.spec.Name, p.pid, err)
			}
			sp.StartTicks = st.startTicks
		}
		s.Processes = append(s.Processes, sp)
	}
	return s, nil
}

// procStat is what adoption needs from /proc/PID/stat.
type procStat struct {
	state      byte
	ppid       int
	startTicks uint64
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields that follow start after its last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	var st procStat
	st.state = f[0][0]
	if st.ppid, err = strconv.Atoi(f[1]); err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: ppid: %w", pid, err)
	}
	if st.startTicks, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: starttime: %w", pid, err)
	}
	return st, nil
}

// NewAdopting is New for a process image that an in-place upgrade started:
// the monitor subscribes to SIGCHLD but leaves every exit unreaped until
// Adopt, so the exits of processes it has not adopted yet (including those
// that happened during the exec) stay zombies and are accounted once, by
// Adopt's first reap. Add the processes' specs, then call Adopt once.
func NewAdopting(opts Options) (*Monitor, error) {
	if opts.Backend != BackendReaper {
		return nil, errors.New("monitor: adoption needs the reaper backend: the pidfds of the previous image are gone")
	}
	if opts.SpawnHelper {
		return nil, errors.New("monitor: adoption and the spawn helper cannot be combined: the helper's children would not be the loop thread's")
	}
	return newMonitor(opts, true)
}

// AdoptReport says what Adopt did with each saved process.
type AdoptReport struct {
	// Adopted processes keep their pid and state.
	Adopted int
	// Lost names the processes whose pid is no longer the same process
	// (or no longer a child): they are FATAL with the reason.
	Lost []string
	// Unknown names saved processes that no spec was added for: their
	// running process group was killed (and its exit is reaped as an
	// orphan), so nothing runs unsupervised.
	Unknown []string
}

// ErrAdopted is returned by Adopt when called twice or on a monitor that
// NewAdopting did not create.
var ErrAdopted = errors.New("monitor: Adopt needs a monitor from NewAdopting, once")

// Adopt takes over the processes of a saved state: each must have been added
// (Add) under the same name, in state STOPPED. A running process is checked
// to be the same one (still a child of this process, same start time) before
// it is adopted. Counters, the last exit and pending timers (with their
// remaining time) carry over, and event sequence numbers continue from
// s.Seq. Adopt then reaps, so exits that happened while no image was
// listening are handled now, each once.
func (m *Monitor) Adopt(s Saved) (AdoptReport, error) {
	var r AdoptReport
	err := m.call(func(l *loop) error {
		if !l.adopting {
			return ErrAdopted
		}
		l.adopting = false
		r = l.adopt(s)
		l.reapAll()
		return nil
	})
	return r, err
}

func (l *loop) adopt(s Saved) AdoptReport {
	var r AdoptReport
	self := os.Getpid()
	if s.Seq > l.seq {
		l.seq = s.Seq
	}
	for _, sp := range s.Processes {
		same := false
		if sp.Pid != 0 {
			st, err := readProcStat(sp.Pid)
			same = err == nil && st.ppid == self && st.startTicks == sp.StartTicks
		}
		p, ok := l.procs[sp.Name]
		if !ok || p.state != StateStopped || p.pid != 0 {
			r.Unknown = append(r.Unknown, sp.Name)
			if same {
				l.log.Warn("upgrade: a process of the previous image has no program now; killing its group", "program", sp.Name, "pid", sp.Pid)
				killGroup(sp.Pid)
			}
			continue
		}
		p.started, p.restarts = sp.Started, sp.Restarts
		p.failures, p.crashes, p.retries = sp.Failures, sp.Crashes, sp.Retries
		p.lastExit, p.err = sp.LastExit, sp.Err
		if sp.Pid != 0 && !same {
			why := fmt.Sprintf("pid %d is no longer the process the previous image started", sp.Pid)
			r.Lost = append(r.Lost, sp.Name)
			l.emit(Event{Type: EventLost, Name: p.spec.Name, Pid: sp.Pid, Err: why})
			l.fatal(p, why)
			continue
		}
		p.state, p.since = sp.State, sp.Since
		p.gen++
		if sp.Pid != 0 {
			p.pid = sp.Pid
			l.byPid[sp.Pid] = p
		}
		for _, t := range sp.Timers {
			if k, ok := timerByName(t.Kind); ok {
				l.after(p, t.Remaining, k)
			} else {
				l.log.Warn("upgrade: unknown timer kind ignored", "program", sp.Name, "timer", t.Kind)
			}
		}
		r.Adopted++
	}
	return r
}

// ExecRequest is the program image Monitor.Exec replaces the process with.
type ExecRequest struct {
	Path string
	Argv []string
	Env  []string
	// Keep lists the descriptors to carry into the new image: their
	// close-on-exec flag is cleared just before execve (and set again if
	// it fails). Every other descriptor the process holds is close-on-exec.
	Keep []int
}

// ErrBusy is returned by Exec while one-shot commands run: their waiters
// live in this image only.
var ErrBusy = errors.New("monitor: one-shot commands are running")

// Exec replaces the process image, keeping the pid and every supervised
// process. On the loop, with nothing else able to change the state, it saves
// the state and calls prepare with it; prepare writes it where the new image
// will find it and returns the image to exec. The execve is made from the
// thread that forked every process (a child's death signal fires when that
// thread ends, and execve ends every other thread), so they all survive.
//
// Exec returns only on failure, with the state unchanged: prepare's error,
// or the execve error. It needs the reaper backend and no spawn helper.
func (m *Monitor) Exec(prepare func(Saved) (ExecRequest, error)) error {
	return m.call(func(l *loop) error {
		switch {
		case spawner == nil:
			// See execOnForkThread.
			return fmt.Errorf("monitor: exec needs the spawner thread (RunSpawner): %w", SpawnerError())
		case l.pidfds != nil:
			return errors.New("monitor: exec: the pidfd backend cannot carry its children across execve")
		case l.helper != nil:
			return errors.New("monitor: exec: processes spawned through the spawn helper would not survive execve")
		case l.adopting:
			return errors.New("monitor: exec: Adopt has not run yet")
		case len(l.oneshots) > 0:
			return fmt.Errorf("monitor: exec: %w (%d)", ErrBusy, len(l.oneshots))
		case l.closing:
			return ErrClosed
		}
		s, err := l.save()
		if err != nil {
			return fmt.Errorf("monitor: exec: save state: %w", err)
		}
		req, err := prepare(s)
		if err != nil {
			return err
		}
		return l.execOnForkThread(req.Path, req.Argv, req.Env, req.Keep)
	})
}

// execOnForkThread execs from the thread every process was forked from,
// the spawner thread (RunSpawner), carrying keep under the same numbers.
// It returns only on failure. Exec refuses without the spawner: processes
// are then forked by the loop's thread, and an exec from there would keep
// them, but in the new image they would be children of its main thread and
// die at the next exec, made from that image's loop thread.
func (l *loop) execOnForkThread(path string, argv, env []string, keep []int) error {
	return fmt.Errorf("monitor: %w", spawner.exec(&execJob{path: path, argv: argv, env: env, files: keep}))
}

func fcntl(fd, cmd, arg int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(cmd), uintptr(arg))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
