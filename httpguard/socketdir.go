package httpguard

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// CheckSocketDir returns an error when dir, the directory of a unix
// socket, would let a user other than the caller (or root) replace the
// socket and so capture the requests and credentials meant for the
// daemon: dir must be owned by the caller's effective uid or by root, and
// not writable by group or others, unless it is a root-owned sticky
// directory such as /tmp (where no one may remove another user's socket).
// Read and search access for others is allowed: the socket's own mode
// decides who may connect.
func CheckSocketDir(dir string) error {
	return checkSocketDir(dir, os.Geteuid())
}

func checkSocketDir(dir string, euid int) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("socket directory %s: no owner information", dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("socket directory %s: not a directory", dir)
	}
	owner := int(st.Uid)
	mode := fi.Mode()
	bad := ""
	switch {
	case owner != euid && owner != 0:
		bad = fmt.Sprintf("is not owned by you (uid %d) or root", euid)
	case mode.Perm()&0o022 != 0 && !(owner == 0 && mode&os.ModeSticky != 0):
		bad = "is writable by other users"
	default:
		return nil
	}
	return fmt.Errorf("socket directory %s (owner %s, mode %s) %s: another user could replace the socket and capture requests; refusing it (remove it, or make it yours with no write access for group and others)",
		dir, describeUID(owner), modeString(mode), bad)
}

func describeUID(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("uid %d (%s)", uid, u.Username)
	}
	return fmt.Sprintf("uid %d", uid)
}

func modeString(m os.FileMode) string {
	p := uint32(m.Perm())
	if m&os.ModeSticky != 0 {
		p |= 0o1000
	}
	if m&os.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&os.ModeSetuid != 0 {
		p |= 0o4000
	}
	return fmt.Sprintf("%04o", p)
}
