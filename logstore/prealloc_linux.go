package logstore

import (
	"os"
	"syscall"
)

// fallocate allocates size bytes of f's blocks (unwritten extents: no data
// written) and sets its size.
func fallocate(f *os.File, size int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fallocate(int(fd), 0, 0, size)
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}
