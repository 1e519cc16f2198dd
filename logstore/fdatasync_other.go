//go:build !linux

package logstore

import "os"

// fdatasync flushes f; where fdatasync is not available, with fsync.
func fdatasync(f *os.File) error { return f.Sync() }
