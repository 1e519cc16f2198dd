package raftimpl

import (
	"fmt"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// commitItem is one committed entry on its way to the FSM, with the future
// to resolve once it is applied (nil when no local caller waits for it).
type commitItem struct {
	log    *raft.Log
	future *logFuture
	// restore, when set, replaces the FSM's state by a snapshot instead (log
	// and future are then nil). It travels alone in its batch, so it is
	// ordered with the entries around it.
	restore *fsmRestoreReq
	// queuedAt, set on a batch's first item, is when the driver handed the
	// batch to the apply loop (metrics).
	queuedAt time.Time
}

// runFSM is the apply loop: it applies committed entries in order, batching
// them into BatchingFSM.ApplyBatch when the FSM supports it, and resolves each
// entry's future with the FSM's response. It runs apart from the protocol
// loop so a slow FSM never delays elections or replication.
func (r *Raft) runFSM() {
	defer r.wg.Done()
	batching, isBatching := r.fsm.(raft.BatchingFSM)
	confStore, isConfStore := r.fsm.(raft.ConfigurationStore)

	// Reused between batches; only the apply loop touches them.
	var logs []*raft.Log
	var owners []int
	// The position of the FSM: the last entry applied (or restored) and
	// the configuration in force there.
	st := &r.fsmState

	for {
		var batch []commitItem
		select {
		case batch = <-r.applyCh:
		case req := <-r.fsmSnapshotCh:
			req.respCh <- r.fsmSnapshot(st)
			continue
		case req := <-r.fsmRestoreCh:
			req.respCh <- r.fsmRestore(st, req)
			continue
		case <-r.shutdownCh:
			return
		}

		if batch[0].restore != nil {
			req := batch[0].restore
			err := r.fsmRestore(st, *req)
			if err != nil {
				// The FSM's state is now unknown: applying more entries
				// would diverge from the other replicas.
				r.logger.Error("failed to restore the FSM from a snapshot: shutting down", "id", req.id, "error", err)
				go r.Shutdown()
			}
			req.respCh <- err
			continue
		}
		r.metrics.MeasureSince(keyFSMQueued, batch[0].queuedAt)
		responses := make([]interface{}, len(batch))
		if isBatching {
			logs, owners = logs[:0], owners[:0]
			for i, it := range batch {
				if it.log.Type == raft.LogCommand || it.log.Type == raft.LogConfiguration {
					logs = append(logs, it.log)
					owners = append(owners, i)
				}
			}
			if len(logs) > 0 {
				start := r.metrics.now()
				out := batching.ApplyBatch(logs)
				r.noteApplyBatch(start, len(batch))
				if len(out) != len(logs) {
					r.logger.Error("BatchingFSM.ApplyBatch returned the wrong number of responses",
						"want", len(logs), "got", len(out))
				}
				for j := 0; j < len(out) && j < len(owners); j++ {
					responses[owners[j]] = out[j]
				}
			}
		} else {
			for i, it := range batch {
				switch it.log.Type {
				case raft.LogCommand:
					start := r.metrics.now()
					responses[i] = r.fsm.Apply(it.log)
					r.metrics.MeasureSince(keyFSMApply, start)
				case raft.LogConfiguration:
					if isConfStore {
						c, err := raft.DecodeConfiguration(it.log.Data)
						if err != nil {
							r.logger.Error("skipping undecodable configuration entry", "index", it.log.Index, "error", err)
							continue
						}
						start := r.metrics.now()
						confStore.StoreConfiguration(it.log.Index, c)
						r.metrics.MeasureSince(keyFSMStoreConfig, start)
					}
				}
			}
		}

		for _, it := range batch {
			if it.log.Type == raft.LogConfiguration {
				if c, err := raft.DecodeConfiguration(it.log.Data); err == nil {
					st.configuration, st.configurationIndex = c, it.log.Index
				}
			}
		}
		lastLog := batch[len(batch)-1].log
		st.index, st.term = lastLog.Index, lastLog.Term
		r.appliedIndex.Store(lastLog.Index)
		r.signalApplied()
		for i, it := range batch {
			if it.future != nil {
				it.future.respond(nil, it.log.Index, responses[i])
			}
		}
		r.metrics.IncrCounter(keyFSMApplied, float32(len(batch)))
	}
}

// fsmPosition is where the FSM stands. Only the apply loop touches it after
// NewRaft returns.
type fsmPosition struct {
	index, term        uint64
	configuration      raft.Configuration
	configurationIndex uint64
	// snapshotIndex is the index of the last snapshot taken or restored.
	snapshotIndex uint64
}

// fsmSnapshot asks the FSM for a snapshot of its current state.
func (r *Raft) fsmSnapshot(st *fsmPosition) fsmSnapshotResp {
	if st.index == 0 || st.index == st.snapshotIndex {
		return fsmSnapshotResp{err: raft.ErrNothingNewToSnapshot}
	}
	snap, err := r.fsm.Snapshot()
	if err != nil {
		return fsmSnapshotResp{err: fmt.Errorf("FSM snapshot failed: %w", err)}
	}
	st.snapshotIndex = st.index
	return fsmSnapshotResp{snap: snap, index: st.index, term: st.term,
		configuration: st.configuration.Clone(), configurationIndex: st.configurationIndex}
}

// fsmRestoreReq asks the apply loop to replace the FSM's state with a
// stored snapshot.
type fsmRestoreReq struct {
	id     string
	info   snapshotInfo
	respCh chan error
}

func (r *Raft) fsmRestore(st *fsmPosition, req fsmRestoreReq) error {
	if err := r.restoreFrom(req.id); err != nil {
		return err
	}
	st.index, st.term = req.info.index, req.info.term
	st.configuration, st.configurationIndex = req.info.configuration, req.info.configurationIndex
	st.snapshotIndex = req.info.index
	r.appliedIndex.Store(req.info.index)
	r.signalApplied()
	return nil
}
