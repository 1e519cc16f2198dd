package raftimpl

import (
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sync/atomic"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// SnapshotFuture is the result of Snapshot.
type SnapshotFuture interface {
	Future
	// Open returns the snapshot's meta and a reader of its data; the caller
	// closes the reader. Call it after Error returned nil.
	Open() (*raft.SnapshotMeta, io.ReadCloser, error)
}

// fsmSnapshotReq asks the apply loop for a point-in-time FSM snapshot.
type fsmSnapshotReq struct {
	// user is set for a Snapshot call (hashicorp/raft's rules apply, see
	// fsmSnapshot), clear for an automatic snapshot.
	user   bool
	respCh chan fsmSnapshotResp
}

// fsmSnapshotResp is the FSM's snapshot and the log position it covers.
type fsmSnapshotResp struct {
	snap               raft.FSMSnapshot
	index, term        uint64
	configuration      raft.Configuration
	configurationIndex uint64
	err                error
}

// userSnapshotReq is a Snapshot call waiting for the snapshot runner.
type userSnapshotReq struct {
	future *snapshotFuture
}

type snapshotFuture struct {
	*opFuture
	r  *Raft
	id string
}

// Open implements SnapshotFuture.
func (f *snapshotFuture) Open() (*raft.SnapshotMeta, io.ReadCloser, error) {
	if err := f.Error(); err != nil {
		return nil, nil, err
	}
	return f.r.snaps.Open(f.id)
}

// Snapshot takes a snapshot now. The FSM's Snapshot runs on the apply loop
// (between two Apply calls); FSMSnapshot.Persist runs on the snapshot
// goroutine, so Apply continues meanwhile. As in hashicorp/raft it takes one
// even when nothing is new since the last snapshot; it fails with the bare
// raft.ErrNothingNewToSnapshot only when nothing was applied since the node
// started, and with "cannot take snapshot now, wait until the configuration
// entry at N has been applied (have applied M)" right after a membership
// change, until an Apply or Barrier behind it has been applied.
func (r *Raft) Snapshot() SnapshotFuture {
	f := &snapshotFuture{opFuture: newOpFuture(waiter{}, r.loopDone), r: r}
	select {
	case r.userSnapshotCh <- userSnapshotReq{future: f}:
	case <-r.shutdownCh:
		f.respond(raft.ErrRaftShutdown, 0, nil)
	}
	return f
}

// runSnapshots takes snapshots: on request, and every randomized
// SnapshotInterval when at least SnapshotThreshold entries were appended
// since the last one.
func (r *Raft) runSnapshots() {
	defer r.wg.Done()
	interval := func() time.Duration {
		d := r.reloadable().SnapshotInterval
		return d + time.Duration(rand.Int63n(int64(d)))
	}
	timer := time.NewTimer(interval())
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			timer.Reset(interval())
			if !r.shouldSnapshot() {
				continue
			}
			if _, err := r.takeSnapshot(false); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
				r.logger.Error("failed to take snapshot", "error", err)
			}
		case req := <-r.userSnapshotCh:
			id, err := r.takeSnapshot(true)
			if err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
				r.logger.Error("failed to take snapshot", "error", err)
			}
			req.future.id = id
			req.future.respond(err, 0, nil)
		case <-r.shutdownCh:
			return
		}
	}
}

// shouldSnapshot reports whether enough log has accumulated.
func (r *Raft) shouldSnapshot() bool {
	last := r.lastIndex.Load()
	snapIdx := r.lastSnapshotIndex.Load()
	return last > snapIdx && last-snapIdx >= r.reloadable().SnapshotThreshold
}

// takeSnapshot snapshots the FSM, persists it to the SnapshotStore, and
// tells the driver, which compacts the log. It returns the snapshot's ID.
// user selects the rules of a Snapshot call (fsmSnapshot).
func (r *Raft) takeSnapshot(user bool) (string, error) {
	start := time.Now()
	req := fsmSnapshotReq{user: user, respCh: make(chan fsmSnapshotResp, 1)}
	select {
	case r.fsmSnapshotCh <- req:
	case <-r.shutdownCh:
		return "", raft.ErrRaftShutdown
	}
	var resp fsmSnapshotResp
	select {
	case resp = <-req.respCh:
	case <-r.shutdownCh:
		return "", raft.ErrRaftShutdown
	}
	if resp.err != nil {
		return "", resp.err
	}
	defer resp.snap.Release()
	r.metrics.MeasureSince(keyFSMSnapshot, start)

	createStart := time.Now()
	sink, err := r.snaps.Create(raft.SnapshotVersionMax, resp.index, resp.term,
		resp.configuration, resp.configurationIndex, r.trans)
	if err != nil {
		return "", fmt.Errorf("failed to create snapshot: %w", err)
	}
	r.metrics.MeasureSince(keySnapCreate, createStart)
	persistStart := time.Now()
	if err := resp.snap.Persist(sink); err != nil {
		sink.Cancel()
		return "", fmt.Errorf("failed to persist snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return "", fmt.Errorf("failed to close snapshot: %w", err)
	}
	r.metrics.MeasureSince(keySnapPersist, persistStart)
	r.lastSnapshotIndex.Store(resp.index)
	r.lastSnapshotTerm.Store(resp.term)

	// The driver compacts the log behind the snapshot.
	select {
	case r.snapshotDoneCh <- snapshotInfo{index: resp.index, term: resp.term,
		configuration: resp.configuration, configurationIndex: resp.configurationIndex}:
	case <-r.shutdownCh:
	}
	r.metrics.MeasureSince(keySnapTake, start)
	r.logger.Info("snapshot complete", "id", sink.ID(), "index", resp.index, "duration", time.Since(start))
	return sink.ID(), nil
}

// snapshotInfo describes a durable snapshot.
type snapshotInfo struct {
	index, term        uint64
	configuration      raft.Configuration
	configurationIndex uint64
}

func infoOf(meta *raft.SnapshotMeta) snapshotInfo {
	return snapshotInfo{index: meta.Index, term: meta.Term,
		configuration: meta.Configuration, configurationIndex: meta.ConfigurationIndex}
}

// restoreFrom opens a stored snapshot and restores the FSM from it. Reading
// to the end verifies the store's checksum, so a corrupt snapshot fails here.
func (r *Raft) restoreFrom(id string) error {
	meta, rc, err := r.snaps.Open(id)
	if err != nil {
		return err
	}
	start := time.Now()
	body := r.restoringSnapshot(meta, rc)
	d := &drainOnClose{rc: body}
	err = r.fsm.Restore(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	r.noteRestored(start, body)
	return nil
}

// drainOnClose reads a snapshot to its end on Close, so a checksum check at
// EOF runs even when the FSM stops reading early, and reports its failure.
// It counts the bytes the FSM read (CountingReader) and exposes the store's
// reader (ReadCloserWrapper), as hashicorp/raft's restore reader does.
type drainOnClose struct {
	rc     io.ReadCloser
	err    error
	closed bool
	count  atomic.Int64
}

var (
	_ CountingReader    = (*drainOnClose)(nil)
	_ ReadCloserWrapper = (*drainOnClose)(nil)
)

func (d *drainOnClose) Read(p []byte) (int, error) {
	n, err := d.rc.Read(p)
	d.count.Add(int64(n))
	if err != nil && err != io.EOF {
		d.err = err
	}
	return n, err
}

// Count implements CountingReader: the bytes read through Read.
func (d *drainOnClose) Count() int64 { return d.count.Load() }

// WrappedReadCloser implements ReadCloserWrapper.
func (d *drainOnClose) WrappedReadCloser() io.ReadCloser { return d.rc }

func (d *drainOnClose) Close() error {
	if d.closed {
		return d.err
	}
	d.closed = true
	if _, err := io.Copy(io.Discard, d.rc); err != nil && d.err == nil {
		d.err = err
	}
	if err := d.rc.Close(); err != nil && d.err == nil {
		d.err = err
	}
	return d.err
}
