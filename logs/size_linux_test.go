package logs

import (
	"testing"
	"unsafe"
)

// TestStreamRecordSize: a Stream (one per log file of every process)
// fits the 320-byte size class; the next is 352.
func TestStreamRecordSize(t *testing.T) {
	if size := unsafe.Sizeof(Stream{}); size > 320 {
		t.Errorf("Stream: %d bytes, over the 320-byte size class (the next is 352)", size)
	}
}
