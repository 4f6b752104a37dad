package eventlistener

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// A tapped stdout in capture mode: a token split across writes is still
// found, the communication is one event and stays out of the log, output
// is a PROCESS_LOG event with the pid (given after the output arrived),
// and the log gets the rest and then EOF.
func TestTapCaptureModeAndLogEvents(t *testing.T) {
	d, _ := newDispatcher(t)
	d.AddPool("p", []Type{ProcessCommunication, ProcessLog}, 100)
	f := newFake(t, d, "p", "p", 100)
	f.write("READY\n")
	logR, logW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer logR.Close()
	w, err := d.Tap(TapOptions{Process: "g:talker", LogEvents: true, CaptureMaxBytes: 1 << 20}, logW)
	if err != nil {
		t.Fatal(err)
	}
	// Written before the pid is known: held until Started.
	write := func(s string) {
		if _, err := w.WriteString(s); err != nil {
			t.Fatal(err)
		}
		settle(d)
	}
	write("hello\n")
	d.Started("g:talker", 77)
	// As supervisord's record_output: in capture mode, output no longer
	// than a token waits for more; a token's prefix at the end of a chunk
	// waits for the rest.
	write("before<!--XSUPER")
	write("VISOR:BEGIN-->the ")
	write("message<!--XSUPERVISOR:END-->after, and more\n")
	w.Close() // EOF: what waited is logged
	want := []string{
		"PROCESS_LOG_STDOUT processname:talker groupname:g pid:77 channel:stdout\nhello\nbefore",
		"PROCESS_LOG_STDOUT processname:talker groupname:g pid:77 channel:stdout\nthe message",
		"PROCESS_COMMUNICATION_STDOUT processname:talker groupname:g pid:77\nthe message",
		"PROCESS_LOG_STDOUT processname:talker groupname:g pid:77 channel:stdout\nafter, and more\n",
	}
	for _, w := range want {
		h, p := f.next()
		name := h[strings.Index(h, "eventname:")+10 : strings.Index(h, " len:")]
		if got := name + " " + p; got != w {
			t.Errorf("got %q, want %q", got, w)
		}
		f.write("RESULT 2\nOKREADY\n")
	}
	_ = logR.SetReadDeadline(time.Now().Add(hang))
	logged, err := io.ReadAll(logR)
	if err != nil {
		t.Fatal(err)
	}
	if string(logged) != "hello\nbeforeafter, and more\n" {
		t.Errorf("log got %q", logged)
	}
}

// A log pipe that takes nothing: the tap holds up to its high-water mark,
// then stops reading the process; nothing is lost once the log reads again.
func TestTapBackpressureLosesNothing(t *testing.T) {
	d, _ := newDispatcher(t)
	logR, logW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer logR.Close()
	w, err := d.Tap(TapOptions{Process: "x"}, logW)
	if err != nil {
		t.Fatal(err)
	}
	d.Started("x", 1)
	const total = 4 << 20
	wrote := make(chan error, 1)
	go func() {
		chunk := []byte(strings.Repeat("0123456789abcde\n", 4096))
		var err error
		for n := 0; n < total && err == nil; n += len(chunk) {
			_, err = w.Write(chunk)
		}
		w.Close()
		wrote <- err
	}()
	_ = logR.SetReadDeadline(time.Now().Add(hang))
	n, err := io.Copy(io.Discard, logR)
	if err != nil || n != total {
		t.Errorf("log got %d bytes (%v), want %d", n, err, total)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}
