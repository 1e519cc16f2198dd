package raft

import (
	"strconv"
	"time"
)

// LogType describes the kind of a log entry. The numeric values are those of
// hashicorp/raft and are part of the wire and disk formats: never renumber.
type LogType uint8

const (
	// LogCommand is applied to the user's FSM.
	LogCommand LogType = iota
	// LogNoop is written by a new leader to commit an entry of its own term.
	// It never reaches the FSM.
	LogNoop
	// LogAddPeerDeprecated is a membership entry of protocol version < 2.
	LogAddPeerDeprecated
	// LogRemovePeerDeprecated is a membership entry of protocol version < 2.
	LogRemovePeerDeprecated
	// LogBarrier makes sure every preceding entry has been applied. It
	// resolves its future when the FSM goroutine reaches it.
	LogBarrier
	// LogConfiguration carries an encoded Configuration (see
	// EncodeConfiguration). It takes effect when appended.
	LogConfiguration
)

// String returns the constant's name, or the number for unknown values.
func (t LogType) String() string {
	switch t {
	case LogCommand:
		return "LogCommand"
	case LogNoop:
		return "LogNoop"
	case LogAddPeerDeprecated:
		return "LogAddPeerDeprecated"
	case LogRemovePeerDeprecated:
		return "LogRemovePeerDeprecated"
	case LogBarrier:
		return "LogBarrier"
	case LogConfiguration:
		return "LogConfiguration"
	default:
		return strconv.FormatUint(uint64(t), 10)
	}
}

// Log is one entry of the replicated log. Its msgpack encoding (map keyed by
// field name, AppendedAt as time.MarshalBinary bytes) is shared with
// hashicorp/raft on the wire and on disk; see internal/codec.
type Log struct {
	// Index is the entry's position in the log, starting at 1.
	Index uint64
	// Term is the leader's term when the entry was created.
	Term uint64
	// Type says how the entry is interpreted.
	Type LogType
	// Data is the payload: a user command for LogCommand, an encoded
	// Configuration for LogConfiguration.
	Data []byte
	// Extensions is opaque middleware data. It is replicated and stored but
	// never interpreted by the engine.
	Extensions []byte
	// AppendedAt is set by the leader when the entry is dispatched. The
	// bootstrap entry carries the zero time.
	AppendedAt time.Time
}
