package initmode_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPty returns a new pseudo-terminal pair.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		master.Close()
		t.Fatal(err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Fatal(err)
	}
	return master, slave
}

// On a terminal the child's process group becomes the foreground group
// before the child runs, as with tini: the child sees its own group as the
// terminal's.
func TestInitOnTerminalPutsChildInForeground(t *testing.T) {
	requireTools(t)
	script := `read -r a b c d pgrp f g tpgid rest < /proc/self/stat; echo "pid=$$ pgrp=$pgrp tpgid=$tpgid"`
	re := regexp.MustCompile(`pid=(\d+) pgrp=(\d+) tpgid=(\d+)`)
	for _, i := range []impl{corral, tini} {
		master, slave := openPty(t)
		argv := i.argv([]string{"-s"}, "sh", "-c", script)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		slave.Close()
		out, _ := io.ReadAll(master) // EIO once every slave is closed
		master.Close()
		err := cmd.Wait()
		m := re.FindStringSubmatch(string(out))
		got := "no report"
		if m != nil {
			got = fmt.Sprintf("own group %v, foreground %v", m[1] == m[2], m[2] == m[3])
		}
		if err != nil || got != "own group true, foreground true" {
			t.Errorf("%s: %v, %s; output %q", i, err, got, out)
		}
	}
}
