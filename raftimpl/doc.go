// Package raftimpl is Pontoon's engine: NewRaft, Config, the futures, and the
// driver that runs the deterministic protocol core (internal/core).
//
// # Layers
//
// The protocol core is a pure state machine: it is fed events (a tick, a
// message, a proposal, "your last Ready is durable") and answers with a Ready
// (hard state and entries to persist, messages to send, entries to apply).
// It has no clock, goroutines or I/O, which is what lets the simulator run it
// under thousands of seeded fault schedules.
//
// The driver (driver.go) owns the core on one goroutine and does the I/O:
//
//   - persists the term and vote (StableStore keys CurrentTerm, LastVoteTerm,
//     LastVoteCand, as hashicorp/raft) before sending anything that depends
//     on them;
//   - writes log entries on a writer goroutine (writer.go) while the loop
//     goes on: the leader sends AppendEntries while it writes the same
//     entries (the Raft thesis, §10.2.1) and commits through its followers
//     if they are faster; a follower keeps answering heartbeats and reads
//     while its disk works, and sends an acknowledgement only after the
//     entries it acknowledges are durable;
//   - batches: every proposal waiting when the loop comes round goes into one
//     Propose call, and the writer merges every batch queued behind the one
//     it writes into one StoreLogs transaction;
//   - deletes compacted log entries in bounded chunks on its own goroutine
//     (compactor.go), paced by the store's free pages;
//   - hands committed entries to the apply loop (fsm.go), a separate
//     goroutine that calls FSM.Apply or BatchingFSM.ApplyBatch in order and
//     resolves each entry's future with the FSM's response.
//
// Peer I/O runs on per-peer goroutines (peer.go) so a slow or dead peer never
// blocks the loop or the other peers.
//
// # Futures and timeouts
//
// Every blocking call has a context form (ApplyContext, BarrierContext, ...)
// and a timeout form mirroring hashicorp/raft. Unlike hashicorp/raft, the
// timeout covers the whole wait — enqueue, commit and apply — not just the
// enqueue. A timed-out operation may still commit later.
package raftimpl
