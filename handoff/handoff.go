// Package handoff is the state one corral daemon image hands to the next
// across an in-place upgrade (execve of a new binary, same pid), and the
// format a later "survive a daemon crash" mode can write to disk.
//
// The state is JSON with named fields, all optional except Version: a
// reader ignores the fields it does not know, so a later version adds
// fields without a new format version; a change that an older reader would
// misread takes a new Version, and a binary refuses a version it does not
// know (Check). Before the daemon execs a binary it runs it with
// CheckFlag and the version it will write, as a child: a binary that is not
// corral, or cannot read the format, is refused before the exec, and the
// daemon keeps running unchanged.
//
// Descriptors are carried by number: the writer clears close-on-exec on
// each (and only on those), and names them in the state. The state itself
// travels in a memfd whose number is in the environment variable EnvFD.
//
// This package never touches processes, sockets or logs: it writes and
// reads the state, nothing else.
package handoff

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/monitor"
)

// Version is the format this binary writes. Versions lists those it reads.
const Version = 1

// Versions are the format versions this binary can read.
var Versions = []int{1}

// EnvFD is the environment variable that holds the number of the memfd with
// the state, in the new image.
const EnvFD = "CORRAL_HANDOFF_FD"

// CheckFlag is the first argument of the check run: `corral --handoff-check
// N` prints CheckReply and exits 0 when it reads format N, else prints why
// and exits 1.
const CheckFlag = "--handoff-check"

// CheckReply starts the line a binary prints when it accepts a format:
// "corral-handoff ok <format> <corral version>".
const CheckReply = "corral-handoff ok"

// State is everything the new image needs to take over.
type State struct {
	Version int `json:"version"`
	// Written is when the state was written; From the corral version that
	// wrote it.
	Written time.Time `json:"written"`
	From    string    `json:"from"`
	// Pid is the daemon's pid: the reader checks it is its own (a state
	// file of a crash mode would be refused by another process).
	Pid int `json:"pid"`
	// BootID is /proc/sys/kernel/random/boot_id: pids and start times
	// mean nothing after a reboot.
	BootID string `json:"boot_id"`
	// RunID is the daemon run's token in every process's environment; the
	// new image keeps it, so the processes stay this run's.
	RunID string `json:"run_id"`
	// Started is when the daemon (the first image) started.
	Started time.Time `json:"started"`
	// Dir is the old image's working directory, which the new image takes
	// once its configuration is read (the exec itself runs in the
	// directory the daemon started in).
	Dir     string        `json:"dir,omitempty"`
	Monitor monitor.Saved `json:"monitor"`
	// Pipes are the read ends of the processes' output pipes.
	Pipes []Pipe `json:"pipes,omitempty"`
	// Files are other carried descriptors: listening sockets, by name.
	Files []File `json:"files,omitempty"`
}

// Pipe is the read end of one output pipe, and the stream it feeds.
type Pipe struct {
	// Process is a process whose Stream ("stdout" or "stderr") this pipe
	// feeds (processes sharing a log file share the stream).
	Process string `json:"process"`
	Stream  string `json:"stream"`
	FD      int    `json:"fd"`
}

// File is a carried descriptor with a name the writer and reader agree on
// ("listener/unix", "listener/inet").
type File struct {
	Name string `json:"name"`
	FD   int    `json:"fd"`
}

// FDs returns every descriptor the state carries.
func (s *State) FDs() []int {
	fds := make([]int, 0, len(s.Pipes)+len(s.Files))
	for _, p := range s.Pipes {
		fds = append(fds, p.FD)
	}
	for _, f := range s.Files {
		fds = append(fds, f.FD)
	}
	return fds
}

// File returns the descriptor carried under name, or -1.
func (s *State) File(name string) int {
	for _, f := range s.Files {
		if f.Name == name {
			return f.FD
		}
	}
	return -1
}

// Check returns nil when this binary reads format version v.
func Check(v int) error {
	for _, have := range Versions {
		if have == v {
			return nil
		}
	}
	return fmt.Errorf("handoff state format %d is not one this binary reads (it reads %v)", v, Versions)
}

// Encode writes s as JSON.
func Encode(w io.Writer, s *State) error {
	return json.NewEncoder(w).Encode(s)
}

// Decode reads a state and checks its version.
func Decode(r io.Reader) (*State, error) {
	// The version first, alone: a later format may not decode as this one.
	b, err := io.ReadAll(io.LimitReader(r, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("handoff: read state: %w", err)
	}
	var v struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("handoff: state is not JSON: %w", err)
	}
	if v.Version == nil {
		return nil, errors.New("handoff: state has no version")
	}
	if err := Check(*v.Version); err != nil {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("handoff: state format %d: %w", *v.Version, err)
	}
	return &s, nil
}

// WriteMemfd writes s into a new close-on-exec memfd and returns it; the
// caller carries it (monitor.ExecRequest.Keep) and names it in EnvFD.
func WriteMemfd(s *State) (int, error) {
	fd, err := unix.MemfdCreate("corral-handoff", unix.MFD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("handoff: memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "corral-handoff")
	if err := Encode(f, s); err != nil {
		f.Close()
		return -1, fmt.Errorf("handoff: write state: %w", err)
	}
	// The *os.File must not close the descriptor when collected.
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	f.Close()
	if err != nil {
		return -1, fmt.Errorf("handoff: memfd: %w", err)
	}
	return nfd, nil
}

// FromEnv reads the state an upgrade handed to this image, or returns nil
// when EnvFD is not set (a normal start). It removes EnvFD from the
// environment (so processes started from now on do not inherit it), closes
// the memfd, and checks the state is this process's and this boot's.
func FromEnv() (*State, error) {
	v, ok := os.LookupEnv(EnvFD)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(EnvFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("handoff: %s=%q is not a descriptor number", EnvFD, v)
	}
	f := os.NewFile(uintptr(fd), "corral-handoff")
	defer f.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("handoff: state descriptor %d: %w", fd, err)
	}
	s, err := Decode(f)
	if err != nil {
		return nil, err
	}
	if s.Pid != os.Getpid() {
		return nil, fmt.Errorf("handoff: the state is pid %d's, this is pid %d", s.Pid, os.Getpid())
	}
	if boot := BootID(); s.BootID != boot {
		return nil, fmt.Errorf("handoff: the state is from boot %s, this is boot %s", s.BootID, boot)
	}
	for _, fd := range s.FDs() {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return nil, fmt.Errorf("handoff: carried descriptor %d: %w", fd, err)
		}
		// Carried without close-on-exec; from now on like every other.
		unix.CloseOnExec(fd)
	}
	return s, nil
}

// BootID returns /proc/sys/kernel/random/boot_id, or "".
func BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// RunCheck is what a binary does when started with CheckFlag: it returns
// the line to print and the exit code.
func RunCheck(args []string, corralVersion string) (string, int) {
	if len(args) != 1 {
		return "usage: corral " + CheckFlag + " FORMAT", 1
	}
	v, err := strconv.Atoi(args[0])
	if err != nil {
		return fmt.Sprintf("corral-handoff refused: format %q is not a number", args[0]), 1
	}
	if err := Check(v); err != nil {
		return "corral-handoff refused: " + err.Error(), 1
	}
	return fmt.Sprintf("%s %d %s", CheckReply, v, corralVersion), 0
}
