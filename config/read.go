package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxFileSize bounds one configuration file (the main file or an
// included one). Real configurations are a few KiB; an include glob that
// matches a device such as /dev/zero must not read until memory runs out.
const MaxFileSize = 4 << 20

// readFile reads a configuration file: a regular file of at most
// MaxFileSize bytes. It opens with O_NONBLOCK so that a named pipe (say, one
// an [include] glob matches) is refused at once instead of blocking the
// reader, a daemon's reload among them, until someone writes to it.
func readFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, fileKind(fi.Mode()))
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than the %d bytes a configuration file may have (%d bytes)", path, MaxFileSize, fi.Size())
	}
	// The size may change under us: read at most one byte past the limit.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than the %d bytes a configuration file may have", path, MaxFileSize)
	}
	return data, nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "mode " + m.String()
}
