//go:build unix

package logstore

import (
	"os"
	"syscall"
)

// tempInUse reports whether another process holds a lock on the file at p,
// as bbolt does on every file it has open (an flock, shared when read-only):
// such a file is not a leftover. A file that cannot be opened counts as in
// use.
func tempInUse(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return true
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
