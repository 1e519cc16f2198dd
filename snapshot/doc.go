// Package snapshot defines where FSM snapshots are kept: the SnapshotStore
// interface (hashicorp/raft's method set) and its implementations.
//
//   - FileSnapshotStore: the default, a directory layout and meta.json
//     identical to hashicorp/raft's, so existing snapshots open unchanged.
//   - InmemSnapshotStore: the latest snapshot in memory, for tests.
//   - DiscardSnapshotStore: keeps nothing.
package snapshot
