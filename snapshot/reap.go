package snapshot

// ReapSnapshots removes the finished snapshots beyond the newest retain,
// as hashicorp/raft's FileSnapshotStore.ReapSnapshots. Close already reaps
// after each new snapshot; this is for callers that lowered retain or copied
// snapshots in. Damaged or unreadable directories are left for an operator.
func (s *FileSnapshotStore) ReapSnapshots() error { return s.reap() }
