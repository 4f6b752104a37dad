package logs

import (
	"os"
	"path/filepath"
	"testing"
)

// openDescriptors counts this process's open descriptors.
func openDescriptors(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestHoldDirsStreamsLandInTheirDirectories: streams opened while HoldDirs
// holds their directories (two directories, several streams each, one
// backup already on disk) write where their paths say, find their backups,
// and release leaves no descriptor open.
func TestHoldDirsStreamsLandInTheirDirectories(t *testing.T) {
	c := newCapture(t, Options{})
	dirs := []string{t.TempDir(), t.TempDir()}
	if err := os.WriteFile(filepath.Join(dirs[1], "b0.log.1"), pattern(50, 3), 0o640); err != nil {
		t.Fatal(err)
	}
	before := openDescriptors(t)
	release := c.HoldDirs()
	var streams []*Stream
	for _, dir := range dirs {
		for _, name := range []string{"a", "b"} {
			for i := range 3 {
				path := filepath.Join(dir, name+string(rune('0'+i))+".log")
				streams = append(streams, openStream(t, c, StreamConfig{Path: path, MaxBytes: 1000, Backups: 2}))
			}
		}
	}
	if got := openDescriptors(t); got != before+len(dirs) {
		t.Fatalf("%d descriptors open while holding, want %d (one per directory)", got, before+len(dirs))
	}
	release()
	if got := openDescriptors(t); got != before {
		t.Fatalf("%d descriptors open after release, want %d", got, before)
	}
	for _, s := range streams {
		if filepath.Base(s.Path()) == "b0.log" && filepath.Dir(s.Path()) == dirs[1] {
			if st := s.Stats(); st.FileStart != 50 {
				t.Fatalf("%s: file start %d, want 50 (after its backup)", s.Path(), st.FileStart)
			}
		}
		run(t, s, "echo "+filepath.Base(s.Path()))
		b, err := os.ReadFile(s.Path())
		if err != nil || string(b) != filepath.Base(s.Path())+"\n" {
			t.Fatalf("%s holds %q, %v; want its own name", s.Path(), b, err)
		}
	}
}
