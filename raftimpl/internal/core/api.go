package core

import (
	"errors"

	raft "github.com/pontoon-raft/raft"
)

// This file is the contract between the protocol core and the driver
// (package raftimpl). The driver owns one *Core, calls it from one goroutine
// only, and does all I/O:
//
//	c := New(cfg, storage)
//	loop:
//	    c.Tick() / c.Step(msg) / c.Propose(entries) / c.VerifyLeader(id)
//	    if c.HasReady() {
//	        rd := c.Ready()
//	        1. persist rd.HardState (if non-nil) — before sending anything
//	        2. send the messages of rd.Messages whose Type is MsgApp, MsgHeartbeat,
//	           MsgVote, MsgPreVote or MsgTimeoutNow: they may go out while step 3
//	           runs (the leader writes its log in parallel with replicating it)
//	        3. persist rd.Entries (if rd.Entries[0].Index <= the last stored
//	           index, first delete the stored entries from rd.Entries[0].Index on)
//	        4. send the remaining messages (responses: they acknowledge state
//	           persisted in steps 1 and 3)
//	        5. hand rd.CommittedEntries to the apply loop, answer rd.ReadStates
//	        6. c.Advance(rd)
//	    }

// MsgType is the kind of a Message.
type MsgType uint8

const (
	// MsgApp is an AppendEntries request: Term, PrevLogIndex, PrevLogTerm,
	// Entries, Commit.
	MsgApp MsgType = iota + 1
	// MsgAppResp answers MsgApp. The driver builds it from the transport's
	// AppendEntriesResponse: Term, Success, LastLog, NoRetryBackoff; and from
	// the request it answers: Index = PrevLogIndex+len(Entries) on success,
	// PrevLogIndex on failure; Context copied from the request. A core
	// follower also sets LastLogTerm on failure (the term of its entry at
	// LastLog): optional, the leader backtracks faster with it and works
	// without it (zero when the wire cannot carry it).
	MsgAppResp
	// MsgHeartbeat is a heartbeat (Term only on the wire). Context identifies
	// the heartbeat round for VerifyLeader.
	MsgHeartbeat
	// MsgHeartbeatResp answers MsgHeartbeat: Term, Success, Context.
	MsgHeartbeatResp
	// MsgVote is a RequestVote: Term, LastLogIndex, LastLogTerm,
	// LeadershipTransfer.
	MsgVote
	// MsgVoteResp answers MsgVote: Term, Granted.
	MsgVoteResp
	// MsgPreVote is a RequestPreVote: Term (the proposed term), LastLogIndex,
	// LastLogTerm. It changes no state on the receiver.
	MsgPreVote
	// MsgPreVoteResp answers MsgPreVote: Term, Granted.
	MsgPreVoteResp
	// MsgTimeoutNow tells the receiver to start an election at once,
	// skipping pre-vote (leadership transfer).
	MsgTimeoutNow
	// MsgTimeoutNowResp answers MsgTimeoutNow.
	MsgTimeoutNowResp
	// MsgUnreachable is stepped by the driver (never sent) when a request to
	// From failed at the transport level (timeout, connection refused). The
	// core stops assuming anything it sent to From arrived.
	MsgUnreachable
)

// Message is one protocol message. Fields not used by a type are zero.
type Message struct {
	Type MsgType
	From raft.ServerID
	To   raft.ServerID
	Term uint64

	// Context is opaque to the core except for heartbeat rounds: the core
	// copies a request's Context into the response it generates. The driver
	// uses it to find the pending RPC a response answers.
	Context uint64

	// MsgApp.
	PrevLogIndex uint64
	PrevLogTerm  uint64
	Entries      []*raft.Log
	Commit       uint64

	// MsgAppResp.
	Index          uint64
	LastLog        uint64
	NoRetryBackoff bool

	// Responses.
	Success bool
	Granted bool

	// MsgVote / MsgPreVote.
	LastLogIndex       uint64
	LastLogTerm        uint64
	LeadershipTransfer bool
}

// IsResponse reports whether m answers a request.
func (m *Message) IsResponse() bool {
	switch m.Type {
	case MsgAppResp, MsgHeartbeatResp, MsgVoteResp, MsgPreVoteResp, MsgTimeoutNowResp:
		return true
	}
	return false
}

// HardState is what must be durable before any message that depends on it is
// sent: the current term and the vote cast in it.
type HardState struct {
	Term uint64
	// Vote is the candidate voted for in Term, "" if none.
	Vote raft.ServerID
}

// SoftState is volatile state the driver reports (State, Leader, observers).
type SoftState struct {
	Role   raft.RaftState
	Leader raft.ServerID
}

// ReadState answers VerifyLeader(ID): once OK, the node was leader at a moment
// after the call, and Index is its commit index then (a linearizable read
// may be served once the FSM has applied Index).
type ReadState struct {
	ID    uint64
	Index uint64
	// OK is false when leadership could not be confirmed (not leader, or
	// leadership lost before a quorum answered).
	OK bool
}

// Ready is what the driver must do next; see the loop at the top of this file.
type Ready struct {
	// SoftState is non-nil when role or leader changed.
	SoftState *SoftState
	// HardState is non-nil when term or vote changed.
	HardState *HardState
	// Entries are to be appended to the log store.
	Entries []*raft.Log
	// Messages are to be sent, in order per destination.
	Messages []Message
	// CommittedEntries are newly committed entries, in order, to apply.
	CommittedEntries []*raft.Log
	// ReadStates answer VerifyLeader calls.
	ReadStates []ReadState
}

// ConfState is the membership the core starts with.
type ConfState struct {
	Latest         raft.Configuration
	LatestIndex    uint64
	Committed      raft.Configuration
	CommittedIndex uint64
}

// Storage is the core's read-only view of what the driver has made durable.
// It is called only from the driver's goroutine, synchronously, inside Core
// methods. The driver makes entries of a Ready visible here before calling
// Advance.
type Storage interface {
	// InitialState returns the persisted hard state and membership.
	InitialState() (HardState, ConfState, error)
	// FirstIndex and LastIndex bound the stored entries (0, 0 if empty).
	FirstIndex() (uint64, error)
	LastIndex() (uint64, error)
	// Term returns the term of entry i, or ErrUnavailable if it is not stored.
	Term(i uint64) (uint64, error)
	// Entries returns entries [lo, hi), stopping early once their total Data
	// size reaches maxBytes (at least one entry is returned).
	Entries(lo, hi, maxBytes uint64) ([]*raft.Log, error)
}

// ErrUnavailable is returned by Storage for entries it does not hold.
var ErrUnavailable = errors.New("core: entry unavailable")

// Config configures a Core. Durations are in ticks; the driver ticks at a
// fixed interval (HeartbeatTimeout/10).
type Config struct {
	ID raft.ServerID
	// ElectionTick: a follower that has heard nothing from a leader for a
	// random [ElectionTick, 2*ElectionTick) ticks starts an election; a
	// candidate restarts after the same randomized timeout.
	ElectionTick int
	// HeartbeatTick: a leader sends heartbeats every HeartbeatTick ticks.
	HeartbeatTick int
	// LeaseTick: a leader that has not heard from a quorum within LeaseTick
	// ticks steps down (check-quorum).
	LeaseTick int
	// MaxAppendEntries bounds entries per MsgApp.
	MaxAppendEntries int
	// MaxInflight bounds unacknowledged MsgApp per follower.
	MaxInflight int
	// MaxSizePerMsg bounds the Data bytes of one MsgApp (at least one entry
	// is always sent).
	MaxSizePerMsg uint64
	// PreVote enables the pre-vote phase.
	PreVote bool
	// Seed seeds the core's private random source (election jitter).
	Seed int64
}
