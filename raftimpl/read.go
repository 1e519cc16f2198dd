package raftimpl

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// The read inbox.
//
// Reads reach the driver loop through r.reads rather than one channel send
// each: a read made while the leader's core has a read round in flight
// (core.ReadRoundInFlight) does not wake the loop. The answers of that round
// will (every heartbeat's answer or failure reaches the loop), and every pass
// of the loop, whatever woke it, starts the reads in the inbox, so reads made
// during a round share the next one. A read made otherwise, or a LeaseRead
// (answered at once while the lease holds), wakes the loop with an empty
// readReq on readCh (a kick). readCh also carries reads while the inbox is
// full (maxInboxReads), with enqueue's timeouts.
//
// Linearizability is untouched: the core assigns a read to a round when the
// loop takes it, and that round's heartbeats leave after that.

// maxInboxReads bounds the reads in the inbox; more wait on readCh.
const maxInboxReads = 4096

// readInbox is the reads waiting for the driver loop.
type readInbox struct {
	mu   sync.Mutex
	reqs []readReq
	// deferred is set while a read round is in flight: readers leave the
	// loop to take their reads when it wakes next.
	deferred bool
	// kicked is set once a kick was sent since the loop last took the
	// inbox.
	kicked bool
	// closed is set when the loop exits: reads fail at once.
	closed bool
}

// enqueueRead hands req to the driver loop.
func (r *Raft) enqueueRead(req readReq, w waiter) error {
	if r.isShutdown() {
		return raft.ErrRaftShutdown
	}
	if w.ctx != nil && w.ctx.Err() != nil {
		return w.timeoutErr(false)
	}
	in := &r.reads
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return raft.ErrRaftShutdown
	}
	if len(in.reqs) >= maxInboxReads {
		in.mu.Unlock()
		return enqueue(r, r.readCh, req, w)
	}
	in.reqs = append(in.reqs, req)
	kick := !in.kicked && (!in.deferred || req.kind == readLease)
	if kick {
		in.kicked = true
		r.kickReads()
	}
	in.mu.Unlock()
	return nil
}

// kickReads wakes the loop to take the inbox. If readCh is full the loop is
// about to wake anyway, and takes the inbox then.
func (r *Raft) kickReads() {
	select {
	case r.readCh <- readReq{}:
	default:
	}
}

// takeReads starts every read in the inbox (each pass of the loop).
func (d *driver) takeReads() {
	in := &d.r.reads
	in.mu.Lock()
	if len(in.reqs) == 0 {
		in.mu.Unlock()
		return
	}
	reqs := takeBuffer(&in.reqs, &d.spareReads)
	in.kicked = false
	in.mu.Unlock()
	for _, req := range reqs {
		d.startRead(req)
	}
	recycleBuffer(&d.spareReads, reqs)
}

// parkReads tells readers, before the loop waits, whether to wake it: not
// while a read round is in flight. Reads that came during this pass wake it
// again unless they can wait for the round.
func (d *driver) parkReads() {
	in := &d.r.reads
	in.mu.Lock()
	in.deferred = d.core.ReadRoundInFlight()
	// Heartbeat answers may wait (heartbeat.go) while reads wait for a
	// round, or right after reads were answered (the other answers to
	// their round are still coming), not otherwise.
	w := uint64(0)
	if in.deferred || d.readsAnswered {
		w = d.core.OldestReadRound()
	}
	d.readsAnswered = false
	d.r.readRound.Store(w)
	if len(in.reqs) > 0 && !in.deferred && !in.kicked {
		in.kicked = true
		d.r.kickReads()
	}
	in.mu.Unlock()
}

// closeReads fails the reads in the inbox and every later one (the loop is
// exiting).
func (d *driver) closeReads() {
	in := &d.r.reads
	in.mu.Lock()
	reqs := in.reqs
	in.reqs, in.closed = nil, true
	in.mu.Unlock()
	for _, req := range reqs {
		req.future.respond(raft.ErrRaftShutdown, 0, nil)
	}
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
	if err := r.enqueueRead(readReq{kind: kind, future: f}, w); err != nil {
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
