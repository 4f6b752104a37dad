// Package safefs opens and replaces files that the daemon, often root,
// writes in directories other users may control (a program's log directory,
// the directory of a pidfile), without ever following a symlink such a user
// could have placed.
//
// A path is resolved one component at a time from "/", each directory held
// by a descriptor. A symlink is followed only when the directory holding it
// is trusted: owned by root or by the daemon's own user, and writable by no
// one else (not by its group unless that group is root's, not by others).
// In any other directory a symlink is refused with an error naming it, the
// last component is opened with O_NOFOLLOW relative to its directory's
// descriptor, and a regular file with more than one link (a hard link to a
// file elsewhere) is refused too. So a user who controls a directory can
// make the daemon fail to write there, never write elsewhere.
//
// It must never follow a symlink out of a directory another user can write,
// nor keep a descriptor beyond the call that needed it.
package safefs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxLinks bounds the symlinks followed in one resolution, as the kernel's
// MAXSYMLINKS does.
const maxLinks = 40

// Dir is a resolved directory: a descriptor (O_PATH) for *at calls. Close it.
type Dir struct {
	fd      int
	path    string // the path it was resolved from, for errors
	trusted bool   // owned by root or us and writable by no one else
}

// Close releases the directory's descriptor.
func (d *Dir) Close() error {
	if d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

// Fd returns the directory's descriptor, valid until Close.
func (d *Dir) Fd() int { return d.fd }

// Trusted reports whether only root or the daemon's own user can change the
// directory's entries.
func (d *Dir) Trusted() bool { return d.trusted }

// trusted says whether a directory with this stat can be changed only by
// root or by the daemon's user.
func trusted(st *unix.Stat_t) bool {
	uid := uint32(os.Geteuid())
	if st.Uid != 0 && st.Uid != uid {
		return false
	}
	if st.Mode&0o002 != 0 {
		return false
	}
	return st.Mode&0o020 == 0 || st.Gid == 0
}

// UntrustedError reports a symlink or a hard link the package refused to
// follow because its directory is writable by another user.
type UntrustedError struct {
	Path string // the path being resolved
	Name string // the component refused
	Dir  string // its directory
	Why  string
}

func (e *UntrustedError) Error() string {
	if e.Name == e.Path {
		return fmt.Sprintf("refusing %s: %s", e.Path, e.Why)
	}
	return fmt.Sprintf("%s: refusing %s: %s", e.Path, e.Name, e.Why)
}

// Unwrap lets errors.Is(err, unix.ELOOP) match a refused symlink.
func (e *UntrustedError) Unwrap() error { return unix.ELOOP }

func dirWhy(st *unix.Stat_t, dir string) string {
	return fmt.Sprintf("%s is writable by users other than root and the daemon's (owner uid %d, gid %d, mode %#o)", dir, st.Uid, st.Gid, st.Mode&0o7777)
}

// OpenParent resolves the directory holding path's last component and
// returns it with that last component's name. path is made absolute first.
func OpenParent(path string) (*Dir, string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", err
	}
	if abs == "/" {
		return nil, "", &os.PathError{Op: "open", Path: path, Err: unix.EISDIR}
	}
	return walk(path, abs, 0)
}

// walk resolves the parent of abs (absolute and clean), following symlinks
// of trusted directories. links counts the symlinks followed so far.
func walk(orig, abs string, links int) (*Dir, string, error) {
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", &os.PathError{Op: "open", Path: "/", Err: err}
	}
	d := &Dir{fd: fd, path: "/"}
	if err := d.stat(); err != nil {
		d.Close()
		return nil, "", err
	}
	comps := strings.Split(strings.TrimPrefix(abs, "/"), "/")
	for i, c := range comps[:len(comps)-1] {
		next, err := unix.Openat(d.fd, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ELOOP || err == unix.ENOTDIR {
			var st unix.Stat_t
			if e := unix.Fstatat(d.fd, c, &st, unix.AT_SYMLINK_NOFOLLOW); e == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				rest := strings.Join(comps[i+1:], "/")
				target, err := d.follow(orig, c, &st, links)
				d.Close()
				if err != nil {
					return nil, "", err
				}
				return walk(orig, filepath.Join(target, rest), links+1)
			}
		}
		if err != nil {
			d.Close()
			return nil, "", &os.PathError{Op: "open", Path: orig, Err: err}
		}
		unix.Close(d.fd)
		d.fd = next
		d.path = filepath.Join(d.path, c)
		if err := d.stat(); err != nil {
			d.Close()
			return nil, "", err
		}
	}
	return d, comps[len(comps)-1], nil
}

func (d *Dir) stat() error {
	var st unix.Stat_t
	if err := unix.Fstat(d.fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: d.path, Err: err}
	}
	d.trusted = trusted(&st)
	return nil
}

// onProc reports whether d is on procfs, whose links (/proc/self/fd/1) are
// the kernel's magic links.
func (d *Dir) onProc() bool {
	var fs unix.Statfs_t
	return unix.Fstatfs(d.fd, &fs) == nil && fs.Type == unix.PROC_SUPER_MAGIC
}

// follow returns the absolute target of the symlink name in d, whose lstat
// is st, if d may be trusted with it.
func (d *Dir) follow(orig, name string, st *unix.Stat_t, links int) (string, error) {
	if !d.trusted && !d.stickyOwned(st) {
		var dst unix.Stat_t
		_ = unix.Fstat(d.fd, &dst)
		return "", &UntrustedError{Path: orig, Name: filepath.Join(d.path, name), Dir: d.path, Why: "a symlink in a directory another user controls: " + dirWhy(&dst, d.path)}
	}
	if links >= maxLinks {
		return "", &os.PathError{Op: "open", Path: orig, Err: unix.ELOOP}
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(d.fd, name, buf)
	if err != nil {
		return "", &os.PathError{Op: "readlink", Path: filepath.Join(d.path, name), Err: err}
	}
	target := string(buf[:n])
	if !filepath.IsAbs(target) {
		target = filepath.Join(d.path, target)
	}
	return filepath.Clean(target), nil
}

// stickyOwned allows a symlink owned by root or us in a sticky directory
// (/tmp): no other user can replace it, as the kernel's protected_symlinks
// reasons.
func (d *Dir) stickyOwned(link *unix.Stat_t) bool {
	var st unix.Stat_t
	if unix.Fstat(d.fd, &st) != nil || st.Mode&unix.S_ISVTX == 0 {
		return false
	}
	return link.Uid == 0 || link.Uid == uint32(os.Geteuid())
}

// OpenFile opens path like os.OpenFile (flag is a combination of the
// unix.O_* flags; O_CLOEXEC and O_NOCTTY are added) and returns its
// descriptor. See the package documentation for what it refuses.
func OpenFile(path string, flag int, perm uint32) (int, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return -1, err
	}
	links := 0
	for {
		d, name, err := walk(path, abs, links)
		if err != nil {
			return -1, err
		}
		fd, next, err := d.open(path, name, flag, perm, links)
		d.Close()
		if err != nil || next == "" {
			return fd, err
		}
		abs = next
		links++
	}
}

// OpenAt opens name, a plain file name, in d as OpenFile does.
func (d *Dir) OpenAt(name string, flag int, perm uint32) (int, error) {
	fd, next, err := d.open(filepath.Join(d.path, name), name, flag, perm, 0)
	if err != nil || next == "" {
		return fd, err
	}
	return OpenFile(next, flag, perm)
}

// open opens name in d. If name is a symlink that d may be trusted with, it
// returns the target to resolve instead (next), unless d is on procfs, whose
// magic links (/proc/self/fd/1) only the kernel can follow.
func (d *Dir) open(orig, name string, flag int, perm uint32, links int) (fd int, next string, err error) {
	flag |= unix.O_CLOEXEC | unix.O_NOCTTY
	var st unix.Stat_t
	if e := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); e == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		if d.trusted && d.onProc() {
			fd, err := unix.Openat(d.fd, name, flag, perm)
			if err != nil {
				return -1, "", &os.PathError{Op: "open", Path: orig, Err: err}
			}
			return fd, "", nil
		}
		target, err := d.follow(orig, name, &st, links)
		if err != nil {
			return -1, "", err
		}
		return -1, target, nil
	}
	fd, err = unix.Openat(d.fd, name, flag|unix.O_NOFOLLOW, perm)
	if err == unix.ELOOP {
		// Swapped for a symlink since the lstat: only another user does that.
		return -1, "", &UntrustedError{Path: orig, Name: filepath.Join(d.path, name), Dir: d.path, Why: "a symlink appeared in a directory another user controls"}
	}
	if err != nil {
		return -1, "", &os.PathError{Op: "open", Path: orig, Err: err}
	}
	if !d.trusted {
		if err := unix.Fstat(fd, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink > 1 {
			unix.Close(fd)
			return -1, "", &UntrustedError{Path: orig, Name: filepath.Join(d.path, name), Dir: d.path, Why: fmt.Sprintf("a file with %d hard links in a directory another user controls", st.Nlink)}
		}
	}
	return fd, "", nil
}

// Lstat returns the stat of name in d, not following a symlink.
func (d *Dir) Lstat(name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return st, &os.PathError{Op: "stat", Path: filepath.Join(d.path, name), Err: err}
	}
	return st, nil
}

// Names returns the names of d's entries ("." and ".." left out).
func (d *Dir) Names() (map[string]bool, error) {
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: d.path, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set, nil
}

// Rename renames from to to, both in d. Neither is followed if a symlink.
func (d *Dir) Rename(from, to string) error {
	if err := unix.Renameat(d.fd, from, d.fd, to); err != nil {
		return &os.LinkError{Op: "rename", Old: filepath.Join(d.path, from), New: filepath.Join(d.path, to), Err: err}
	}
	return nil
}

// Remove removes the file name in d (a symlink itself, never its target).
func (d *Dir) Remove(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil {
		return &os.PathError{Op: "remove", Path: filepath.Join(d.path, name), Err: err}
	}
	return nil
}

// Remove removes path, resolved as OpenFile does; a symlink at path is
// removed itself.
func Remove(path string) error {
	d, name, err := OpenParent(path)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Remove(name)
}

// WriteFile replaces path with a new file holding data, with mode perm:
// it writes a temporary file in the same directory and renames it over
// path, so whatever was at path (a symlink included) is replaced, never
// written through.
func WriteFile(path string, data []byte, perm uint32) error {
	d, name, err := OpenParent(path)
	if err != nil {
		return err
	}
	defer d.Close()
	tmp := "." + name + ".tmp" + fmt.Sprint(os.Getpid())
	_ = unix.Unlinkat(d.fd, tmp, 0)
	fd, err := unix.Openat(d.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return &os.PathError{Op: "create", Path: filepath.Join(d.path, tmp), Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(d.path, tmp))
	_, err = f.Write(data)
	if e := f.Close(); err == nil {
		err = e
	}
	if err == nil {
		err = d.Rename(tmp, name)
	}
	if err != nil {
		_ = unix.Unlinkat(d.fd, tmp, 0)
		return err
	}
	return nil
}

// IsUntrusted reports whether err is a refusal by this package.
func IsUntrusted(err error) bool {
	var u *UntrustedError
	return errors.As(err, &u)
}
