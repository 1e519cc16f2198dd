package raftimpl

import (
	"fmt"
	"io"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// userRestoreReq is a Restore call waiting for the driver loop.
type userRestoreReq struct {
	meta   *raft.SnapshotMeta
	reader io.Reader
	future *opFuture
}

// Restore replaces the cluster's state with a user-supplied snapshot (for
// disaster recovery from a backup). Leader only. The data is copied into a
// new snapshot at index max(LastIndex, meta.Index)+1 in the current term,
// with the current committed configuration; meta.Size bytes must be read.
// The FSM is restored from it, in-flight operations fail with
// raft.ErrAbortedByRestore, followers are brought up to date by
// InstallSnapshot, and Restore returns once a no-op entry after the snapshot
// has been applied. The timeout covers the whole operation.
//
// If the FSM fails to restore, its state is unknown and the node shuts down.
func (r *Raft) Restore(meta *raft.SnapshotMeta, reader io.Reader, timeout time.Duration) error {
	if r.isShutdown() {
		return raft.ErrRaftShutdown
	}
	r.metrics.IncrCounter(keyRestore, 1)
	w := timeoutWaiter(timeout)
	f := newOpFuture(w, r.loopDone)
	if err := enqueue(r, r.ctrlCh, ctrlReq(userRestoreReq{meta: meta, reader: reader, future: f}), w); err != nil {
		return err
	}
	return f.Error()
}

// userRestore runs on the loop, which it blocks while the data is copied and
// the FSM restored: nothing else may happen between the two.
func (d *driver) userRestore(req userRestoreReq) {
	r := d.r
	defer r.metrics.MeasureSince(keyRestoreUserSnap, time.Now())
	st := d.core.Status()
	if st.Role != raft.Leader {
		req.future.respond(raft.ErrNotLeader, 0, nil)
		return
	}
	if d.transfer != nil {
		req.future.respond(raft.ErrLeadershipTransferInProgress, 0, nil)
		return
	}
	// The log writes in flight finish before the log is replaced.
	if err := d.flushWrites(); err != nil {
		req.future.respond(fmt.Errorf("restore: %w", err), 0, nil)
		return
	}
	d.reportPersisted()
	// Nothing may be written unless the core will take the snapshot.
	if err := d.core.CanRestore(); err != nil {
		req.future.respond(fmt.Errorf("restore: %w", err), 0, nil)
		return
	}
	info := snapshotInfo{index: max(st.LastIndex, req.meta.Index) + 1, term: st.Term,
		configuration: st.Committed.Clone(), configurationIndex: st.CommittedIndex}
	sink, err := r.snaps.Create(raft.SnapshotVersionMax, info.index, info.term, info.configuration,
		info.configurationIndex, r.trans)
	if err != nil {
		req.future.respond(fmt.Errorf("restore: creating snapshot: %w", err), 0, nil)
		return
	}
	n, err := io.Copy(sink, req.reader)
	if err == nil && n != req.meta.Size {
		err = fmt.Errorf("restore: read %d bytes, meta.Size is %d", n, req.meta.Size)
	}
	if err != nil {
		sink.Cancel()
		req.future.respond(fmt.Errorf("restore: %w", err), 0, nil)
		return
	}
	if err := sink.Close(); err != nil {
		req.future.respond(fmt.Errorf("restore: closing snapshot: %w", err), 0, nil)
		return
	}
	if err := d.core.RestoreLocal(*toCoreSnapshot(info)); err != nil {
		req.future.respond(fmt.Errorf("restore: %w", err), 0, nil)
		return
	}
	// Everything in flight is superseded by the snapshot.
	d.failPending(raft.ErrAbortedByRestore)
	if err := d.storage.reset(info); err != nil {
		req.future.respond(fmt.Errorf("restore: %w", err), 0, nil)
		return
	}
	r.lastSnapshotIndex.Store(info.index)
	r.lastSnapshotTerm.Store(info.term)
	restore := &fsmRestoreReq{id: sink.ID(), info: info, respCh: make(chan error, 1)}
	select {
	case r.applyCh <- []commitItem{{restore: restore}}:
	case <-r.shutdownCh:
		req.future.respond(raft.ErrRaftShutdown, 0, nil)
		return
	}
	select {
	case err = <-restore.respCh:
	case <-r.shutdownCh:
		err = raft.ErrRaftShutdown
	}
	if err != nil {
		req.future.respond(fmt.Errorf("restore: FSM restore failed: %w", err), 0, nil)
		return
	}
	r.commitIndex.Store(info.index)
	// A no-op after the snapshot: Restore returns once it is applied.
	noop := &logFuture{opFuture: req.future, log: raft.Log{Type: raft.LogNoop, AppendedAt: time.Now()}}
	first, _, err := d.core.Propose([]*raft.Log{&noop.log})
	if err != nil {
		req.future.respond(fmt.Errorf("restore: %w", err), 0, nil)
		return
	}
	d.pending[first] = noop
}
