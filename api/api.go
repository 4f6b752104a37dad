package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
	"github.com/corralhq/corral/health"
	"github.com/corralhq/corral/logs"
	"github.com/corralhq/corral/monitor"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error string `json:"error"`
	// Results are set when an action on several processes failed for some.
	Results []daemon.Result `json:"results,omitempty"`
}

// ActionRequest asks for an action on several targets at once
// (POST /v1/actions/{action}, action start, stop, restart or signal).
type ActionRequest struct {
	Targets []string `json:"targets"`
	// Wait waits until each process is RUNNING (start, restart) or stopped.
	Wait bool `json:"wait,omitempty"`
	// Signal is the signal of a signal action, "HUP" or "1".
	Signal string `json:"signal,omitempty"`
}

// ActionResponse carries one result per process, in the order the action
// took them.
type ActionResponse struct {
	Results []daemon.Result `json:"results"`
}

// Process is the answer of GET /v1/processes/{name}.
type Process struct {
	Status daemon.ProcessStatus `json:"status"`
	// Config is the program's configuration with the TOML keys.
	Config map[string]any `json:"config"`
	// Health is the health check's status and last results, when the
	// program has one.
	Health *health.State `json:"health,omitempty"`
}

// SignalRequest is the body of POST /v1/processes/{target}/signal.
type SignalRequest struct {
	Signal string `json:"signal"`
}

// ShutdownResponse is the body of POST /v1/shutdown.
type ShutdownResponse struct {
	Shutdown bool `json:"shutdown"`
}

// Event is a monitor.Event with its type and states as names.
type Event struct {
	Seq   uint64             `json:"seq"`
	Type  string             `json:"type"`
	Time  time.Time          `json:"time"`
	Name  string             `json:"name,omitempty"`
	Pid   int                `json:"pid,omitempty"`
	From  string             `json:"from,omitempty"`
	State string             `json:"state,omitempty"`
	Exit  *daemon.ExitStatus `json:"exit,omitempty"`
	Delay time.Duration      `json:"delay_ns,omitempty"`
	Error string             `json:"error,omitempty"`
	// Missed counts the events lost by a "missed" marker: the client fell
	// behind and should re-list the processes.
	Missed uint64 `json:"missed,omitempty"`
	// Health and HealthFrom are a "health" event's new and previous health
	// status ("" is none: not running). Health events have Seq 0: they are
	// not the monitor's.
	Health     string `json:"health,omitempty"`
	HealthFrom string `json:"health_from,omitempty"`
}

// NewEvent converts a monitor event.
func NewEvent(e monitor.Event) Event {
	out := Event{
		Seq: e.Seq, Type: e.Type.String(), Time: e.Time, Name: e.Name, Pid: e.Pid,
		Exit: daemon.NewExitStatus(e.Exit), Delay: e.Delay, Error: e.Err, Missed: e.Missed,
	}
	if e.Name != "" {
		out.From, out.State = e.From.String(), e.State.String()
	}
	return out
}

type handler struct {
	d   *daemon.Daemon
	mux *http.ServeMux
}

// Handler returns the API for d, to be mounted at /v1/ of a server.
func Handler(d *daemon.Daemon) http.Handler {
	h := &handler{d: d, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /v1/info", h.info)
	h.mux.HandleFunc("GET /v1/processes", h.list)
	h.mux.HandleFunc("GET /v1/processes/{name}", h.inspect)
	h.mux.HandleFunc("POST /v1/processes/{target}/{action}", h.action)
	h.mux.HandleFunc("POST /v1/actions/{action}", h.actions)
	h.mux.HandleFunc("GET /v1/processes/{name}/logs", h.logs)
	h.mux.HandleFunc("GET /v1/tree", h.tree)
	h.mux.HandleFunc("POST /v1/programs", h.addProgram)
	h.mux.HandleFunc("GET /v1/programs/{name}", h.program)
	h.mux.HandleFunc("DELETE /v1/programs/{name}", h.removeProgram)
	h.mux.HandleFunc("POST /v1/reload", h.reload)
	h.mux.HandleFunc("GET /v1/events", h.events)
	h.mux.HandleFunc("GET /v1/health", h.health)
	h.mux.HandleFunc("POST /v1/shutdown", h.shutdown)
	h.mux.HandleFunc("POST /v1/upgrade", h.upgrade)
	h.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no API route %s %s", r.Method, r.URL.Path))
	})
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	defer h.recoverRequest(w, r)
	h.mux.ServeHTTP(w, r)
}

// recoverRequest, deferred by ServeHTTP, turns a handler's panic into a 500
// (when nothing was sent yet) and one line in the daemon's log, the stack
// at debug level: no request crashes the daemon or fills its log.
func (h *handler) recoverRequest(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v) // net/http's own way to abort a response
	}
	msg := strings.ReplaceAll(fmt.Sprint(v), "\n", " ")
	log := h.d.Logger()
	log.Error("api: request panicked", "method", r.Method, "path", r.URL.Path, "err", msg)
	log.Debug("api: panic stack", "path", r.URL.Path, "stack", string(debug.Stack()))
	writeError(w, http.StatusInternalServerError, fmt.Errorf("internal error: %s %s: %s", r.Method, r.URL.Path, msg))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, ErrorResponse{Error: err.Error()})
}

// statusOf classifies an error of the daemon.
func statusOf(err error) int {
	var ce *config.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, daemon.ErrNotSaved):
		// Checked first: whatever else happened, the change is not durable.
		return http.StatusInternalServerError
	case errors.Is(err, daemon.ErrNoSuchProcess), errors.Is(err, daemon.ErrNoSuchProgram), errors.Is(err, monitor.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, daemon.ErrProgramExists), errors.Is(err, daemon.ErrOverBudget), errors.Is(err, monitor.ErrAlreadyStarted), errors.Is(err, monitor.ErrNotRunning):
		return http.StatusConflict
	case errors.Is(err, daemon.ErrBadRequest), errors.As(err, &ce), errors.As(err, &mbe):
		return http.StatusBadRequest
	case errors.Is(err, daemon.ErrShuttingDown):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func fail(w http.ResponseWriter, err error) { writeError(w, statusOf(err), err) }

func badRequest(w http.ResponseWriter, format string, args ...any) {
	writeError(w, http.StatusBadRequest, fmt.Errorf(format, args...))
}

// decode reads a JSON body strictly: unknown fields, trailing values and
// nesting deeper than maxDepth are refused, naming what is wrong.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err)
	}
	if err := checkDepth(body, maxDepth); err != nil {
		return fmt.Errorf("%w: request body: %v", daemon.ErrBadRequest, err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: request body: %v", daemon.ErrBadRequest, err)
	}
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return fmt.Errorf("%w: request body: %q after the JSON value", daemon.ErrBadRequest, truncate(rest))
	}
	return nil
}

// truncate shortens what a message quotes from a request body.
func truncate(b []byte) []byte {
	if len(b) > 40 {
		return append(b[:40:40], "..."...)
	}
	return b
}

// bodyError describes a failed read of a request body.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: request body: larger than %d bytes", daemon.ErrBadRequest, mbe.Limit)
	}
	return fmt.Errorf("%w: request body: %v", daemon.ErrBadRequest, err)
}

// param is an optional integer query parameter.
type param struct {
	n   int64
	set bool
	err error
}

func int64Param(r *http.Request, name string) param {
	v := r.URL.Query().Get(name)
	if v == "" {
		return param{}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return param{err: fmt.Errorf("%w: parameter %s=%q: want a number of bytes", daemon.ErrBadRequest, name, v)}
	}
	return param{n: n, set: true}
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%w: parameter %s=%q: want true or false", daemon.ErrBadRequest, name, v)
	}
	return b, nil
}

func (h *handler) info(w http.ResponseWriter, r *http.Request) {
	in, err := h.d.Info()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, in)
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	sts, err := h.d.Status(r.URL.Query()["name"]...)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sts)
}

func (h *handler) inspect(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	sts, err := h.d.Status(name)
	if err != nil {
		fail(w, err)
		return
	}
	if len(sts) != 1 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%q names %d processes; name one (see GET /v1/processes?name=%s)", name, len(sts), name))
		return
	}
	out := Process{Status: sts[0]}
	if hs, ok := h.d.Health(sts[0].Name); ok {
		out.Health = &hs
	}
	for _, p := range h.d.ProgramConfig() {
		if p.Name == sts[0].Program {
			out.Config = ProgramFields(p)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) program(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	for _, p := range h.d.ProgramConfig() {
		if p.Name == name {
			writeJSON(w, http.StatusOK, ProgramFields(p))
			return
		}
	}
	fail(w, fmt.Errorf("%w: %q", daemon.ErrNoSuchProgram, name))
}

func (h *handler) action(w http.ResponseWriter, r *http.Request) {
	req := ActionRequest{Targets: []string{r.PathValue("target")}}
	var err error
	if req.Wait, err = boolParam(r, "wait"); err != nil {
		fail(w, err)
		return
	}
	action := r.PathValue("action")
	if action == "signal" {
		var sr SignalRequest
		if err := decode(r, &sr); err != nil {
			fail(w, err)
			return
		}
		req.Signal = sr.Signal
	}
	h.do(w, r, action, req)
}

func (h *handler) actions(w http.ResponseWriter, r *http.Request) {
	var req ActionRequest
	if err := decode(r, &req); err != nil {
		fail(w, err)
		return
	}
	if len(req.Targets) == 0 {
		badRequest(w, "no targets: name processes, programs, GROUP:* or all")
		return
	}
	h.do(w, r, r.PathValue("action"), req)
}

func (h *handler) do(w http.ResponseWriter, r *http.Request, action string, req ActionRequest) {
	var results []daemon.Result
	var err error
	ctx := r.Context()
	switch action {
	case "start":
		results, err = h.d.StartProcesses(ctx, req.Targets, req.Wait)
	case "stop":
		results, err = h.d.StopProcesses(ctx, req.Targets, req.Wait)
	case "restart":
		results, err = h.d.RestartProcesses(ctx, req.Targets, req.Wait)
	case "signal":
		if req.Signal == "" {
			badRequest(w, `signal: missing "signal" (a name such as "HUP" or a number)`)
			return
		}
		sig, perr := config.ParseSignal(req.Signal)
		if perr != nil {
			badRequest(w, "signal: %v", perr)
			return
		}
		results, err = h.d.SignalProcesses(req.Targets, sig)
	default:
		writeError(w, http.StatusNotFound, fmt.Errorf("unknown action %q (want start, stop, restart or signal)", action))
		return
	}
	writeResults(w, results, err)
}

// writeResults answers an action: 200 when every process succeeded, else
// the results with 409 when each failure is a conflict (already started,
// not running) and 500 otherwise.
func writeResults(w http.ResponseWriter, results []daemon.Result, err error) {
	if results == nil {
		results = []daemon.Result{}
	}
	if err == nil {
		writeJSON(w, http.StatusOK, ActionResponse{Results: results})
		return
	}
	if errors.Is(err, daemon.ErrNotSaved) {
		writeJSON(w, http.StatusInternalServerError, ErrorResponse{Error: err.Error(), Results: results})
		return
	}
	if !errors.Is(err, daemon.ErrActionFailed) {
		fail(w, err)
		return
	}
	status := http.StatusConflict
	for _, r := range results {
		if r.Error != "" && r.Code != "already_started" && r.Code != "not_running" {
			status = http.StatusInternalServerError
		}
	}
	writeJSON(w, status, ErrorResponse{Error: err.Error(), Results: results})
}

func (h *handler) addProgram(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxProgramBody))
	if err != nil {
		fail(w, bodyError(err))
		return
	}
	p, err := ParseProgram(body)
	if err != nil {
		fail(w, err)
		return
	}
	results, err := h.d.AddProgram(r.Context(), p)
	if err != nil && !errors.Is(err, daemon.ErrActionFailed) {
		fail(w, err)
		return
	}
	if err != nil {
		writeResults(w, results, err)
		return
	}
	if results == nil {
		results = []daemon.Result{}
	}
	writeJSON(w, http.StatusCreated, ActionResponse{Results: results})
}

func (h *handler) removeProgram(w http.ResponseWriter, r *http.Request) {
	if err := h.d.RemoveProgram(r.Context(), r.PathValue("name")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) reload(w http.ResponseWriter, r *http.Request) {
	df, err := h.d.Reload(r.Context())
	if err != nil {
		fail(w, fmt.Errorf("reload: %w", err))
		return
	}
	for _, l := range []*[]string{&df.Added, &df.Changed, &df.Removed} {
		if *l == nil {
			*l = []string{}
		}
	}
	writeJSON(w, http.StatusOK, df)
}

func (h *handler) shutdown(w http.ResponseWriter, r *http.Request) {
	h.d.RequestShutdown()
	writeJSON(w, http.StatusAccepted, ShutdownResponse{Shutdown: true})
}

// events streams monitor events, one JSON object per line, through the
// client's own subscription; it ends when the client goes or the monitor
// stops.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	sub, err := h.d.Monitor().Subscribe(1024)
	if err != nil {
		fail(w, err)
		return
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	end := h.endOnUpgrade(w, cancel)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		end.release()
		return
	}
	enc := json.NewEncoder(w)
	var wmu sync.Mutex
	send := func(ev Event) bool {
		wmu.Lock()
		defer wmu.Unlock()
		return enc.Encode(ev) == nil && rc.Flush() == nil
	}
	stopHealth := h.streamHealth(ctx, cancel, send)
	// The resume point is the last event sent, or the one before the
	// stream began: a client that got none still learns what it missed.
	last := sub.After()
	for {
		e, err := sub.Next(ctx)
		if err != nil || !send(NewEvent(e)) {
			break
		}
		last = e.Seq
	}
	stopHealth()
	end.finish(w, r, strconv.FormatUint(last, 10))
}

// logs sends a process's log: everything kept, the last tail bytes, or from
// position offset (a negative offset counts from the end); with follow, then the bytes as they arrive, until the
// client goes or the stream closes. The header X-Corral-Log-Offset gives the
// stream position of the first byte sent.
func (h *handler) logs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	stdout, stderr, err := h.d.Streams(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	s := stdout
	switch q.Get("stream") {
	case "", "stdout":
	case "stderr":
		s = stderr
	default:
		badRequest(w, "stream=%q: want stdout or stderr", q.Get("stream"))
		return
	}
	follow, err := boolParam(r, "follow")
	if err != nil {
		fail(w, err)
		return
	}
	// tail=N: the last N bytes kept; offset=N: from stream position N, or
	// with N < 0 the last -N bytes (supervisord's readLog). Either is
	// streamed from the files, never held whole in memory.
	tail, offset := int64Param(r, "tail"), int64Param(r, "offset")
	for _, p := range []*param{&tail, &offset} {
		if p.err != nil {
			fail(w, p.err)
			return
		}
	}
	if tail.set && offset.set {
		badRequest(w, "give tail or offset, not both")
		return
	}
	if tail.set && tail.n < 0 {
		badRequest(w, "tail=%d: want a number of bytes >= 0", tail.n)
		return
	}
	if offset.set && offset.n == math.MinInt64 {
		badRequest(w, "offset=%d: beyond any stream position", offset.n)
		return
	}
	if s == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		return
	}
	st := s.Stats()
	var pos int64
	switch {
	case tail.set:
		pos = max(st.Start, st.End-tail.n)
	case offset.set && offset.n < 0:
		pos = max(st.Start, st.End+offset.n)
	case offset.set:
		pos = min(offset.n, st.End)
	default:
		pos = st.Start
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Corral-Log-Offset", strconv.FormatInt(pos, 10))
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if follow {
		end := h.endOnUpgrade(w, cancel)
		defer func() { end.finish(w, r, strconv.FormatInt(pos, 10)) }()
	}
	w.WriteHeader(http.StatusOK)
	if pos, err = copyFrom(w, s, pos); err != nil {
		return
	}
	if !follow {
		return
	}
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	f, err := s.Follow(pos)
	if err != nil {
		fmt.Fprintf(w, "\n[corral: cannot follow: %v]\n", err)
		return
	}
	defer f.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(ctx, buf)
		pos = f.Pos()
		var gap *logs.GapError
		switch {
		case errors.As(err, &gap):
			fmt.Fprintf(w, "\n[corral: %d bytes were rotated away]\n", gap.Missed)
		case err != nil:
			return
		}
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// copyFrom writes the stream's kept bytes from pos to its end and returns
// the position after them.
func copyFrom(w io.Writer, s *logs.Stream, pos int64) (int64, error) {
	buf := make([]byte, 32<<10)
	for {
		n, err := s.ReadAt(buf, pos)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return pos, werr
			}
			pos += int64(n)
		}
		var gap *logs.GapError
		switch {
		case errors.As(err, &gap):
			fmt.Fprintf(w, "[corral: %d bytes were rotated away]\n", gap.Missed)
			pos = gap.Next
		case errors.Is(err, io.EOF):
			return pos, nil
		case err != nil:
			return pos, err
		}
	}
}
