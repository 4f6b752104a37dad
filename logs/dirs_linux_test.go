package logs

import (
	"fmt"
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

// TestHoldDirsListingKnowsFilesAndBackups: past listAfter opens, a held
// directory answers from one listing whether a log file and its backups
// exist; the streams opened then find the same files, backups and
// positions as the first ones, which asked with a stat each.
func TestHoldDirsListingKnowsFilesAndBackups(t *testing.T) {
	c := newCapture(t, Options{})
	dir := t.TempDir()
	write := func(name string, n int) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), pattern(n, 7), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	// The same files for a stream asked about before the listing (2) and
	// for some asked about after it (3*listAfter and on).
	for _, i := range []int{2, 3 * listAfter} {
		write(fmt.Sprintf("p%d.log", i), 30)     // a file, no backup
		write(fmt.Sprintf("p%d.log.1", i+1), 50) // a backup, no file
		write(fmt.Sprintf("p%d.log", i+2), 10)   // a file and two backups
		write(fmt.Sprintf("p%d.log.1", i+2), 20)
		write(fmt.Sprintf("p%d.log.2", i+2), 40)
		write(fmt.Sprintf("p%d.log.2", i+3), 40) // a gap: .2 without .1 is not a backup
	}
	release := c.HoldDirs()
	streams := map[int]*Stream{}
	for i := range 4 * listAfter {
		streams[i] = openStream(t, c, StreamConfig{Path: filepath.Join(dir, fmt.Sprintf("p%d.log", i)), MaxBytes: 1000, Backups: 3})
	}
	release()
	type pos struct{ start, fileStart, end int64 }
	want := []pos{{0, 0, 30}, {0, 50, 50}, {0, 60, 70}, {0, 0, 0}}
	for _, first := range []int{2, 3 * listAfter} {
		for k, w := range want {
			st := streams[first+k].Stats()
			if got := (pos{st.Start, st.FileStart, st.End}); got != w {
				t.Errorf("p%d.log: start %d, file start %d, end %d; want %d, %d, %d", first+k, got.start, got.fileStart, got.end, w.start, w.fileStart, w.end)
			}
		}
	}
	// A file the listing did not see is still written to.
	s := streams[4*listAfter-1]
	run(t, s, "echo late")
	if b, err := os.ReadFile(s.Path()); err != nil || string(b) != "late\n" {
		t.Fatalf("%s holds %q, %v", s.Path(), b, err)
	}
}
