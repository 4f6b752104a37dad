package daemon

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral/monitor"
)

func TestParseNotify(t *testing.T) {
	status := func(s string) *string { return &s }
	tests := []struct {
		msg  string
		want monitor.Notice
		ok   bool
	}{
		{"READY=1", monitor.Notice{Ready: true}, true},
		{"READY=1\nSTATUS=up and running\n", monitor.Notice{Ready: true, Status: status("up and running")}, true},
		{"STATUS=", monitor.Notice{Status: status("")}, true},
		{"MAINPID=42", monitor.Notice{MainPid: 42}, true},
		{"MAINPID=-1", monitor.Notice{}, false},
		{"WATCHDOG=1", monitor.Notice{Watchdog: true}, true},
		{"WATCHDOG=trigger", monitor.Notice{WatchdogTrigger: true}, true},
		{"WATCHDOG_USEC=2500000", monitor.Notice{WatchdogInterval: 2500 * time.Millisecond}, true},
		{"WATCHDOG_USEC=0", monitor.Notice{}, false},
		{"EXTEND_TIMEOUT_USEC=1000", monitor.Notice{ExtendTimeout: time.Millisecond}, true},
		{"RELOADING=1\nMONOTONIC_USEC=1", monitor.Notice{Reloading: true}, true},
		{"STOPPING=1", monitor.Notice{Stopping: true}, true},
		{"READY=0", monitor.Notice{}, false},
		{"FDSTORE=1\nBARRIER=1\nERRNO=2", monitor.Notice{}, false},
		// s6's notification fd: a newline, nothing else.
		{"\n", monitor.Notice{Ready: true}, true},
		{"", monitor.Notice{Ready: true}, false},
	}
	for _, tt := range tests {
		got, ok := ParseNotify([]byte(tt.msg))
		if ok != tt.ok || (ok && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("ParseNotify(%q) = %+v, %v; want %+v, %v", tt.msg, got, ok, tt.want, tt.ok)
		}
	}
}

// ready = "healthy" and NAME:healthy are driven by HealthChanged, the hook
// the health checks call.
func TestHealthChangedMakesReadyAndMeetsHealthyDependencies(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, `
[program.db]
command = "sleep 1000"
ready = "healthy"
start_secs = "0s"

[program.app]
command = "sleep 1000"
requires = ["db:healthy"]
start_secs = "0s"
`)
	d := startDaemon(t, path)
	db := waitState(t, d, "db", "STARTING")
	if st := waitState(t, d, "app", "WAITING"); st.WaitingFor != "db:healthy" {
		t.Fatalf("app waits for %q", st.WaitingFor)
	}
	if err := d.HealthChanged("db", db.Pid+1_000_000, true); err == nil {
		t.Fatal("a health result for another pid was accepted")
	}
	if err := d.HealthChanged("db", db.Pid, true); err != nil {
		t.Fatal(err)
	}
	if st := waitState(t, d, "db", "RUNNING"); !st.Healthy {
		t.Fatalf("db RUNNING but not healthy: %+v", st)
	}
	waitState(t, d, "app", "RUNNING")
}

func TestNotificationOver4KiBIgnored(t *testing.T) {
	dir := t.TempDir()
	big := "STATUS=" + strings.Repeat("x", MaxNotifyMessage)
	path := writeConfig(t, dir, `
[program.svc]
command = ["python3", "-c", "import os,socket,time; s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); a=os.environ['NOTIFY_SOCKET']; s.connect(chr(0)+a[1:] if a[0]=='@' else a); s.send(b'READY=1\\n`+big+`'); open('`+dir+`/sent','w').close(); s.send(b'STATUS=small'); time.sleep(1000)"]
ready = "notify"
start_secs = "0s"
`)
	d := startDaemon(t, path)
	var st ProcessStatus
	for deadline := time.Now().Add(hang); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		sts, err := d.Status("svc")
		if err == nil && len(sts) == 1 && sts[0].StatusText == "small" {
			st = sts[0]
			break
		}
	}
	if st.StatusText != "small" {
		t.Fatal("the small message after the big one never arrived")
	}
	if st.State != "STARTING" {
		t.Fatalf("state %s: the READY=1 of a message over 4 KiB was applied", st.State)
	}
}
