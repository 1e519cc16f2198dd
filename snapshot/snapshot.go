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

// DamageReporter is implemented by stores that can tell which of the
// snapshots they once made durable can no longer be read (List leaves those
// out). The engine probes for it at start: it must not fall back to an older
// snapshot when that would lose entries only a damaged one held.
type DamageReporter interface {
	// Damaged returns the damaged snapshots, in no particular order. It must
	// be safe for concurrent use; an error means the store could not be
	// examined.
	Damaged() ([]DamagedSnapshot, error)
}

// DamagedSnapshot describes a stored snapshot that cannot be read. Index and
// Term are what the store still knows of it (for FileSnapshotStore, from the
// directory's name); Err says what is wrong and names the file.
type DamagedSnapshot struct {
	ID          string
	Index, Term uint64
	Err         error
}
