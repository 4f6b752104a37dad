package handoff

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/monitor"
)

func TestDecodeRefusesUnknownVersion(t *testing.T) {
	for _, in := range []string{`{"version":2}`, `{"version":0}`, `{}`, `not json`} {
		if _, err := Decode(strings.NewReader(in)); err == nil {
			t.Errorf("Decode(%s) accepted it", in)
		}
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	s, err := Decode(strings.NewReader(`{"version":1,"run_id":"r","later_field":{"x":1}}`))
	if err != nil || s.RunID != "r" {
		t.Fatalf("Decode: %+v, %v", s, err)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	in := &State{Version: Version, Pid: 7, RunID: "run", Started: time.Unix(1, 0).UTC(),
		Monitor: monitor.Saved{Seq: 42, Processes: []monitor.SavedProcess{{Name: "a", State: monitor.StateBackoff,
			Restarts: 3, Timers: []monitor.SavedTimer{{Kind: "backoff", Remaining: time.Second}}}}},
		Pipes: []Pipe{{Process: "a", Stream: "stdout", FD: 9}}, Files: []File{{Name: "listener/unix", FD: 10}}}
	var b bytes.Buffer
	if err := Encode(&b, in); err != nil {
		t.Fatal(err)
	}
	out, err := Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Monitor.Seq != 42 || out.Monitor.Processes[0].Timers[0].Remaining != time.Second ||
		out.Monitor.Processes[0].State != monitor.StateBackoff || out.File("listener/unix") != 10 || out.File("x") != -1 ||
		len(out.FDs()) != 2 {
		t.Errorf("round trip: %+v", out)
	}
}

func TestFromEnv(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	fd, err := WriteMemfd(&State{Version: Version, Pid: os.Getpid(), BootID: BootID(), Files: []File{{Name: "p", FD: int(r.Fd())}}})
	if err != nil {
		t.Fatal(err)
	}
	unix.CloseOnExec(fd)
	t.Setenv(EnvFD, strconv.Itoa(fd))
	s, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if s.File("p") != int(r.Fd()) {
		t.Errorf("files %+v", s.Files)
	}
	if _, ok := os.LookupEnv(EnvFD); ok {
		t.Errorf("%s still set", EnvFD)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
		t.Errorf("state memfd %d still open", fd)
	}

	fd, err = WriteMemfd(&State{Version: Version, Pid: os.Getpid() + 1, BootID: BootID()})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvFD, strconv.Itoa(fd))
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "pid") {
		t.Errorf("state of another pid: %v", err)
	}
}

func TestRunCheck(t *testing.T) {
	if out, code := RunCheck([]string{strconv.Itoa(Version)}, "9.9"); code != 0 || out != CheckReply+" 1 9.9" {
		t.Errorf("RunCheck(current) = %q, %d", out, code)
	}
	for _, args := range [][]string{{"99"}, {"x"}, nil} {
		if out, code := RunCheck(args, "9.9"); code != 1 || strings.HasPrefix(out, CheckReply) {
			t.Errorf("RunCheck(%q) = %q, %d", args, out, code)
		}
	}
}
