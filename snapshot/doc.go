// Package snapshot defines where FSM snapshots are kept: the SnapshotStore
// interface (hashicorp/raft's method set) and its implementations.
//
//   - FileSnapshotStore: the default, a directory layout and meta.json
//     identical to hashicorp/raft's, so existing snapshots open unchanged
//     and hashicorp/raft opens Pontoon's. Each snapshot is a directory
//     <term>-<index>-<unixMillis> holding meta.json and state.bin, written
//     as <name>.tmp, fsynced and renamed on Close. state.bin is checked
//     against the size and CRC-64/ECMA in meta.json while it is read: a
//     mismatch is an error wrapping raft.ErrCorrupt where io.EOF would be.
//   - InmemSnapshotStore: the latest snapshot in memory, for tests.
//   - DiscardSnapshotStore: keeps nothing.
//
// The snapshottest subpackage is the conformance suite the stores run.
package snapshot
