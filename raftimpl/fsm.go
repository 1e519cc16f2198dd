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
	// batch to the apply loop (metrics; zero while they go nowhere).
	queuedAt time.Time
}

// runFSM is the apply loop: it applies committed entries in order, batching
// them into BatchingFSM.ApplyBatch when the FSM supports it, and resolves each
// entry's future with the FSM's response. It runs apart from the protocol
// loop so a slow FSM never delays elections or replication.
func (r *Raft) runFSM() {
	defer r.wg.Done()
	a := newApplier(r)
	// The position of the FSM: the last entry applied (or restored) and
	// the configuration in force there.
	st := &r.fsmState

	sat := newSaturation(keyFSMSaturation, r.metrics)
	for {
		sat.waiting()
		var batch []commitItem
		select {
		case batch = <-r.applyCh:
			sat.working()
		case req := <-r.fsmSnapshotCh:
			sat.working()
			req.respCh <- r.fsmSnapshot(st, req.user)
			continue
		case req := <-r.fsmRestoreCh:
			sat.working()
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
		if batch = skipReplayed(batch, st.replayedTo); len(batch) == 0 {
			continue
		}
		a.apply(batch, st)
	}
}

// skipReplayed drops the entries at or below replayedTo: NewRaft applied
// them already (RestoreCommittedLogs), before the core, which starts at the
// snapshot, delivered them again. They never carry a future.
func skipReplayed(batch []commitItem, replayedTo uint64) []commitItem {
	if batch[0].log.Index > replayedTo {
		return batch
	}
	for len(batch) > 0 && batch[0].log.Index <= replayedTo {
		batch = batch[1:]
	}
	return batch
}

// applier hands batches of committed entries to the FSM. It is used by one
// goroutine at a time: NewRaft's replay, then the apply loop.
type applier struct {
	r           *Raft
	batching    raft.BatchingFSM
	isBatching  bool
	confStore   raft.ConfigurationStore
	isConfStore bool
	// logs and owners are scratch reused between batches.
	logs   []*raft.Log
	owners []int
}

func newApplier(r *Raft) *applier {
	a := &applier{r: r}
	a.batching, a.isBatching = r.fsm.(raft.BatchingFSM)
	a.confStore, a.isConfStore = r.fsm.(raft.ConfigurationStore)
	return a
}

// apply applies batch (entries in log order, no restore), advances st and
// the published applied index, and resolves the entries' futures.
func (a *applier) apply(batch []commitItem, st *fsmPosition) {
	r := a.r
	responses := make([]interface{}, len(batch))
	if a.isBatching {
		a.logs, a.owners = a.logs[:0], a.owners[:0]
		for i, it := range batch {
			if it.log.Type == raft.LogCommand || it.log.Type == raft.LogConfiguration {
				a.logs = append(a.logs, it.log)
				a.owners = append(a.owners, i)
			}
		}
		if len(a.logs) > 0 {
			start := r.metrics.now()
			out := a.batching.ApplyBatch(a.logs)
			r.noteApplyBatch(start, len(batch))
			if len(out) != len(a.logs) {
				r.logger.Error("BatchingFSM.ApplyBatch returned the wrong number of responses",
					"want", len(a.logs), "got", len(out))
			}
			for j := 0; j < len(out) && j < len(a.owners); j++ {
				responses[a.owners[j]] = out[j]
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
				if a.isConfStore {
					c, err := raft.DecodeConfiguration(it.log.Data)
					if err != nil {
						r.logger.Error("skipping undecodable configuration entry", "index", it.log.Index, "error", err)
						continue
					}
					start := r.metrics.now()
					a.confStore.StoreConfiguration(it.log.Index, c)
					r.metrics.MeasureSince(keyFSMStoreConfig, start)
				}
			}
		}
	}

	for _, it := range batch {
		switch it.log.Type {
		case raft.LogConfiguration:
			if c, err := raft.DecodeConfiguration(it.log.Data); err == nil {
				st.configuration, st.configurationIndex = c, it.log.Index
			}
			if a.isBatching || a.isConfStore {
				st.handed = it.log.Index
			}
		case raft.LogCommand, raft.LogBarrier:
			st.handed = it.log.Index
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

// fsmPosition is where the FSM stands. Only the apply loop touches it after
// NewRaft returns.
type fsmPosition struct {
	index, term        uint64
	configuration      raft.Configuration
	configurationIndex uint64
	// snapshotIndex is the index of the last snapshot taken or restored.
	snapshotIndex uint64
	// handed is the index of the last entry the apply loop handed to the
	// FSM since this node started, counted as hashicorp/raft counts it for
	// Snapshot: commands and barriers; configuration entries only for a
	// BatchingFSM or a ConfigurationStore; a snapshot restored at run time
	// (not the one restored at start). Zero: nothing handed yet.
	// Invariant: handed <= index.
	handed uint64
	// replayedTo is the last entry NewRaft applied from the log
	// (RestoreCommittedLogs); the apply loop skips entries up to it.
	replayedTo uint64
}

// Text of the error a user snapshot gets while the FSM has not been handed
// the latest configuration entry (hashicorp/raft's words).
const snapshotConfigPendingFmt = "cannot take snapshot now, wait until the configuration entry at %v has been applied (have applied %v)"

// fsmSnapshot asks the FSM for a snapshot of its current state. A user
// request follows hashicorp/raft's rules: raft.ErrNothingNewToSnapshot only
// when nothing was handed to the FSM since start, an error while the latest
// configuration entry is ahead of what the FSM was handed, and otherwise a
// snapshot even when nothing is new since the last one. An automatic one
// (user false) is skipped when nothing is new since the last snapshot.
func (r *Raft) fsmSnapshot(st *fsmPosition, user bool) fsmSnapshotResp {
	if user {
		if st.handed == 0 {
			return fsmSnapshotResp{err: raft.ErrNothingNewToSnapshot}
		}
		if st.handed < st.configurationIndex {
			// NB: as in hashicorp/raft, the FSM is asked for its snapshot
			// (and the snapshot released) before the request is refused:
			// services count on FSM.Snapshot having run.
			snap, err := r.fsm.Snapshot()
			if err != nil {
				return fsmSnapshotResp{err: fmt.Errorf("failed to start snapshot: %w", err)}
			}
			snap.Release()
			return fsmSnapshotResp{err: fmt.Errorf(snapshotConfigPendingFmt, st.configurationIndex, st.handed)}
		}
	} else if st.index == 0 || st.index == st.snapshotIndex {
		return fsmSnapshotResp{err: raft.ErrNothingNewToSnapshot}
	}
	snap, err := r.fsm.Snapshot()
	if err != nil {
		return fsmSnapshotResp{err: fmt.Errorf("failed to start snapshot: %w", err)}
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
	st.handed = req.info.index
	// The FSM's state was replaced: every entry after the snapshot must be
	// applied, replayed at start or not.
	st.replayedTo = 0
	r.appliedIndex.Store(req.info.index)
	r.signalApplied()
	return nil
}
