package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
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

	// ProcessState is set once Wait returns.
	ProcessState *ExitInfo

	m       *Monitor
	ctx     context.Context
	pid     int
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
// command exits, its process group is killed.
func (m *Monitor) CommandContext(ctx context.Context, name string, args ...string) *Cmd {
	return &Cmd{Path: name, Args: append([]string{name}, args...), m: m, ctx: ctx}
}

// Start starts the command; call Wait to release its resources.
func (c *Cmd) Start() error {
	if c.exit != nil {
		return errors.New("monitor: Cmd already started")
	}
	if c.ctx == nil {
		c.ctx = context.Background()
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
		l.oneshots[pid] = c.exit
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

// Wait waits for the command to exit and its output to be copied.
func (c *Cmd) Wait() error {
	if c.exit == nil {
		return errors.New("monitor: Cmd not started")
	}
	var e *ExitInfo
	select {
	case e = <-c.exit:
	case <-c.ctx.Done():
		_ = syscall.Kill(-c.pid, syscall.SIGKILL)
		e = <-c.exit
	}
	c.copiers.Wait()
	c.closeParentEnds()
	c.ProcessState = e
	if e.Code != 0 || e.Signal != 0 {
		return &ExitError{ExitInfo: e}
	}
	return c.copyErr
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
