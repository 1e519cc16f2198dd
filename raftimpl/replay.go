package raftimpl

import (
	"fmt"
	"sync/atomic"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
)

// Config.RestoreCommittedLogs, as hashicorp/raft's: with a
// logstore.CommitTrackingLogStore the engine records its commit index with
// every log write, and at start applies the entries up to the recorded
// index before anything else, so the FSM is current without waiting for a
// leader.

// restoreCommittedLogs applies the committed entries after the snapshot the
// FSM was restored from, up to the commit index the log store recorded. It
// runs in NewRaft before the apply loop starts. Without a
// CommitTrackingLogStore it fails with the bare raft.ErrIncompatibleLogStore.
func (r *Raft) restoreCommittedLogs() error {
	if !r.conf.RestoreCommittedLogs {
		return nil
	}
	ct, ok := r.logs.(logstore.CommitTrackingLogStore)
	if !ok {
		r.logger.Warn("restore committed logs enabled but log store does not support it", "log_store", fmt.Sprintf("%T", r.logs))
		return raft.ErrIncompatibleLogStore
	}
	commit, err := ct.GetCommitIndex()
	if err != nil {
		return fmt.Errorf("restoring committed logs: reading the commit index: %w", err)
	}
	last, err := r.logs.LastIndex()
	if err != nil {
		return fmt.Errorf("restoring committed logs: reading the last index: %w", err)
	}
	commit = min(commit, last)
	st := &r.fsmState
	if commit <= st.index {
		return nil
	}
	a := newApplier(r)
	batch := make([]commitItem, 0, r.conf.MaxAppendEntries)
	for i := st.index + 1; i <= commit; i++ {
		l := new(raft.Log)
		if err := r.logs.GetLog(i, l); err != nil {
			return fmt.Errorf("restoring committed logs: reading log %d (commit index %d): %w", i, commit, err)
		}
		batch = append(batch, commitItem{log: l})
		if len(batch) == cap(batch) || i == commit {
			a.apply(batch, st)
			batch = batch[:0]
		}
	}
	st.replayedTo = commit
	r.commitIndex.Store(commit)
	r.logger.Info("restored committed logs", "commit_index", commit)
	return nil
}

// commitStaging returns the store the engine writes its log through: logs
// itself, or, for a CommitTrackingLogStore, a wrapper that stages the commit
// index before each StoreLogs so that it is persisted with those entries.
func commitStaging(logs logstore.LogStore, commit *atomic.Uint64) logstore.LogStore {
	ct, ok := logs.(logstore.CommitTrackingLogStore)
	if !ok {
		return logs
	}
	return &stagingStore{CommitTrackingLogStore: ct, commit: commit}
}

// stagingStore stages the engine's commit index with every write.
type stagingStore struct {
	logstore.CommitTrackingLogStore
	// commit is the Raft's published commit index.
	commit *atomic.Uint64
}

// StoreLog implements logstore.LogStore.
func (s *stagingStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs stages the commit index, capped at the last entry written (the
// store's contract: it never exceeds LastIndex), then stores logs.
func (s *stagingStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) > 0 {
		if err := s.StageCommitIndex(min(s.commit.Load(), logs[len(logs)-1].Index)); err != nil {
			return fmt.Errorf("staging the commit index: %w", err)
		}
	}
	return s.CommitTrackingLogStore.StoreLogs(logs)
}

// IsMonotonic forwards logstore.MonotonicLogStore.
func (s *stagingStore) IsMonotonic() bool {
	m, ok := s.CommitTrackingLogStore.(logstore.MonotonicLogStore)
	return ok && m.IsMonotonic()
}
