package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral/daemon"
)

func processStatus(t *testing.T, srv string, name string) daemon.ProcessStatus {
	t.Helper()
	resp, err := http.Get(srv + "/v1/processes?name=" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sts []daemon.ProcessStatus
	if err := json.NewDecoder(resp.Body).Decode(&sts); err != nil || len(sts) != 1 {
		t.Fatalf("status of %s: %v %v", name, sts, err)
	}
	return sts[0]
}

// A restart whose client goes away while the old process is still stopping
// (it ignores SIGTERM, so the stop lasts its grace period) completes: the
// process ends up RUNNING, not STOPPED.
func TestRestartCompletesWhenTheClientGoesAway(t *testing.T) {
	srv := startServer(t, `[program.stubborn]
command = ["sh", "-c", "trap '' TERM; exec sleep 1000"]
start_secs = "0s"
stop_timeout = "2s"
`)
	waitRunning(t, srv, "stubborn")
	before := processStatus(t, srv.URL, "stubborn")
	// RUNNING comes at the spawn (start_secs 0): wait for the shell to have
	// set its trap and exec'd sleep, or the stop would be quick.
	for deadline := time.Now().Add(hang); ; time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(before.Pid) + "/cmdline")
		if strings.HasPrefix(string(b), "sleep\x00") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d never exec'd sleep", before.Pid)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/processes/stubborn/restart?wait=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// Go away once the stop is under way.
	for deadline := time.Now().Add(hang); ; time.Sleep(5 * time.Millisecond) {
		if processStatus(t, srv.URL, "stubborn").State == "STOPPING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never STOPPING")
		}
	}
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("client: %v, want it cancelled", err)
	}

	// The stop lasts the grace period, then the start must follow.
	deadline := time.Now().Add(hang)
	for {
		st := processStatus(t, srv.URL, "stubborn")
		if st.State == "RUNNING" && st.Pid != before.Pid {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the client went away: %s pid %d (was pid %d); want RUNNING with a new pid", st.State, st.Pid, before.Pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
