package logstore

import (
	"os"
	"syscall"
)

// fallocate allocates size bytes of f's blocks (unwritten extents: no data
// written) and sets its size; where the file system cannot, it only sets
// the size (blocks are then allocated as they are written).
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
	if serr == syscall.EOPNOTSUPP || serr == syscall.ENOSYS {
		return f.Truncate(size)
	}
	return serr
}
