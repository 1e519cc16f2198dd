package raftimpl

import (
	"sync"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/transport"
)

// The read inbox wakes the loop once per batch (one kick until the loop
// takes the inbox), not at all while a read round is in flight, except for
// a LeaseRead; a full inbox sends reads on readCh; a closed one fails them.
func TestReadInboxKicks(t *testing.T) {
	r := &Raft{readCh: make(chan readReq, 8), shutdownCh: make(chan struct{})}
	read := func(kind readKind) {
		t.Helper()
		if err := r.enqueueRead(readReq{kind: kind, future: newOpFuture(waiter{}, nil)}, waiter{}); err != nil {
			t.Fatal(err)
		}
	}
	kicks := func() (n int) {
		for {
			select {
			case req := <-r.readCh:
				if req.future != nil {
					t.Fatalf("a read on readCh with room in the inbox")
				}
				n++
			default:
				return n
			}
		}
	}
	taken := func() {
		r.reads.mu.Lock()
		r.reads.reqs, r.reads.kicked = nil, false
		r.reads.mu.Unlock()
	}
	read(readVerify)
	read(readIndex)
	if n := kicks(); n != 1 {
		t.Fatalf("idle loop: %d kicks for two reads, want 1", n)
	}
	taken()
	r.reads.deferred = true
	read(readVerify)
	read(readIndex)
	if n := kicks(); n != 0 {
		t.Fatalf("round in flight: %d kicks, want 0", n)
	}
	read(readLease)
	read(readLease)
	if n := kicks(); n != 1 {
		t.Fatalf("round in flight: LeaseReads sent %d kicks, want 1", n)
	}
	taken()
	r.reads.reqs = make([]readReq, maxInboxReads)
	read(readVerify)
	select {
	case req := <-r.readCh:
		if req.future == nil {
			t.Fatalf("full inbox: a kick instead of the read")
		}
	default:
		t.Fatalf("full inbox: the read is not on readCh")
	}
	r.reads.closed = true
	if err := r.enqueueRead(readReq{kind: readVerify, future: newOpFuture(waiter{}, nil)}, waiter{}); err != raft.ErrRaftShutdown {
		t.Fatalf("closed inbox: %v, want ErrRaftShutdown", err)
	}
}

// Reads made while the leader's read round is in flight wait in the inbox
// without waking the loop, and are confirmed by a later round once the
// followers answer again.
func TestReadsDuringRoundWaitForIt(t *testing.T) {
	c := newCluster(t, 3)
	defer c.shutdown()
	l := c.leader()
	if err := l.raft.VerifyLeader().Error(); err != nil {
		t.Fatal(err)
	}
	// Hold the followers' heartbeat answers: a round stays in flight.
	gate := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(gate) }) }
	defer open()
	for _, f := range c.followers(l) {
		fr := f.raft
		f.trans.SetHeartbeatHandler(func(rpc transport.RPC) {
			<-gate
			fr.handleHeartbeat(rpc)
		})
	}
	first := l.raft.VerifyLeader()
	waitFor(t, 5*time.Second, "a read round in flight", func() bool {
		l.raft.reads.mu.Lock()
		defer l.raft.reads.mu.Unlock()
		return l.raft.reads.deferred
	})
	const n = 16
	futures := make([]Future, n)
	for i := range futures {
		futures[i] = l.raft.VerifyLeader()
	}
	if k := len(l.raft.readCh); k != 0 {
		t.Fatalf("%d kicks on readCh while a round was in flight", k)
	}
	open()
	if err := first.Error(); err != nil {
		t.Fatalf("first read: %v", err)
	}
	for i, f := range futures {
		if err := f.Error(); err != nil {
			t.Fatalf("read %d made during the round: %v", i, err)
		}
	}
	l.raft.reads.mu.Lock()
	left := len(l.raft.reads.reqs)
	l.raft.reads.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d reads left in the inbox", left)
	}
}
