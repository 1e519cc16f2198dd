// Package logstore defines where the replicated log and the engine's stable
// state (term, vote) are kept: the LogStore and StableStore interfaces, with
// the method sets of hashicorp/raft, and their implementations.
//
//   - BoltStore: the default, on bbolt, with the on-disk layout of
//     raft-boltdb/v2 so existing data directories open unchanged.
//   - InmemStore: maps in memory, for tests.
//   - LogCache: a bounded cache of recent entries in front of any LogStore.
//
// Errors: GetLog of a missing index returns raft.ErrLogNotFound itself (not
// wrapped: hashicorp/raft compares it with ==); StableStore.Get of a missing
// key returns raft.ErrKeyNotFound, whose text is "not found".
package logstore
