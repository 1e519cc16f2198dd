package raftimpl

import (
	"sync"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
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

// A heartbeat answer waits for the loop's next pass only while reads wait
// for a later round, and only if it is a plain Success in the heartbeat's
// term; the loop then steps it like any answer.
func TestLateHeartbeatAnswers(t *testing.T) {
	r := &Raft{}
	hb := core.Message{Type: core.MsgHeartbeat, To: "n2", Term: 3, Context: 5}
	ok := core.Message{Type: core.MsgHeartbeatResp, From: "n2", Term: 3, Success: true, Context: 5}
	if r.deferHeartbeatAnswer(hb, ok) {
		t.Fatalf("deferred with no read waiting")
	}
	r.readRound.Store(5)
	if r.deferHeartbeatAnswer(hb, ok) {
		t.Fatalf("deferred the answer to the round reads wait for")
	}
	r.readRound.Store(6)
	refused := ok
	refused.Success = false
	newer := ok
	newer.Term = 4
	for _, m := range []core.Message{refused, newer, {Type: core.MsgUnreachable, From: "n2"}} {
		if r.deferHeartbeatAnswer(hb, m) {
			t.Fatalf("deferred %+v", m)
		}
	}
	app := core.Message{Type: core.MsgApp, To: "n2", Term: 3}
	if r.deferHeartbeatAnswer(app, core.Message{Type: core.MsgAppResp, Term: 3, Success: true}) {
		t.Fatalf("deferred an AppendEntries answer")
	}
	r.lastIndex.Store(10)
	behind := ok
	behind.LastLog = 9
	if r.deferHeartbeatAnswer(hb, behind) {
		t.Fatalf("deferred the answer of a follower missing entries")
	}
	ok.LastLog = 10
	r.conf.LeaseReads = true
	if r.deferHeartbeatAnswer(hb, ok) {
		t.Fatalf("deferred an answer with lease reads on")
	}
	r.conf.LeaseReads = false
	if !r.deferHeartbeatAnswer(hb, ok) {
		t.Fatalf("answer to round 5 not deferred while reads wait for round 6")
	}
	for i := 1; i < maxLateAnswers; i++ {
		r.deferHeartbeatAnswer(hb, ok)
	}
	if r.deferHeartbeatAnswer(hb, ok) {
		t.Fatalf("deferred past maxLateAnswers")
	}
}

// With reads running, heartbeat answers that confirm nothing are deferred,
// and the loop steps them with its next pass: every read succeeds, the
// leader keeps its term, and the late answers do not stay behind.
func TestLateAnswersReachTheCore(t *testing.T) {
	c := newCluster(t, 3)
	defer c.shutdown()
	l := c.leader()
	term := l.raft.CurrentTerm()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 300; j++ {
				if err := l.raft.VerifyLeader().Error(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("VerifyLeader: %v", err)
	}
	waitFor(t, 5*time.Second, "late heartbeat answers stepped", func() bool {
		l.raft.late.mu.Lock()
		defer l.raft.late.mu.Unlock()
		return len(l.raft.late.msgs) == 0
	})
	if l.raft.State() != raft.Leader || l.raft.CurrentTerm() != term {
		t.Fatalf("leader lost its leadership during reads: state %v term %d -> %d", l.raft.State(), term, l.raft.CurrentTerm())
	}
}
