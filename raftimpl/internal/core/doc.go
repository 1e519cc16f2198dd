// Package core is Pontoon's Raft protocol core: a deterministic state machine
// that owns term, vote, role, the log's indexes, per-follower progress, the
// commit index and membership. It does no I/O, reads no clock, starts no
// goroutine and draws randomness only from a source seeded by Config.Seed, so
// that a seed reproduces any run exactly (see sim_test.go).
//
// # Inputs and outputs
//
// The driver (package raftimpl) feeds the core events — Tick, Step (a message
// arrived), Propose, VerifyLeader — from a single goroutine. The core answers
// by accumulating a Ready: hard state to persist, entries to append, messages
// to send, committed entries to apply and read states to answer. The driver
// takes it with Ready, carries it out, and acknowledges it with Advance. No
// other call may come between Ready and the matching Advance.
//
// # The ordering contract
//
// Correctness rests on the driver doing a Ready's work in this order (api.go
// repeats it):
//
//  1. Persist HardState. Every message of the Ready may depend on it (a vote
//     response, a request carrying the new term), so nothing is sent first.
//     Then, if Snapshot is set, install it: restore the FSM from it and
//     replace the stored log with an empty one after it (its MsgSnapResp in
//     Messages acknowledges that).
//  2. Send requests (MsgApp, MsgHeartbeat, MsgVote, MsgPreVote,
//     MsgTimeoutNow). They may go out while step 3 runs: a leader writes its
//     own log in parallel with replicating it, and counts itself towards
//     commit only once Advance tells it the write finished.
//  3. Persist Entries. If Entries[0].Index is at or below the last stored
//     index, the stored suffix from there is deleted first (a follower's log
//     was truncated at a conflict). After this step Storage must show the
//     entries.
//  4. Send responses. A MsgAppResp with Success acknowledges entries as
//     durable, and a MsgVoteResp a persisted vote, so they wait for 1 and 3.
//  5. Apply CommittedEntries (in order) and answer ReadStates.
//  6. Advance(rd): the core then counts rd.Entries as durable (the leader's
//     own match index moves) and rd.CommittedEntries as handed off.
//
// A Ready that only appends (CanAdvanceAsync) may be acknowledged with
// AdvanceAsync instead: its entries are written while the core goes on, and
// EntriesPersisted reports the write done. Responses that acknowledge
// entries (MsgAppResp, MsgSnapResp) wait for the writes; the leader counts
// itself towards commit only for reported entries, so a commit still means
// a majority holds the entry durably, and the leader may commit through its
// followers while its own write is in flight (the thesis, §10.2.1).
//
// # The log
//
// Entries not yet durable are held by the core in an unstable tail and read
// from memory; older ones are read through Storage. Every Ready carries the
// part of the tail not yet handed out, so after Advance the tail is empty
// and Storage holds the complete log; after AdvanceAsync the tail keeps the
// entries in flight until EntriesPersisted.
//
// # Protocol
//
// Elections, vote rules, the leader's first entry, commit counting and the
// follower's handling of AppendEntries follow hashicorp/raft's behaviour (see
// the fact sheet, §8): pre-vote, sticky votes while a leader is known,
// quorums over the latest (possibly uncommitted) configuration, check-quorum
// on the leader, a LogNoop at the start of every term. Replication follows
// etcd's design: a follower is probed one message at a time until its log
// agrees, then entries are streamed with a bounded window (tracker package).
//
// A rejected MsgApp carries a hint in LastLog: the last index of the
// follower's log whose term does not exceed the leader's PrevLogTerm, so one
// rejection skips every entry that cannot match (and with the optional
// LastLogTerm, which hashicorp's wire cannot carry, the leader also skips its
// own entries of terms the follower never saw). A follower n entries behind
// thus costs one probe and n/MaxAppendEntries MsgApps.
//
// # Reads
//
// VerifyLeader is answered by heartbeat rounds. Every heartbeat broadcast
// starts a new round, numbered in Message.Context; a response with round r
// acknowledges every round up to r. A read is confirmed once a quorum of
// voters acknowledged a round started after the call, and carries the commit
// index at that moment. A new leader holds reads until it has committed an
// entry of its own term: before that, its commit index may lag the cluster's.
//
// LeaseRead skips the round while the leader holds a lease: a quorum answered
// a round started less than min(LeaseTick, ElectionTick)-LeaseDriftTicks
// ticks ago (followers refuse other candidates for ElectionTick ticks after
// hearing from a leader). It needs Config.LeaseReads, under which a server
// that has just started refuses votes for ElectionTick ticks (it may have
// answered a round before restarting), and it is off for the rest of a term
// once the leader sent MsgTimeoutNow. ReadIndex on a follower asks the leader
// (MsgReadIndex), which confirms with a round started after the request
// arrived. lease.go explains the argument.
//
// # Snapshots
//
// The log continues the newest snapshot (Storage.SnapshotInfo): entries
// below the first readable index are compacted, the snapshot's own index and
// term are known. The driver takes snapshots and compacts on its own
// schedule and says so with ReportSnapshot. A leader that needs a compacted
// entry sends one MsgSnap (the follower's progress enters StateSnapshot
// until the driver answers with MsgSnapResp or MsgUnreachable; after a
// failure the next try waits for a heartbeat answer). The follower installs
// it through Ready.Snapshot, before the Ready's entries and before its
// response leaves, unless its log already holds the snapshot's last entry
// (then it only commits). A MsgApp below the follower's commit index skips
// the committed prefix, which may be compacted there.
//
// # Membership and transfers
//
// ProposeConfChange appends one change at a time (confchange.go); it takes
// effect when appended and commits by the new configuration's quorum. A
// Staging server is promoted by the leader once caught up. A leader that
// removes or demotes itself steps down when the change commits. A server
// demoted by an appended, uncommitted change may still campaign as a voter of
// the committed configuration (votes are counted over the latest), so that
// such a change can always be committed or undone. TransferLeadership
// (transfer.go) stops proposals, catches the target up, sends MsgTimeoutNow
// once, and reports its outcome in Ready.Transfer.
//
// # Files
//
// core.go (Core, New, roles), election.go (timers, campaigns, vote rules),
// step.go (term handling, dispatch), step_leader.go, step_follower.go,
// step_candidate.go, replicate.go (MsgApp flow, commit), read.go
// (VerifyLeader), lease.go (LeaseRead, ReadIndex), snapshot.go (snapshots,
// InstallSnapshot, RestoreLocal), confchange.go (membership changes),
// transfer.go (leadership transfer, StepDown), ready.go (Ready/Advance),
// log.go and unstable.go (the log), membership.go (configurations),
// status.go.
package core
