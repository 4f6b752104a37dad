package sigqueue

import (
	"syscall"
	"testing"
)

// Close puts back the handler Catch replaced (here the Go runtime's).
func TestCloseRestoresHandler(t *testing.T) {
	var before, during, after sigactiont
	if err := rtSigaction(syscall.SIGTERM, nil, &before); err != nil {
		t.Fatal(err)
	}
	q, err := Catch([]syscall.Signal{syscall.SIGTERM})
	if err != nil {
		t.Fatal(err)
	}
	_ = rtSigaction(syscall.SIGTERM, nil, &during)
	q.Close()
	_ = rtSigaction(syscall.SIGTERM, nil, &after)
	if during.handler != func() uintptr { a, _ := handlerPCs(); return a }() {
		t.Errorf("SIGTERM handler while open: %#x, want sigtramp %#x", during.handler, func() uintptr { a, _ := handlerPCs(); return a }())
	}
	if after != before {
		t.Errorf("SIGTERM action after Close: %+v, want %+v", after, before)
	}
}
