package logs

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"
	"unsafe"
)

// TestStreamRecordSize: a Stream (one per log file of every process)
// fits the 320-byte size class; the next is 352.
func TestStreamRecordSize(t *testing.T) {
	if size := unsafe.Sizeof(Stream{}); size > 320 {
		t.Errorf("Stream: %d bytes, over the 320-byte size class (the next is 352)", size)
	}
}

// TestFollowerWaitingWakesAtStreamClose: a follower waiting for bytes
// (the stream's closed channel made at its first wait, not with the
// stream) gets io.EOF when the stream closes.
func TestFollowerWaitingWakesAtStreamClose(t *testing.T) {
	c := newCapture(t, Options{})
	s := openStream(t, c, StreamConfig{Path: filepath.Join(t.TempDir(), "app.log")})
	f, err := s.Follow(0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := make(chan error, 1)
	go func() {
		_, err := f.Read(ctx, make([]byte, 16))
		res <- err
	}()
	for waiting := false; !waiting; {
		s.mu.Lock()
		waiting = s.closedCh != nil
		s.mu.Unlock()
		if !waiting {
			if ctx.Err() != nil {
				t.Fatal("the follower never waited")
			}
			time.Sleep(time.Millisecond)
		}
	}
	s.Close()
	if err := <-res; err != io.EOF {
		t.Fatalf("waiting follower got %v at the stream's close, want io.EOF", err)
	}
}
