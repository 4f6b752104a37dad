package logs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/corralhq/corral/logs"
)

// A program's stdout and stderr go to one rotating log file; the caller
// waits for the pipe to be done before it reports the exit, so the last
// bytes are in the file by then.
func Example() {
	dir, _ := os.MkdirTemp("", "corral-logs-example")
	defer os.RemoveAll(dir)

	c, err := logs.New(logs.Options{})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	s, err := c.OpenStream(logs.StreamConfig{Path: filepath.Join(dir, "hello.log"), MaxBytes: 1 << 20, Backups: 3})
	if err != nil {
		panic(err) // names the path; a daemon would discard the output instead
	}
	defer s.Close()

	w, done, err := s.NewPipe()
	if err != nil {
		panic(err)
	}
	cmd := exec.Command("/bin/sh", "-c", "echo hello; echo oops >&2")
	cmd.Stdout, cmd.Stderr = w, w // stderr redirected into stdout
	err = cmd.Start()
	w.Close() // the child holds the write end now
	if err != nil {
		panic(err)
	}
	<-done // every byte the program wrote is in the file
	cmd.Wait()

	tail, _, _ := s.Tail(100)
	fmt.Printf("%s", tail)
	// Output:
	// hello
	// oops
}

// A follower reads new bytes as they arrive, across rotations, reading the
// files itself so the capture never waits for it.
func ExampleStream_Follow() {
	dir, _ := os.MkdirTemp("", "corral-logs-example")
	defer os.RemoveAll(dir)
	c, _ := logs.New(logs.Options{})
	defer c.Close()
	s, _ := c.OpenStream(logs.StreamConfig{Path: filepath.Join(dir, "app.log"), MaxBytes: 4})
	f, _ := s.Follow(0)
	defer f.Close()

	w, done, _ := s.NewPipe()
	w.WriteString("one\ntwo\n") // 8 bytes: app.log.1 and app.log
	w.Close()
	<-done
	s.Close()

	buf := make([]byte, 64)
	for {
		n, err := f.Read(context.Background(), buf)
		if err != nil {
			break // io.EOF: the stream is closed and fully read
		}
		fmt.Printf("%q\n", buf[:n])
	}
	// Output:
	// "one\n"
	// "two\n"
}
