package snapshot

import (
	"io"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/transport"
)

// SnapshotStore stores snapshots. Implementations must be safe for concurrent
// use.
type SnapshotStore interface {
	// Create starts a new snapshot at index and term whose membership is
	// configuration (set at configurationIndex). trans is used only to encode
	// the legacy peer list. Nothing is visible to List or Open until the sink
	// is closed; a cancelled or abandoned sink leaves nothing behind.
	Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
		configurationIndex uint64, trans transport.Transport) (raft.SnapshotSink, error)

	// List returns the stored snapshots, newest (highest term, then index)
	// first.
	List() ([]*raft.SnapshotMeta, error)

	// Open returns a snapshot's meta and a reader of its data. The caller
	// must close the reader. Reading verifies the data's integrity where the
	// store records a checksum; a mismatch is an error wrapping
	// raft.ErrCorrupt.
	Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error)
}
