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
//	    c.Tick() / c.Step(msg) / c.Propose(entries) / c.VerifyLeader(id) /
//	    c.LeaseRead(id) / c.ReadIndex(id) / c.ProposeConfChange(cc) /
//	    c.TransferLeadership(id) / c.ReportSnapshot(info) /
//	    c.RestoreLocal(info) / c.StepDown() / c.SetTimeouts(e, l)
//	    if c.HasReady() {
//	        rd := c.Ready()
//	        1. persist rd.HardState (if non-nil) — before sending anything
//	        2. send the messages of rd.Messages whose Type is MsgApp, MsgHeartbeat,
//	           MsgVote, MsgPreVote, MsgTimeoutNow, MsgSnap or MsgReadIndex: they
//	           may go out while step 3 runs (the leader writes its log in
//	           parallel with replicating it)
//	        3. persist rd.Entries (if rd.Entries[0].Index <= the last stored
//	           index, first delete the stored entries from rd.Entries[0].Index on)
//	        4. send the remaining messages (responses: they acknowledge state
//	           persisted in steps 1 and 3)
//	        5. hand rd.CommittedEntries to the apply loop, answer rd.ReadStates,
//	           report rd.Transfer
//	        6. c.Advance(rd)
//	    }
//
// Advance (and AdvanceAsync) take back rd.Messages and rd.ReadStates: the
// core reuses their arrays for later Readys, so the driver copies out what
// it keeps of them (it sends messages by value) before calling it.
//
// Asynchronous writes: when c.CanAdvanceAsync(rd) (a leader or follower
// whose Ready changes no hard state, installs no snapshot and only appends),
// the driver may instead hand rd.Entries to a writer and go on at once: send
// every message but the MsgAppResp and MsgSnapResp (those wait until every
// write handed out so far completed, in order), apply rd.CommittedEntries,
// and call c.AdvanceAsync(rd). When a write completes, the driver makes its
// entries visible through Storage and calls c.EntriesPersisted(last index,
// last term), outside a Ready/Advance pair. A Ready done in place (Advance)
// is written only after every write in flight completed.
//
// A Ready with Snapshot set (a follower installing a leader's snapshot) adds
// a step between 1 and 2: restore the FSM from the snapshot rd.Snapshot names
// (already durable in the driver's SnapshotStore) and replace the stored log
// with an empty one that continues after rd.Snapshot.Index, so that Storage
// shows SnapshotInfo() == *rd.Snapshot and no entries. rd.Entries, if any,
// follow the snapshot (step 3), and rd.Messages hold the MsgSnapResp, which
// must not leave before this step is done.

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
	// core stops assuming anything it sent to From arrived. For MsgSnap it
	// means the snapshot was not installed (the leader retries later); for
	// MsgReadIndex that the follower's reads through From fail.
	MsgUnreachable
	// MsgSnap is an InstallSnapshot request: Term and Snapshot (the leader's
	// newest stored snapshot, Storage.SnapshotInfo() when it was sent). The
	// driver streams that snapshot (or a newer one: it then fixes Snapshot
	// to describe what it sent) and steps the receiver's MsgSnap only after
	// writing the data durably to the receiver's SnapshotStore. At most one
	// MsgSnap per follower is in flight; the driver must answer every one,
	// with a MsgSnapResp or a MsgUnreachable.
	MsgSnap
	// MsgSnapResp answers MsgSnap: Term, Success, Index (the snapshot's index
	// the driver sent, or the follower's commit index when it already had
	// everything), Context copied from the request.
	MsgSnapResp
	// MsgReadIndex asks the leader to confirm its leadership for a
	// follower's read (Pontoon-only RPC): Term, Context (the read's ID).
	MsgReadIndex
	// MsgReadIndexResp answers MsgReadIndex: Term, Success (leadership
	// confirmed by a quorum after the request arrived), Index (the leader's
	// commit index then), Context copied from the request.
	MsgReadIndexResp
)

// maxMsgType is the last valid MsgType.
const maxMsgType = MsgReadIndexResp

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

	// MsgSnap: the snapshot to install.
	Snapshot *SnapshotInfo
}

// IsResponse reports whether m answers a request.
func (m *Message) IsResponse() bool {
	switch m.Type {
	case MsgAppResp, MsgHeartbeatResp, MsgVoteResp, MsgPreVoteResp, MsgTimeoutNowResp,
		MsgSnapResp, MsgReadIndexResp:
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

// ReadState answers VerifyLeader(ID), LeaseRead(ID) or ReadIndex(ID): once
// OK, a leader of the cluster was confirmed at a moment after the call, and
// Index is its commit index then (a linearizable read may be served once this
// node's FSM has applied Index). Every call gets exactly one ReadState.
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
	// ReadStates answer VerifyLeader, LeaseRead and ReadIndex calls.
	ReadStates []ReadState
	// Snapshot is non-nil when this follower must install the leader's
	// snapshot it describes (see the top of this file for when).
	Snapshot *SnapshotInfo
	// Transfer is non-nil when a leadership transfer ended.
	Transfer *TransferResult
}

// TransferResult is the outcome of TransferLeadership.
type TransferResult struct {
	Target raft.ServerID
	// OK is true when this node stepped down because of a higher term (the
	// target, or someone, won an election); false when the transfer was
	// aborted: the target not caught up within ElectionTick ticks, or no
	// new term within ElectionTick ticks of MsgTimeoutNow (report
	// raft.ErrLeadershipTransferTimeout), or this node lost leadership
	// otherwise.
	OK bool
}

// SnapshotInfo describes a durable snapshot: the last entry it covers and
// the configuration in effect at that entry.
type SnapshotInfo struct {
	Index, Term        uint64
	Configuration      raft.Configuration
	ConfigurationIndex uint64
}

// ConfChangeCommand is a membership change (fact sheet §1).
type ConfChangeCommand uint8

const (
	// AddVoter adds a Voter; for an existing ID it updates the address and
	// makes the server a Voter.
	AddVoter ConfChangeCommand = iota
	// AddNonvoter adds a Nonvoter; for an existing ID that is not a
	// Nonvoter it only updates the address (the server keeps its vote).
	AddNonvoter
	// DemoteVoter makes a server a Nonvoter.
	DemoteVoter
	// RemoveServer removes a server.
	RemoveServer
	// AddNonvoterPromoting adds a Staging server (Pontoon's own; not
	// hashicorp/raft's AddStaging, which is AddVoter): it receives the log
	// but neither votes nor counts, and the leader proposes Promote for it
	// once its log has caught up. For an existing ID it only updates the
	// address.
	AddNonvoterPromoting
	// Promote turns a Staging server into a Voter.
	Promote
)

// ConfChange is one membership change. PrevIndex, if non-zero, must be the
// index of the latest configuration.
type ConfChange struct {
	Command   ConfChangeCommand
	ID        raft.ServerID
	Address   raft.ServerAddress
	PrevIndex uint64
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
//
// With snapshots, the log is the newest snapshot followed by the stored
// entries: entries below FirstIndex are compacted, and FirstIndex-1 is at
// most SnapshotInfo().Index (compaction never goes past the snapshot). The
// stored log may be empty after a snapshot (FirstIndex = LastIndex = 0): the
// log then ends at the snapshot's index.
type Storage interface {
	// InitialState returns the persisted hard state and membership: the
	// latest configuration and the committed one (the snapshot's, or a
	// newer one in the log after it).
	InitialState() (HardState, ConfState, error)
	// FirstIndex and LastIndex bound the stored entries (0, 0 if empty).
	FirstIndex() (uint64, error)
	LastIndex() (uint64, error)
	// Term returns the term of entry i: SnapshotInfo().Term for the
	// snapshot's index, ErrCompacted below FirstIndex, ErrUnavailable past
	// the end.
	Term(i uint64) (uint64, error)
	// Entries returns entries [lo, hi), stopping early once their total Data
	// size reaches maxBytes (at least one entry is returned); ErrCompacted
	// if lo is below FirstIndex.
	Entries(lo, hi, maxBytes uint64) ([]*raft.Log, error)
	// SnapshotInfo describes the newest durable snapshot (zero if none).
	SnapshotInfo() SnapshotInfo
}

// ErrUnavailable is returned by Storage for entries it does not hold.
var ErrUnavailable = errors.New("core: entry unavailable")

// ErrCompacted is returned by Storage for entries below FirstIndex: they
// were compacted into a snapshot.
var ErrCompacted = errors.New("core: entry compacted")

// ErrConfChangePending is returned by ProposeConfChange (and RestoreLocal)
// while the latest configuration is uncommitted or the leader has not yet
// committed an entry of its own term. It is temporary: the driver retries on
// later Readys, until the caller's deadline.
var ErrConfChangePending = errors.New("core: a configuration change is pending")

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
	// LeaseReads enables LeaseRead's fast path. Every server of the cluster
	// must set it alike: it also makes a server that has just started refuse
	// votes (but for leadership transfers) for ElectionTick ticks, as if it
	// had just heard from a leader, since it may have acknowledged one
	// before a restart. Without it LeaseRead is VerifyLeader.
	LeaseReads bool
	// LeaseDriftTicks is the safety margin of lease reads: a leader serves a
	// read from its lease only if a quorum of voters answered a heartbeat
	// sent within the last min(LeaseTick, ElectionTick)-LeaseDriftTicks
	// ticks (a follower that heard from the leader refuses other candidates
	// for at least ElectionTick ticks). Lease reads are
	// linearizable only if no server's clock runs slower than the leader's
	// by LeaseDriftTicks or more over a lease period, and only with
	// check-quorum on (it always is in this core). 0 <= LeaseDriftTicks;
	// LeaseDriftTicks >= LeaseTick disables the fast path.
	LeaseDriftTicks int
	// MaxAppendEntries bounds entries per MsgApp.
	MaxAppendEntries int
	// MaxInflight bounds unacknowledged MsgApp per follower.
	MaxInflight int
	// MaxSizePerMsg bounds the bytes of one MsgApp's entries, each counted
	// as EntrySize(e, EntryOverhead) (at least one entry is always sent); 0:
	// no bound.
	MaxSizePerMsg uint64
	// EntryOverhead is added to each entry's Data and Extensions when
	// counting against MaxSizePerMsg: the driver's allowance for the
	// entry's encoding in a message.
	EntryOverhead uint64
	// PreVote enables the pre-vote phase.
	PreVote bool
	// Seed seeds the core's private random source (election jitter).
	Seed int64
}

// The driver's calls beyond Tick, Step, Propose, Ready and Advance (each is
// documented where it is defined):
//
//   - VerifyLeader(id), LeaseRead(id), ReadIndex(id) (read.go, lease.go):
//     linearizable reads, answered in Ready.ReadStates.
//   - ProposeConfChange(cc) (confchange.go): one membership change at a
//     time; may fail with ErrConfChangePending, which is temporary.
//   - TransferLeadership(target) (transfer.go): the outcome comes in
//     Ready.Transfer.
//   - ReportSnapshot(info) (snapshot.go): a local snapshot became durable
//     and the log was compacted.
//   - CanRestore(), RestoreLocal(info), LastIndex() (snapshot.go): the
//     user's Restore.
//   - StepDown() (transfer.go): a leader whose disk stalls steps down.
//   - SetTimeouts(electionTick, leaseTick) (core.go): ReloadConfig.
