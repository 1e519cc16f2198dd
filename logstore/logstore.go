package logstore

import raft "github.com/pontoon-raft/raft"

// LogStore stores and retrieves log entries.
//
// Implementations must be safe for concurrent use. An entry passed to
// StoreLog(s) is owned by the caller; the store copies what it keeps. A
// successful return means the entries are durable (fsynced), unless the store
// was explicitly configured otherwise for tests.
type LogStore interface {
	// FirstIndex returns the first index written, or 0 if there is none.
	FirstIndex() (uint64, error)

	// LastIndex returns the last index written, or 0 if there is none.
	LastIndex() (uint64, error)

	// GetLog fills log with the entry at index. A missing index returns
	// raft.ErrLogNotFound itself (unwrapped).
	GetLog(index uint64, log *raft.Log) error

	// StoreLog stores one entry.
	StoreLog(log *raft.Log) error

	// StoreLogs stores several entries atomically: after a crash either all
	// of them are present or none is. Indexes may leave gaps unless the store
	// is monotonic.
	StoreLogs(logs []*raft.Log) error

	// DeleteRange deletes the entries min through max, inclusive.
	DeleteRange(min, max uint64) error
}

// MonotonicLogStore is a LogStore whose indexes must stay contiguous: after a
// snapshot is installed the engine deletes the whole log rather than leaving a
// gap.
type MonotonicLogStore interface {
	IsMonotonic() bool
}

// CommitTrackingLogStore is a LogStore that can persist the commit index with
// the next StoreLogs.
type CommitTrackingLogStore interface {
	LogStore
	// StageCommitIndex records idx to be persisted atomically with the next
	// StoreLogs.
	StageCommitIndex(idx uint64) error
	// GetCommitIndex returns the last persisted commit index, (0, nil) if
	// unknown. It never exceeds LastIndex.
	GetCommitIndex() (uint64, error)
}

// StableStore stores the engine's small durable state: the current term and
// the last vote. Implementations must be safe for concurrent use, and a
// successful return means the value is durable.
type StableStore interface {
	// Set stores val under key. The store copies val.
	Set(key []byte, val []byte) error

	// Get returns the value under key, or raft.ErrKeyNotFound (text
	// "not found") if there is none. The caller owns the returned slice.
	Get(key []byte) ([]byte, error)

	// SetUint64 stores val under key.
	SetUint64(key []byte, val uint64) error

	// GetUint64 returns the value under key; a missing key returns either
	// raft.ErrKeyNotFound or (0, nil).
	GetUint64(key []byte) (uint64, error)
}
