package logs

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// A stream's Tap sees every byte stored in its file, in order, and so
// does the Tap of a stream that discards its bytes.
func TestTapSeesEveryByte(t *testing.T) {
	c := newCapture(t, Options{})
	dir := t.TempDir()
	var mu sync.Mutex
	var tapped, tappedDiscard bytes.Buffer
	tap := func(buf *bytes.Buffer) func([]byte) {
		return func(b []byte) {
			mu.Lock()
			defer mu.Unlock()
			buf.Write(b)
		}
	}
	path := filepath.Join(dir, "out.log")
	s := openStream(t, c, StreamConfig{Path: path, Tap: tap(&tapped)})
	discard := openStream(t, c, StreamConfig{Tap: tap(&tappedDiscard)})
	script := `i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; printf '\377\000end'`
	run(t, s, script)
	run(t, discard, script)
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(want) < 16000 || !bytes.Equal(tapped.Bytes(), want) {
		t.Errorf("tap saw %d bytes, the file holds %d (equal: %v)", tapped.Len(), len(want), bytes.Equal(tapped.Bytes(), want))
	}
	if !bytes.Equal(tappedDiscard.Bytes(), want) {
		t.Errorf("the discarding stream's tap saw %d bytes, want %d", tappedDiscard.Len(), len(want))
	}
}
