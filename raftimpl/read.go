package raftimpl

import (
	"context"
	"errors"
	"fmt"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/transport"
)

// readKind selects how a read confirms leadership.
type readKind uint8

const (
	// readVerify: a heartbeat round acknowledged by a quorum (VerifyLeader).
	readVerify readKind = iota
	// readIndex: like readVerify on the leader; a follower asks the leader.
	readIndex
	// readLease: no round trip while the leader's lease holds.
	readLease
)

// readReq is a read waiting for the driver loop.
type readReq struct {
	kind   readKind
	future *opFuture
}

// ReadIndex returns an index at which a linearizable read may be served: once
// it returns, this node's FSM has applied at least that index, and every
// write acknowledged before the call is included. It works on the leader (one
// heartbeat round, no log write) and on a follower whose transport supports
// transport.WithReadIndex (one round trip to the leader, then waiting for the
// local FSM to catch up). Read the FSM after it returns.
//
// On a follower it retries while no leader is known, until ctx is done. If
// the leader does not answer ReadIndex at all (a hashicorp/raft leader in a
// mixed cluster, as the transport reports through
// transport.WithReadIndexSupport), it fails at once with an error wrapping
// both raft.ErrNotLeader and raft.ErrReadIndexUnsupported.
func (r *Raft) ReadIndex(ctx context.Context) (uint64, error) {
	return r.linearizableRead(ctx, readIndex)
}

// LeaseRead is ReadIndex without a round trip while the leader's lease
// holds: the leader heard from a quorum within LeaderLeaseTimeout minus
// LeaseReadDrift. It is linearizable only if no server's clock runs faster
// than another's by more than LeaseReadDrift over a LeaderLeaseTimeout
// (clock drift, not offset, matters). Outside the lease it falls back to a
// heartbeat round. Leader only.
func (r *Raft) LeaseRead(ctx context.Context) (uint64, error) {
	return r.linearizableRead(ctx, readLease)
}

func (r *Raft) linearizableRead(ctx context.Context, kind readKind) (uint64, error) {
	for {
		idx, err := r.readOnce(ctx, kind)
		// A follower that does not know the leader yet (or saw it change
		// during the read) retries until ctx gives up.
		if err == nil || kind != readIndex || !errors.Is(err, raft.ErrNotLeader) || r.State() == raft.Leader {
			return idx, err
		}
		if uerr := r.leaderReadIndexUnsupported(); uerr != nil {
			return 0, fmt.Errorf("%w: %w", raft.ErrNotLeader, uerr)
		}
		t := time.NewTimer(r.conf.tickInterval())
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		case <-r.shutdownCh:
			t.Stop()
			return 0, raft.ErrRaftShutdown
		}
	}
}

func (r *Raft) readOnce(ctx context.Context, kind readKind) (uint64, error) {
	w := contextWaiter(ctx)
	f := newOpFuture(w, r.loopDone)
	if err := enqueue(r, r.readCh, readReq{kind: kind, future: f}, w); err != nil {
		return 0, err
	}
	if err := f.Error(); err != nil {
		return 0, err
	}
	idx := f.Index()
	if err := r.waitApplied(ctx, idx); err != nil {
		return 0, err
	}
	return idx, nil
}

// leaderReadIndexUnsupported returns the transport's error if the current
// leader is known not to answer ReadIndex, else nil.
func (r *Raft) leaderReadIndexUnsupported() error {
	s, ok := r.trans.(transport.WithReadIndexSupport)
	if !ok {
		return nil
	}
	addr, id := r.LeaderWithID()
	if id == "" && addr == "" {
		return nil
	}
	return s.ReadIndexUnsupported(id, addr)
}

// waitApplied blocks until the FSM has applied index.
func (r *Raft) waitApplied(ctx context.Context, index uint64) error {
	for {
		ch := r.appliedSignal()
		if r.AppliedIndex() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for index %d to be applied: %w", index, ctx.Err())
		case <-r.shutdownCh:
			return raft.ErrRaftShutdown
		}
	}
}

// appliedSignal returns a channel closed the next time the applied index
// moves.
func (r *Raft) appliedSignal() <-chan struct{} {
	r.appliedMu.Lock()
	defer r.appliedMu.Unlock()
	return r.appliedCh
}

// signalApplied wakes every waitApplied; called by the apply loop after the
// applied index moved.
func (r *Raft) signalApplied() {
	r.appliedMu.Lock()
	close(r.appliedCh)
	r.appliedCh = make(chan struct{})
	r.appliedMu.Unlock()
}
