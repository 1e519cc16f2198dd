package logstore

import (
	"os"
	"syscall"
)

// fallocate allocates size bytes of f's blocks (unwritten extents: no data
// written) and sets its size; where the file system cannot, it only sets
// the size (blocks are then allocated as they are written).
func fallocate(f *os.File, size int64) error {
	serr := fdCall(f, func(fd int) error { return syscall.Fallocate(fd, 0, 0, size) })
	if serr == syscall.EOPNOTSUPP || serr == syscall.ENOSYS {
		return f.Truncate(size)
	}
	return serr
}
