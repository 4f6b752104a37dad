package main

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// dropPrivileges becomes name (a user name or a uid) as supervisord's
// drop_privileges does: its supplementary groups (the groups that list it,
// its primary group first), its primary group, then its uid. It returns
// the uid, or supervisord's message for what failed (supervisord's
// wording, capitals included, hence a string rather than an error). Becoming the user the
// process already is succeeds without a change; any other user needs root.
// Go applies setgroups, setgid and setuid to every thread of the process.
func dropPrivileges(name string) (uid int, failed string) {
	var u *user.User
	if n, err := strconv.Atoi(name); err == nil {
		if u, err = user.LookupId(strconv.Itoa(n)); err != nil {
			return 0, fmt.Sprintf("Can't find uid %d", n)
		}
	} else if u, err = user.Lookup(name); err != nil {
		return 0, "Can't find username " + pyRepr(name)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if os.Getuid() == uid {
		return uid, ""
	}
	if os.Getuid() != 0 {
		return 0, "Can't drop privilege as nonroot user"
	}
	groups := []int{gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.Atoi(g); err == nil && n != gid {
				groups = append(groups, n)
			}
		}
	}
	if err := syscall.Setgroups(groups); err != nil {
		return 0, "Could not set groups of effective user"
	}
	if err := syscall.Setgid(gid); err != nil {
		return 0, "Could not set group id of effective user"
	}
	if err := syscall.Setuid(uid); err != nil {
		return 0, "Could not set user id of effective user"
	}
	return uid, ""
}

// userExists reports whether name is a user name or a uid with a user, as
// supervisord's name_to_uid checks -u.
func userExists(name string) bool {
	if _, err := strconv.Atoi(name); err == nil {
		_, err := user.LookupId(name)
		return err == nil
	}
	_, err := user.Lookup(name)
	return err == nil
}
