package raft

import "io"

// FSM is the replicated state machine a service provides.
//
// Apply, Snapshot and Restore are called from one goroutine (the apply loop),
// never concurrently with each other. FSMSnapshot.Persist runs on another
// goroutine and may run concurrently with Apply.
type FSM interface {
	// Apply applies a committed LogCommand entry. The returned value is handed
	// back to the caller of raftimpl's Apply through ApplyFuture.Response. It
	// must be deterministic: every replica applies the same entries in the
	// same order.
	Apply(*Log) interface{}

	// Snapshot returns a point-in-time snapshot of the state. It must be quick:
	// the heavy work belongs in FSMSnapshot.Persist, which runs off the apply
	// loop. Apply is not called while Snapshot runs.
	Snapshot() (FSMSnapshot, error)

	// Restore replaces the whole state with the contents of a snapshot. The FSM
	// must discard its previous state. It owns the reader and must close it.
	Restore(snapshot io.ReadCloser) error
}

// BatchingFSM is an FSM that can apply several committed entries at once.
// The engine probes for it and prefers ApplyBatch when it is present.
type BatchingFSM interface {
	// ApplyBatch applies entries in order and returns one response per entry:
	// the returned slice must have the same length as the input. Entries of
	// type LogConfiguration are included so the FSM can see membership; a
	// BatchingFSM does not receive StoreConfiguration calls. The slice and the
	// logs are only valid during the call.
	ApplyBatch([]*Log) []interface{}

	FSM
}

// ConfigurationStore is an FSM that also wants to see committed
// configurations.
type ConfigurationStore interface {
	FSM

	// StoreConfiguration is called with every committed configuration, from
	// the apply loop, in log order.
	StoreConfiguration(index uint64, configuration Configuration)
}

// FSMSnapshot is a snapshot returned by FSM.Snapshot.
type FSMSnapshot interface {
	// Persist writes the snapshot to sink and then calls sink.Close, or
	// sink.Cancel on failure. It runs off the apply loop, concurrently with
	// FSM.Apply.
	Persist(sink SnapshotSink) error

	// Release is called once the engine is done with the snapshot.
	Release()
}

// SnapshotSink receives the bytes of a snapshot being written. Close makes the
// snapshot durable and visible; Cancel discards it.
type SnapshotSink interface {
	io.WriteCloser
	// ID returns the identifier of the snapshot being written.
	ID() string
	// Cancel abandons the snapshot; nothing written so far becomes visible.
	Cancel() error
}

// SnapshotVersion is the version of the snapshot format.
type SnapshotVersion int

const (
	// SnapshotVersionMin is the oldest snapshot version this engine reads.
	SnapshotVersionMin SnapshotVersion = 0
	// SnapshotVersionMax is the newest snapshot version; new snapshots are
	// always written with it.
	SnapshotVersionMax SnapshotVersion = 1
)

// SnapshotMeta describes a stored snapshot. Its JSON form (plus a CRC field)
// is the meta.json of FileSnapshotStore, identical to hashicorp/raft's.
type SnapshotMeta struct {
	// Version is the snapshot format version.
	Version SnapshotVersion
	// ID identifies the snapshot in its store.
	ID string
	// Index and Term are those of the last entry the snapshot covers.
	Index uint64
	Term  uint64
	// Peers is the legacy (protocol < 2) msgpack list of voter addresses.
	Peers []byte
	// Configuration is the latest configuration as of Index, and
	// ConfigurationIndex the index of the entry that set it.
	Configuration      Configuration
	ConfigurationIndex uint64
	// Size is the size of the snapshot data in bytes.
	Size int64
}

// Future is an operation that completes in the future. Error blocks until it
// completes and returns its outcome; it may be called many times.
type Future interface {
	Error() error
}
