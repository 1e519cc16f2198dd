package logstore

import (
	"errors"
	"fmt"

	raft "github.com/pontoon-raft/raft"
	"go.etcd.io/bbolt"
)

// openError describes a failed bbolt.Open of path. bbolt reports a file
// locked by another process as a bare "timeout" once opts.Timeout has
// passed: that becomes an error naming the file as in use, wrapping
// raft.ErrStoreInUse (and bbolt's error).
func openError(path string, opts *bbolt.Options, err error) error {
	if errors.Is(err, bbolt.ErrTimeout) {
		return fmt.Errorf("log store: %s is %w (its file lock was not released within %s; is another node or tool using this data directory?): %w",
			path, raft.ErrStoreInUse, opts.Timeout, err)
	}
	return fmt.Errorf("log store %s: open: %w", path, err)
}
