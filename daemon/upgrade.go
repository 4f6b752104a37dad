package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/handoff"
	"github.com/corralhq/corral/logs"
	"github.com/corralhq/corral/monitor"
)

// ErrUpgrade wraps every reason an upgrade was refused or failed; the old
// image keeps running unchanged whenever it is returned.
var ErrUpgrade = errors.New("upgrade failed")

// CheckTimeout bounds the check run of the new binary.
const CheckTimeout = 30 * time.Second

// upgradeState is the daemon's part of the upgrade.
type upgradeState struct {
	mu sync.Mutex // one upgrade at a time
	// followers are the long responses an upgrade ends before its exec
	// (followers.go).
	followers followers
	// exe is the daemon's binary when it started: the default upgrade target.
	exe string
	// dir is the working directory the daemon started in, where its command
	// line (a relative --config) means what it meant then: the exec runs
	// there, and the new image then moves to the directory the old one was
	// in (supervisord's daemonize may have changed it).
	dir string
	// adopted: this image was started by an upgrade.
	adopted *handoff.State
}

// Upgrade replaces the daemon's program image with binary (empty: the binary
// it was started from), keeping its pid, every process, their pipes and the
// listening sockets carry (see Options.Carry). It first runs binary with
// handoff.CheckFlag as a child, through the monitor: a binary that does not
// answer that it reads this state format is refused. Upgrade returns only
// on failure, wrapping ErrUpgrade, and then the daemon runs on unchanged.
func (d *Daemon) Upgrade(ctx context.Context, binary string) error {
	if !d.up.mu.TryLock() {
		return fmt.Errorf("%w: another upgrade is running", ErrUpgrade)
	}
	defer d.up.mu.Unlock()
	if binary == "" {
		binary = d.up.exe
	}
	abs, err := filepath.Abs(binary)
	if err != nil {
		return fmt.Errorf("%w: binary %q: %v", ErrUpgrade, binary, err)
	}
	if err := checkBinary(abs); err != nil {
		return fmt.Errorf("%w: %v", ErrUpgrade, err)
	}
	version, err := d.checkHandoff(ctx, abs)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUpgrade, err)
	}
	d.log.Info("upgrade: the new binary reads this state format; executing it", "binary", abs, "version", version, "format", handoff.Version)
	// Log followers and event streams end first, each telling its client
	// where to resume; the exec would cut them mid-stream.
	reopen := d.up.followers.end(followersWait)
	defer reopen()

	// No reload, add or remove runs across the exec.
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return fmt.Errorf("%w: %v", ErrUpgrade, ErrShuttingDown)
	}
	if why := d.notCarried(); why != "" {
		return fmt.Errorf("%w: %s: the upgrade does not carry it yet, so the program would lose it (docs/UPGRADE.md)", ErrUpgrade, why)
	}
	st := &handoff.State{
		Version: handoff.Version, Written: time.Now(), From: Version, Pid: os.Getpid(),
		BootID: handoff.BootID(), RunID: d.runID, Started: d.started,
	}
	st.Dir, _ = os.Getwd()
	var release func()
	if d.opts.Carry != nil {
		files, rel, err := d.opts.Carry()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUpgrade, err)
		}
		st.Files, release = files, rel
	}
	if release != nil {
		defer release()
	}
	stateFd := -1
	thaw := func() {}
	cwd, _ := os.Getwd()
	defer func() {
		if now, _ := os.Getwd(); now != cwd && cwd != "" {
			_ = os.Chdir(cwd) // the exec failed after prepare moved
		}
		thaw()
		if stateFd >= 0 {
			unix.Close(stateFd)
		}
	}()
	err = d.mon.Exec(func(s monitor.Saved) (monitor.ExecRequest, error) {
		// The capture is frozen here, on the monitor's loop, where no
		// spawn can make a pipe between the freeze and the exec: a pipe
		// made before is registered with the capture by then (its
		// commands run in order), so every read end is carried.
		pipes, th, err := d.capture.Freeze()
		if err != nil {
			return monitor.ExecRequest{}, fmt.Errorf("freeze the log capture: %w", err)
		}
		thaw = th
		st.Monitor = s
		st.Pipes = d.pipesLocked(pipes)
		fd, err := handoff.WriteMemfd(st)
		if err != nil {
			return monitor.ExecRequest{}, err
		}
		stateFd = fd
		if d.up.dir != "" && d.up.dir != cwd {
			if err := os.Chdir(d.up.dir); err != nil {
				return monitor.ExecRequest{}, fmt.Errorf("back to the directory the daemon started in: %w", err)
			}
		}
		// The same command line (argv[0] too: `supervisord` selects
		// supervisord's), so the new image reads the same configuration.
		env := append(withoutEnv(os.Environ(), handoff.EnvFD), handoff.EnvFD+"="+strconv.Itoa(fd))
		return monitor.ExecRequest{Path: abs, Argv: os.Args, Env: env, Keep: append(st.FDs(), fd)}, nil
	})
	d.log.Error("upgrade: the exec failed; this image runs on", "binary", abs, "err", err)
	return fmt.Errorf("%w: %v", ErrUpgrade, err)
}

func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// checkBinary refuses what execve would refuse, with a clearer message.
func checkBinary(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("binary: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("binary %s: not a regular file", path)
	}
	if err := unix.Access(path, unix.X_OK); err != nil {
		return fmt.Errorf("binary %s: not executable: %w", path, err)
	}
	return nil
}

// checkHandoff runs `binary --handoff-check FORMAT` through the monitor (a
// child the loop reaps) and returns the corral version it reports.
func (d *Daemon) checkHandoff(ctx context.Context, binary string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	cmd := d.mon.CommandContext(ctx, binary, handoff.CheckFlag, strconv.Itoa(handoff.Version))
	cmd.Env = withoutEnv(os.Environ(), handoff.EnvFD)
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		// Reaped by the monitor (Wait returned): Release only closes the
		// pidfd os.FindProcess opened, now rather than at some later GC,
		// so a refused upgrade leaves the descriptor count as it was.
		_ = cmd.Process.Release()
	}
	line := string(bytes.TrimSpace(out))
	if len(line) > 300 {
		line = line[:300] + "..."
	}
	if fields := strings.Fields(line); err == nil && strings.HasPrefix(line, handoff.CheckReply+" ") && len(fields) == 4 &&
		fields[2] == strconv.Itoa(handoff.Version) {
		return fields[3], nil
	}
	if strings.HasPrefix(line, "corral-handoff refused: ") {
		return "", fmt.Errorf("%s refuses this daemon's state (format %d): %s", binary, handoff.Version, strings.TrimPrefix(line, "corral-handoff refused: "))
	}
	if err == nil {
		err = errors.New("exit status 0")
	}
	return "", fmt.Errorf("%s is not a corral binary that can take over (it answered %s %d with %v: %q)", binary, handoff.CheckFlag, handoff.Version, err, line)
}

// pipesLocked names each frozen pipe by a process and stream that feed it.
// Caller holds d.mu.
func (d *Daemon) pipesLocked(frozen map[*logs.Stream][]int) []handoff.Pipe {
	var out []handoff.Pipe
	for _, pr := range d.procs {
		for kind, s := range map[string]*logs.Stream{"stdout": pr.stdout, "stderr": pr.stderr} {
			if s == nil {
				continue
			}
			for _, fd := range frozen[s] {
				out = append(out, handoff.Pipe{Process: pr.name, Stream: kind, FD: fd})
			}
			delete(frozen, s) // a shared stream's pipes, once
		}
		pr.mu.Lock()
		if pr.stdin.fd >= 0 {
			// The write end of its stdin pipe: without it the process
			// would read EOF after the exec.
			out = append(out, handoff.Pipe{Process: pr.name, Stream: "stdin", FD: pr.stdin.fd})
		}
		pr.mu.Unlock()
	}
	return out
}

// adoptHandoff, in an image started by an upgrade, takes over the pipes and
// the processes of the state (after every program is registered and the
// pump subscribed, so Adopt's first reap is seen).
func (d *Daemon) adoptHandoff(h *handoff.State) error {
	d.mu.Lock()
	for _, p := range h.Pipes {
		if p.Stream == "stdin" {
			if pr := d.procs[p.Process]; pr != nil && pr.stdin.on {
				pr.mu.Lock()
				pr.stdin.fd = p.FD
				pr.mu.Unlock()
				syscall.CloseOnExec(p.FD)
			} else {
				d.log.Warn("upgrade: a carried stdin pipe has no process with stdin now; closed", "program", p.Process)
				unix.Close(p.FD)
			}
			continue
		}
		var s *logs.Stream
		if pr := d.procs[p.Process]; pr != nil {
			s = pr.stdout
			if p.Stream == "stderr" && pr.stderr != nil {
				s = pr.stderr
			}
		}
		if s == nil {
			d.log.Warn("upgrade: a carried pipe has no stream now; closed", "program", p.Process, "stream", p.Stream)
			unix.Close(p.FD)
			continue
		}
		if _, err := s.AdoptPipe(p.FD); err != nil {
			d.log.Error("upgrade: cannot adopt a pipe", "program", p.Process, "stream", p.Stream, "err", err)
			unix.Close(p.FD)
		}
	}
	d.mu.Unlock()
	r, err := d.mon.Adopt(h.Monitor)
	if err != nil {
		return err
	}
	d.log.Info("upgrade: took over from the previous image", "from", h.From, "adopted", r.Adopted, "lost", len(r.Lost), "unknown", len(r.Unknown))
	for _, n := range r.Lost {
		d.log.Error("upgrade: a process is not the one the previous image started", "program", n)
	}
	for _, n := range r.Unknown {
		d.log.Warn("upgrade: a process of the previous image has no program now", "program", n)
	}
	return nil
}

// notCarried names the first thing of the configuration an upgrade would
// lose, or "": event listeners (their pipes belong to the dispatcher), an
// fcgi-program's socket. Caller holds d.mu.
func (d *Daemon) notCarried() string {
	for _, p := range d.programs {
		if usesListeners(*p.cfg) {
			return fmt.Sprintf("program %q is an event listener, or its output goes to event listeners", p.cfg.Name)
		}
		if p.cfg.Socket != nil {
			return fmt.Sprintf("fcgi-program %q has a socket", p.cfg.Name)
		}
	}
	return ""
}
