package monitor

import (
	"testing"
	"unsafe"
)

// TestProcessRecordSize: the loop's record of a process, with the 8-byte
// header the Go allocator puts before an object of more than 512 bytes
// that holds pointers, fits the 768-byte size class. At 769 bytes it
// would take 896: 1.3 MB more at 10,000 processes.
func TestProcessRecordSize(t *testing.T) {
	if size := unsafe.Sizeof(process{}) + 8; size > 768 {
		t.Errorf("process record: %d bytes with the allocation header, over the 768-byte size class (the next is 896)", size)
	}
}
