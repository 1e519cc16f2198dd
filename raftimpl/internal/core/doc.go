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
// # The log
//
// Entries not yet durable are held by the core in an unstable tail and read
// from memory; older ones are read through Storage. Every Ready carries the
// whole unstable tail, so after Advance the tail is empty and Storage holds
// the complete log.
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
// # Files
//
// core.go (Core, New, roles), election.go (timers, campaigns, vote rules),
// step.go (term handling, dispatch), step_leader.go, step_follower.go,
// step_candidate.go, replicate.go (MsgApp flow, commit), read.go
// (VerifyLeader), ready.go (Ready/Advance), log.go and unstable.go (the log),
// membership.go (configurations), status.go.
//
// Snapshots, InstallSnapshot, membership changes and leadership transfer
// requests are issue 5; the places they hook in are marked "issue 5".
package core
