package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Cmd is a one-shot command run through the monitor, shaped like exec.Cmd.
// Use it instead of os/exec in a process whose monitor uses BackendReaper:
// the monitor reaps every child, so exec.Cmd.Wait would find its child gone.
type Cmd struct {
	Path string
	// Args holds the command line including argv[0].
	Args []string
	// Env is the environment; nil means the current process's.
	Env []string
	Dir string
	// Stdin, Stdout and Stderr work as in exec.Cmd: nil is /dev/null, an
	// *os.File is passed as is, anything else is copied through a pipe.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	// Process is the started process; set by Start. Use it to read the
	// pid or to send a signal (a signal after the exit was reaped returns
	// os.ErrProcessDone, never reaching a reused pid). Never call its Wait:
	// the monitor reaps the process. It holds a descriptor (a pidfd) until
	// it is garbage-collected; a program that runs many commands between
	// collections can close it with Release once Wait returned (a signal
	// then returns an error, not os.ErrProcessDone).
	Process *os.Process

	// ProcessState is set once Wait returns.
	ProcessState *ExitInfo

	// Cancel, when not nil, is called by Wait when the command's context
	// is done before the process exits, instead of the default, which
	// kills the process group with SIGKILL. As with exec.Cmd, an error
	// from Cancel other than os.ErrProcessDone is returned by Wait (when
	// the process exited successfully), and nil makes Wait return the
	// context's error in that case.
	Cancel func() error

	// WaitDelay bounds, as in exec.Cmd, how long Wait waits after the
	// context is done (for the process to exit after Cancel) and after the
	// exit (for the output copies to end). When it passes, the process
	// group is killed if the process is still running, the pipes are
	// closed, and Wait returns exec.ErrWaitDelay if there is no other
	// error. Zero waits without limit.
	WaitDelay time.Duration

	m       *Monitor
	ctx     context.Context
	pid     int
	waited  bool
	exit    chan *ExitInfo
	copiers sync.WaitGroup
	closers []io.Closer
	jobs    []pipeJob
	copyErr error
	copyMu  sync.Mutex
}

// ExitError reports a command that exited unsuccessfully.
type ExitError struct {
	*ExitInfo
	// Stderr holds standard error when Output collected it.
	Stderr []byte
}

// Error is "exit status N" or "signal: NAME", as exec.ExitError says it.
func (e *ExitError) Error() string {
	if e.Signal != 0 {
		return "signal: " + e.Signal.String()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// Command returns a Cmd that runs name with args through the monitor.
func (m *Monitor) Command(name string, args ...string) *Cmd {
	return m.CommandContext(context.Background(), name, args...)
}

// CommandContext is Command with a context: when ctx is done before the
// command exits, Cancel is called (by default its process group is killed
// with SIGKILL). A context already done when Start is called keeps the
// process from starting.
func (m *Monitor) CommandContext(ctx context.Context, name string, args ...string) *Cmd {
	return &Cmd{Path: name, Args: append([]string{name}, args...), m: m, ctx: ctx}
}

// Start starts the command; call Wait to release its resources.
func (c *Cmd) Start() error {
	if c.exit != nil || c.Process != nil {
		return errors.New("monitor: already started")
	}
	if c.m == nil {
		return errors.New("monitor: Cmd not made by Monitor.Command")
	}
	if c.ctx == nil {
		c.ctx = context.Background()
	}
	if err := c.ctx.Err(); err != nil {
		// As exec.Cmd does: a command whose context is done never runs.
		return err
	}
	spec := Spec{Name: "cmd:" + c.Path, Path: c.Path, Args: c.Args, Env: c.Env, Dir: c.Dir}
	if len(spec.Args) == 0 {
		spec.Args = []string{c.Path}
	}
	var childEnds []*os.File
	stdin, err := c.input(&childEnds)
	if err == nil {
		spec.Stdin = stdin
		spec.Stdout, err = c.output(c.Stdout, &childEnds)
	}
	if err == nil {
		if c.Stderr != nil && c.Stderr == c.Stdout {
			spec.Stderr = spec.Stdout
		} else {
			spec.Stderr, err = c.output(c.Stderr, &childEnds)
		}
	}
	closeChildEnds := func() {
		for _, f := range childEnds {
			f.Close()
		}
	}
	if err != nil {
		closeChildEnds()
		c.closeParentEnds()
		return err
	}
	c.exit = make(chan *ExitInfo, 1)
	err = c.m.call(func(l *loop) error {
		pid, err := l.startProcess(&spec, l.watch)
		if err != nil {
			return err
		}
		c.pid = pid
		exit := c.exit
		l.oneshots[pid] = func(e *ExitInfo) { exit <- e }
		// Here, on the loop, the process cannot have been reaped yet,
		// so the handle (a pidfd) is this process's, not a reused pid's.
		c.Process, _ = os.FindProcess(pid)
		return nil
	})
	closeChildEnds()
	if err != nil {
		c.exit = nil
		c.closeParentEnds()
		return fmt.Errorf("monitor: start %s: %w", c.Path, err)
	}
	c.startCopiers()
	return nil
}

// Wait waits for the command to exit and its output to be copied. It may be
// called once; a second call returns an error, as exec.Cmd's does.
func (c *Cmd) Wait() error {
	if c.exit == nil {
		return errors.New("monitor: not started")
	}
	if c.waited {
		return errors.New("monitor: Wait was already called")
	}
	c.waited = true
	var e *ExitInfo
	var ctxErr error
	var deadline time.Time // when WaitDelay ends, once the context is done
	select {
	case e = <-c.exit:
	case <-c.ctx.Done():
		ctxErr = c.cancel()
		if c.WaitDelay > 0 {
			deadline = time.Now().Add(c.WaitDelay)
			timer := time.NewTimer(c.WaitDelay)
			defer timer.Stop()
			select {
			case e = <-c.exit:
			case <-timer.C:
				_ = c.killGroup()
				if ctxErr == nil || ctxErr == c.ctx.Err() {
					ctxErr = exec.ErrWaitDelay
				}
				e = <-c.exit
			}
		} else {
			e = <-c.exit
		}
	}
	ioErr := c.awaitCopies(deadline)
	c.ProcessState = e
	if !e.Success() {
		return &ExitError{ExitInfo: e}
	}
	if ctxErr != nil {
		return ctxErr
	}
	c.copyMu.Lock()
	defer c.copyMu.Unlock()
	if c.copyErr != nil {
		return c.copyErr
	}
	return ioErr
}

// cancel runs Cancel (or kills the group) once the context is done, and
// returns the error Wait reports for it.
func (c *Cmd) cancel() error {
	var err error
	if c.Cancel != nil {
		err = c.Cancel()
	} else {
		err = c.killGroup()
	}
	switch {
	case err == nil:
		return c.ctx.Err()
	case errors.Is(err, os.ErrProcessDone):
		return nil
	}
	return fmt.Errorf("monitor: canceling %s: %w", c.Path, err)
}

// killGroup sends SIGKILL to the command's process group, through the loop,
// and only while the process is unreaped: after the reap its pid and group
// id may belong to someone else.
func (c *Cmd) killGroup() error {
	err := os.ErrProcessDone
	if e := c.m.do(func(l *loop) {
		if _, ok := l.oneshots[c.pid]; ok {
			err = syscall.Kill(-c.pid, syscall.SIGKILL)
		}
	}); e != nil {
		return e
	}
	return err
}

// awaitCopies waits for the output copies, at most WaitDelay (until
// deadline when the context ended, else from now), then closes the pipes.
// A deadline already past stops the copies at once.
func (c *Cmd) awaitCopies(deadline time.Time) error {
	defer c.closeParentEnds()
	if c.WaitDelay <= 0 || len(c.jobs) == 0 {
		c.copiers.Wait()
		return nil
	}
	copied := make(chan struct{})
	go func() { c.copiers.Wait(); close(copied) }()
	if deadline.IsZero() {
		deadline = time.Now().Add(c.WaitDelay)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-copied:
		return nil
	case <-timer.C:
		// A grandchild holds a pipe open: stop copying.
		return exec.ErrWaitDelay
	}
}

// Run starts the command and waits for it.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Output runs the command and returns its standard output. On an ExitError
// its Stderr holds standard error, when Stderr was nil.
func (c *Cmd) Output() ([]byte, error) {
	if c.Stdout != nil {
		return nil, errors.New("monitor: Stdout already set")
	}
	var out, errb bytes.Buffer
	c.Stdout = &out
	captureErr := c.Stderr == nil
	if captureErr {
		c.Stderr = &errb
	}
	err := c.Run()
	var ee *ExitError
	if captureErr && errors.As(err, &ee) {
		ee.Stderr = errb.Bytes()
	}
	return out.Bytes(), err
}

// CombinedOutput runs the command and returns standard output and standard
// error together.
func (c *Cmd) CombinedOutput() ([]byte, error) {
	if c.Stdout != nil || c.Stderr != nil {
		return nil, errors.New("monitor: Stdout or Stderr already set")
	}
	var b syncBuffer
	c.Stdout, c.Stderr = &b, &b
	err := c.Run()
	return b.Bytes(), err
}

// String returns the command line, for messages.
func (c *Cmd) String() string { return strings.Join(c.Args, " ") }

type pipeJob struct {
	r   io.Reader
	w   io.Writer
	end io.Closer
}

func (c *Cmd) input(childEnds *[]*os.File) (*os.File, error) {
	switch r := c.Stdin.(type) {
	case nil:
		return nil, nil
	case *os.File:
		return r, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	*childEnds = append(*childEnds, pr)
	c.closers = append(c.closers, pw)
	c.addJob(pipeJob{r: c.Stdin, w: pw, end: pw})
	return pr, nil
}

func (c *Cmd) output(w io.Writer, childEnds *[]*os.File) (*os.File, error) {
	switch f := w.(type) {
	case nil:
		return nil, nil
	case *os.File:
		return f, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	*childEnds = append(*childEnds, pw)
	c.closers = append(c.closers, pr)
	c.addJob(pipeJob{r: pr, w: w})
	return pw, nil
}

func (c *Cmd) addJob(j pipeJob) { c.jobs = append(c.jobs, j) }

func (c *Cmd) startCopiers() {
	for _, j := range c.jobs {
		c.copiers.Add(1)
		go func() {
			defer c.copiers.Done()
			_, err := io.Copy(j.w, j.r)
			if j.end != nil {
				j.end.Close() // stdin: EOF for the child
			}
			if err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, syscall.EPIPE) {
				c.copyMu.Lock()
				if c.copyErr == nil {
					c.copyErr = err
				}
				c.copyMu.Unlock()
			}
		}()
	}
}

func (c *Cmd) closeParentEnds() {
	c.jobs = nil
	for _, cl := range c.closers {
		cl.Close()
	}
	c.closers = nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Bytes()
}
