package raft

import "errors"

// Sentinel errors. Messages match hashicorp/raft's exactly where the error
// exists there. Match with errors.Is: other packages wrap these with %w.
var (
	// ErrLeader is returned when an operation can't be done on a leader.
	ErrLeader = errors.New("node is the leader")
	// ErrNotLeader is returned when an operation can't be done on a follower
	// or candidate.
	ErrNotLeader = errors.New("node is not the leader")
	// ErrNotVoter is returned when an operation needs a voter.
	ErrNotVoter = errors.New("node is not a voter")
	// ErrLeadershipLost is returned when leadership is lost while an entry is
	// being committed; the entry may or may not commit later.
	ErrLeadershipLost = errors.New("leadership lost while committing log")
	// ErrAbortedByRestore is returned when a user snapshot restore aborts an
	// in-flight operation.
	ErrAbortedByRestore = errors.New("snapshot restored while committing log")
	// ErrRaftShutdown is returned for operations on a shut-down node.
	ErrRaftShutdown = errors.New("raft is already shutdown")
	// ErrEnqueueTimeout is returned when an operation times out.
	ErrEnqueueTimeout = errors.New("timed out enqueuing operation")
	// ErrNothingNewToSnapshot is returned when there is nothing new to snapshot.
	ErrNothingNewToSnapshot = errors.New("nothing new to snapshot")
	// ErrUnsupportedProtocol is returned for an operation the protocol version
	// in use does not support.
	ErrUnsupportedProtocol = errors.New("operation not supported with current protocol version")
	// ErrCantBootstrap is returned when bootstrapping a node with existing state.
	ErrCantBootstrap = errors.New("bootstrap only works on new clusters")
	// ErrLeadershipTransferInProgress is returned while a leadership transfer
	// is in progress.
	ErrLeadershipTransferInProgress = errors.New("leadership transfer in progress")
	// ErrIncompatibleLogStore is returned when a log store lacks a required
	// capability.
	ErrIncompatibleLogStore = errors.New("log store does not implement some required methods or malformed")

	// ErrLogNotFound is returned by LogStore.GetLog for a missing index.
	ErrLogNotFound = errors.New("log not found")
	// ErrKeyNotFound is returned by StableStore.Get (and may be by GetUint64)
	// for a missing key. Its text is "not found", as hashicorp/raft expects.
	ErrKeyNotFound = errors.New("not found")

	// ErrTransportShutdown is returned by a closed transport.
	ErrTransportShutdown = errors.New("transport shutdown")
	// ErrPipelineShutdown is returned by a closed append pipeline.
	ErrPipelineShutdown = errors.New("append pipeline closed")
	// ErrPipelineReplicationNotSupported is returned by a transport that
	// cannot pipeline; the engine then replicates synchronously.
	ErrPipelineReplicationNotSupported = errors.New("pipeline replication not supported")

	// ErrCorrupt is wrapped by every error that reports corrupt stored or
	// received data (a log record, a snapshot, a frame).
	ErrCorrupt = errors.New("corrupt data")
	// ErrMessageTooLarge is wrapped when a message exceeds a configured limit.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrInvalidConfig is wrapped by configuration validation failures.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrUnknownServer is returned for an operation naming a server that is not
	// in the configuration.
	ErrUnknownServer = errors.New("unknown server")
	// ErrConfigurationChanged is returned when prevIndex does not match the
	// latest configuration index.
	ErrConfigurationChanged = errors.New("configuration changed since prevIndex")
	// ErrLeadershipTransferTimeout is returned when a transfer's target did not
	// win within an election timeout.
	ErrLeadershipTransferTimeout = errors.New("leadership transfer timeout")
)

// Engine fail-stop errors (raftimpl: entry size, the identity of stored
// state).
var (
	// ErrEntryTooLarge is wrapped when Apply is given an entry larger than
	// the engine can replicate in one AppendEntries (Config.MaxEntrySize):
	// nothing was appended.
	ErrEntryTooLarge = errors.New("log entry too large to replicate")
	// ErrServerIDMismatch is wrapped when the stored state proves it was
	// written by a server with another ID than Config.LocalID.
	ErrServerIDMismatch = errors.New("stored state belongs to another server ID")
)

// Transport: the ReadIndex extension.
var (
	// ErrReadIndexUnsupported is returned (wrapped, together with
	// ErrNotLeader) by ReadIndex on a follower whose leader does not answer
	// Pontoon's ReadIndex RPC: a hashicorp/raft leader closes the connection
	// on it ("unknown rpc type 200"). Read on the leader instead.
	ErrReadIndexUnsupported = errors.New("the leader does not support ReadIndex (a hashicorp/raft node?)")
)

// Operations (metrics and logs).
var (
	// ErrStoreInUse is wrapped when a store's file is locked by another
	// process (another node, or a tool, has the data directory open).
	ErrStoreInUse = errors.New("in use by another process")
)
