package logs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestClearEmptiesFileAndBackupsAndPositionsKeepCounting(t *testing.T) {
	c := newCapture(t, Options{})
	path := filepath.Join(t.TempDir(), "app.log")
	s := openStream(t, c, StreamConfig{Path: path, MaxBytes: 1000, Backups: 2})
	w, done, err := s.NewPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write(pattern(2500, 3))
	f, err := s.Follow(0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().End < 2500 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}

	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Start != 2500 || st.FileStart != 2500 || st.End != 2500 {
		t.Fatalf("stats after Clear %+v, want start = file start = end = 2500", st)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("log file after Clear: %v, %v; want an empty file", fi, err)
	}
	for _, b := range []string{path + ".1", path + ".2"} {
		if _, err := os.Stat(b); !os.IsNotExist(err) {
			t.Fatalf("backup %s still there after Clear (%v)", b, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.Read(ctx, make([]byte, 10)); err == nil {
		t.Fatal("follower behind the cleared bytes read without a gap")
	} else if gap, ok := isGap(err); !ok || gap.Missed != 2500 {
		t.Fatalf("follower got %v, want a gap of 2500 bytes", err)
	}

	// Writing goes on at the start of the file.
	w.Write([]byte("after\n"))
	w.Close()
	<-done
	if b, _ := os.ReadFile(path); string(b) != "after\n" {
		t.Fatalf("file after Clear and a write = %q, want %q", b, "after\n")
	}
	tail, from, err := s.Tail(100)
	if err != nil || from != 2500 || !bytes.Equal(tail, []byte("after\n")) {
		t.Fatalf("Tail = %q from %d, %v", tail, from, err)
	}
	if got := readUntil(t, f, 6); string(got) != "after\n" {
		t.Fatalf("follower read %q after the gap", got)
	}
}

func TestClearOfADiscardingStreamIsNotReadable(t *testing.T) {
	c := newCapture(t, Options{})
	s := openStream(t, c, StreamConfig{})
	if err := s.Clear(); err != ErrNotReadable {
		t.Fatalf("Clear = %v, want ErrNotReadable", err)
	}
}
