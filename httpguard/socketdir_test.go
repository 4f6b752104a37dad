package httpguard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nobody is the other user of the tests (they run as root in CI).
const nobody = 65534

func TestCheckSocketDirRefusesDirectoriesOthersControl(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (to give a directory to nobody); CI runs it as root")
	}
	base := t.TempDir()
	mk := func(name string, mode os.FileMode, uid int) string {
		t.Helper()
		dir := filepath.Join(base, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, -1); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	for _, tt := range []struct {
		name string
		mode os.FileMode
		uid  int
		want []string // empty: accepted
	}{
		{"private", 0o700, 0, nil},
		{"readable", 0o755, 0, nil},
		{"root-sticky", 0o777 | os.ModeSticky, 0, nil},
		{"group-read", 0o750, 0, nil},
		{"nobody-owned", 0o700, nobody, []string{"owner uid 65534", "mode 0700", "not owned by you (uid 0) or root", "another user could replace the socket"}},
		{"world-writable", 0o777, 0, []string{"owner uid 0", "mode 0777", "writable by other users"}},
		{"group-writable", 0o770, 0, []string{"mode 0770", "writable by other users"}},
		{"nobody-sticky", 0o777 | os.ModeSticky, nobody, []string{"mode 1777", "owner uid 65534"}},
	} {
		dir := mk(tt.name, tt.mode, tt.uid)
		err := checkSocketDir(dir, 0)
		if len(tt.want) == 0 {
			if err != nil {
				t.Errorf("%s: refused: %v", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		for _, w := range append(tt.want, dir) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tt.name, err, w)
			}
		}
	}
	// A directory of the caller's own is fine for that caller.
	if err := checkSocketDir(mk("own", 0o700, nobody), nobody); err != nil {
		t.Errorf("nobody's own directory refused for nobody: %v", err)
	}
	if err := CheckSocketDir(filepath.Join(base, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing directory: %v", err)
	}
}
