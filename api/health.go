package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
	"github.com/corralhq/corral/health"
)

// HealthResponse is the body of GET /v1/health and of GET /readyz?verbose.
type HealthResponse struct {
	// Healthy is true when every process asked about is healthy (ready,
	// for /readyz); the status is then 200, else 503.
	Healthy   bool            `json:"healthy"`
	Processes []HealthProcess `json:"processes"`
}

// HealthProcess is one process in a HealthResponse.
type HealthProcess struct {
	Name   string `json:"name"`
	Status string `json:"status"` // starting, healthy, unhealthy, or "" (not running)
	// State is the process state, on /readyz only.
	State string `json:"state,omitempty"`
	// Last is the last probe's result.
	Last *health.Result `json:"last,omitempty"`
}

// health answers GET /v1/health?names=a,b from the health checker's
// published snapshot: it never waits for the monitor's loop, a reload or
// a probe. names are processes, programs or groups (a name matches its
// processes "name:..."); none means every process with a check. 200 when
// all of them are healthy, 503 otherwise, 404 for a name with no check.
func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	var names []string
	for _, v := range r.URL.Query()["names"] {
		for n := range strings.SplitSeq(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	snap := h.d.HealthSnapshot()
	picked := map[string]bool{}
	for _, n := range names {
		found := false
		for key := range snap {
			if key == n || strings.HasPrefix(key, n+":") {
				picked[key], found = true, true
			}
		}
		if !found {
			writeError(w, http.StatusNotFound, fmt.Errorf("no process with a health check is named %q", n))
			return
		}
	}
	resp := HealthResponse{Healthy: true, Processes: []HealthProcess{}}
	for key, st := range snap {
		if len(names) > 0 && !picked[key] {
			continue
		}
		resp.Processes = append(resp.Processes, healthProcess(st))
		if st.Status != health.StatusHealthy {
			resp.Healthy = false
		}
	}
	sortHealth(resp.Processes)
	code := http.StatusOK
	if !resp.Healthy {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, resp)
}

func healthProcess(st health.State) HealthProcess {
	p := HealthProcess{Name: st.Name, Status: string(st.Status)}
	if n := len(st.Results); n > 0 {
		last := st.Results[n-1]
		p.Last = &last
	}
	return p
}

func sortHealth(ps []HealthProcess) {
	slices.SortFunc(ps, func(a, b HealthProcess) int { return strings.Compare(a.Name, b.Name) })
}

// HealthzSource is what /livez and /readyz report: the daemon's, or
// corral init's.
type HealthzSource interface {
	// Live reports whether the supervisor runs and is not shutting down.
	Live() bool
	// Ready reports whether every process is up (see HealthzHandler), with
	// each process's name, state and health.
	Ready() (bool, []HealthProcess)
}

// HealthzHandler serves health_listen for the daemon d (see ServeHealthz).
func HealthzHandler(d *daemon.Daemon) http.Handler { return ServeHealthz(daemonHealthz{d}) }

// ServeHealthz serves GET (or HEAD) /livez and /readyz and nothing else, no
// action, no information beyond health (with ?verbose, each process's
// name, state and health, never a probe's output). It is meant for an
// orchestrator's probes on a TCP port, so it has no authentication and
// must never grow a path that changes anything.
//
// /livez is 200 while the supervisor serves and has not begun to shut
// down. /readyz is 200 when no process is STARTING, BACKOFF, STOPPING or
// FATAL and every running process with a health check is healthy; 503
// otherwise.
func ServeHealthz(src HealthzSource) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		_, verbose := r.URL.Query()["verbose"]
		switch r.URL.Path {
		case "/livez":
			if !src.Live() {
				http.Error(w, "shutting down", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = fmt.Fprintln(w, "ok")
		case "/readyz":
			ok, procs := src.Ready()
			code := http.StatusOK
			if !ok {
				code = http.StatusServiceUnavailable
			}
			if verbose {
				writeJSON(w, code, HealthResponse{Healthy: ok, Processes: procs})
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(code)
			if ok {
				_, _ = fmt.Fprintln(w, "ok")
			} else {
				_, _ = fmt.Fprintln(w, "not ready")
			}
		default:
			http.NotFound(w, r)
		}
	})
}

// ReadyProcess adds one process to a /readyz answer: it returns p for the
// list and whether it is ready.
func ReadyProcess(name, state string, running bool, hs *health.State) (HealthProcess, bool) {
	p := HealthProcess{Name: name, State: state}
	ready := true
	switch state {
	case "STARTING", "BACKOFF", "STOPPING", "FATAL":
		ready = false
	}
	if hs != nil && running {
		p.Status = string(hs.Status)
		ready = ready && hs.Status == health.StatusHealthy
	}
	return p, ready
}

type daemonHealthz struct{ d *daemon.Daemon }

func (h daemonHealthz) Live() bool {
	select {
	case <-h.d.Quit():
		return false
	default:
		return true
	}
}

func (h daemonHealthz) Ready() (bool, []HealthProcess) {
	sts, err := h.d.Status()
	if err != nil {
		return false, []HealthProcess{}
	}
	all, procs := true, make([]HealthProcess, 0, len(sts))
	for _, st := range sts {
		var hsp *health.State
		if hs, ok := h.d.Health(st.Name); ok {
			hsp = &hs
		}
		p, ready := ReadyProcess(st.Name, st.State, st.Pid != 0, hsp)
		all = all && ready
		procs = append(procs, p)
	}
	return all, procs
}

// healthFields is a health check with its TOML keys, as ProgramFields
// gives a program.
func healthFields(h *config.Health) map[string]any {
	m := map[string]any{
		"interval": h.Interval.String(), "timeout": h.Timeout.String(),
		"start_period": h.StartPeriod.String(), "start_interval": h.StartInterval.String(),
		"retries": h.Retries, "on_unhealthy": string(h.OnUnhealthy),
	}
	switch {
	case len(h.Exec) > 0:
		m["exec"] = h.Exec
	case h.HTTP != "":
		m["http"] = h.HTTP
	default:
		m["tcp"] = h.TCP
	}
	return m
}

// streamHealth sends the daemon's health changes into an event stream, as
// "health" events, from one goroutine of the stream's own (a client of
// the stream may have one). When the client is too slow, a "missed" marker
// says to re-list. It returns the function that ends it; a failed send
// cancels the stream.
func (h *handler) streamHealth(ctx context.Context, cancel context.CancelFunc, send func(Event) bool) (stop func()) {
	hs := h.d.SubscribeHealth(256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case c := <-hs.C:
				if n := hs.Missed(); n > 0 && !send(Event{Type: "missed", Time: time.Now(), Missed: n}) {
					cancel()
					return
				}
				if !send(HealthEvent(c)) {
					cancel()
					return
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
		hs.Close()
	}
}

// HealthEvent converts a health change into a "health" event.
func HealthEvent(c health.Change) Event {
	return Event{Type: "health", Time: c.Time, Name: c.Name, Health: string(c.To), HealthFrom: string(c.From), Error: c.Last.Err}
}
