package raftimpl

import (
	"io"

	raft "github.com/pontoon-raft/raft"
)

// CountingReader is a reader that counts the bytes read through it. The
// reader FSM.Restore gets implements it (as in hashicorp/raft), so an FSM
// can report its restore's progress.
type CountingReader interface {
	io.Reader
	// Count returns the bytes read so far. Safe for concurrent use.
	Count() int64
}

// ReadCloserWrapper is a ReadCloser wrapping another; the reader FSM.Restore
// gets implements it (as in hashicorp/raft), giving access to the snapshot
// store's own reader.
type ReadCloserWrapper interface {
	io.ReadCloser
	// WrappedReadCloser returns the wrapped reader.
	WrappedReadCloser() io.ReadCloser
}

// WrappingFSM is an FSM middleware that exposes the FSM it wraps, as
// hashicorp/raft's (which only its test helpers unwrap; the engine does
// not, and neither does Pontoon's).
type WrappingFSM interface {
	// Underlying returns the wrapped FSM.
	Underlying() raft.FSM
}
