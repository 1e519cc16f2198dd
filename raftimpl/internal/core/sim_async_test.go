package core

import (
	"testing"

	raft "github.com/pontoon-raft/raft"
)

// The simulator's asynchronous log writes: a leader's Ready that only
// appends is acknowledged with AdvanceAsync, its entries join n.writing, and
// the write completes on a later tick (in order), or is lost in a crash.
// A Ready done in place first completes every write in flight, as the
// driver does.

// handleReadyAsync plays the driver for a Ready acknowledged with
// AdvanceAsync: everything is sent and applied at once, the entries are
// written later.
func (s *sim) handleReadyAsync(n *simNode, rd Ready) {
	c := n.core
	if len(rd.Entries) > 0 {
		w := make([]*raft.Log, len(rd.Entries))
		for i, e := range rd.Entries {
			cp := *e
			w[i] = &cp
		}
		n.writing = append(n.writing, w)
		n.wSubmitted++
		s.stats.asyncWrites++
	}
	for _, m := range rd.Messages {
		if acksEntries(m) && len(n.writing) > 0 {
			n.held = append(n.held, heldMsg{m: m, after: n.wSubmitted})
			continue
		}
		s.checkDurable(n, m)
		s.send(m)
	}
	if s.rng.Float64() < s.p.crash {
		s.crash(n, "after async sends")
		return
	}
	s.apply(n, rd)
	c.AdvanceAsync(rd)
	s.checkCore(n)
}

// flushWrites makes the k oldest writes in flight durable without telling
// the core, and returns them.
func (s *sim) flushWrites(n *simNode, k int) [][]*raft.Log {
	done := n.writing[:k:k]
	for _, w := range done {
		if w[0].Index != uint64(len(n.store.ents))+1 {
			s.failf("%s: async write of %d-%d does not continue the stored log (last %d)",
				n.id, w[0].Index, w[len(w)-1].Index, len(n.store.ents))
			return nil
		}
		s.persistEntries(n, Ready{Entries: w})
	}
	n.writing = n.writing[k:]
	n.wCompleted += k
	// Responses waiting for these writes go out, in order.
	i := 0
	for ; i < len(n.held) && n.held[i].after <= n.wCompleted; i++ {
		s.checkDurable(n, n.held[i].m)
		s.send(n.held[i].m)
	}
	n.held = n.held[i:]
	return done
}

// heldMsg is a response waiting for the writes handed out before it.
type heldMsg struct {
	m     Message
	after int
}

// acksEntries reports whether m acknowledges entries as durable.
func acksEntries(m Message) bool { return m.Type == MsgAppResp || m.Type == MsgSnapResp }

// reportWrites tells the core the writes completed.
func (s *sim) reportWrites(n *simNode, done [][]*raft.Log) {
	for _, w := range done {
		last := w[len(w)-1]
		n.core.EntriesPersisted(last.Index, last.Term)
	}
}

// completeWrites completes the k oldest writes in flight and lets the node
// act on it.
func (s *sim) completeWrites(n *simNode, k int) {
	if n.core == nil || k == 0 {
		return
	}
	done := s.flushWrites(n, k)
	s.reportWrites(n, done)
	s.handleReady(n)
}

// storedOrWriting reports whether e is in n's stored log or in a write in
// flight: a leader may apply entries a majority of followers hold before its
// own write completes.
func (s *sim) storedOrWriting(n *simNode, e *raft.Log) bool {
	if e.Index <= uint64(len(n.store.ents)) {
		st := n.store.ents[e.Index-1]
		return st != nil && st.Term == e.Term
	}
	for _, w := range n.writing {
		if e.Index >= w[0].Index && e.Index <= w[len(w)-1].Index {
			return w[e.Index-w[0].Index].Term == e.Term
		}
	}
	return false
}

// A leader learns whether its followers alone form a quorum (the driver
// then spaces its own log writes): yes with every follower answering, no
// once one of two is gone, until it answers again.
func TestFollowersFormQuorum(t *testing.T) {
	s := newSim(0, false)
	s.p.loss, s.p.dup, s.p.crash, s.p.partition, s.p.confChange = 0, 0, 0, 0, 0
	s.p.proto = protoParams{}
	if s.p.voters != 3 {
		t.Fatalf("seed 0 draws %d voters, want 3", s.p.voters)
	}
	for _, n := range s.nodes {
		s.start(n)
	}
	run := func(ticks int) {
		for i := 0; i < ticks && s.err == nil; i++ {
			s.now++
			s.tick()
			s.deliver()
		}
		if s.err != nil {
			t.Fatal(s.err)
		}
	}
	run(60)
	l := s.leader()
	if l == nil {
		t.Fatal("no leader")
	}
	// At every tick, check-quorum passes included: the driver samples it
	// once a tick, and a pass clears every follower's RecentActive.
	for i := 0; i < 3*s.p.cfg.LeaseTick; i++ {
		if !l.core.FollowersFormQuorum() {
			t.Fatalf("FollowersFormQuorum false with every follower answering (tick %d, LeaseTick %d)", i, s.p.cfg.LeaseTick)
		}
		run(1)
	}
	var gone *simNode
	for _, n := range s.nodes {
		if n != l && n.idx < s.p.voters {
			gone = n
			break
		}
	}
	s.crash(gone, "test")
	run(3 * s.p.cfg.LeaseTick)
	if s.leader() != l {
		t.Fatal("leadership changed")
	}
	if l.core.FollowersFormQuorum() {
		t.Fatal("FollowersFormQuorum true with one of two followers down")
	}
	s.start(gone)
	run(3 * s.p.cfg.LeaseTick)
	if !l.core.FollowersFormQuorum() {
		t.Fatal("FollowersFormQuorum false after the follower came back")
	}
	for _, n := range s.nodes {
		if n != l && n.core != nil && n.core.FollowersFormQuorum() {
			t.Fatalf("follower %s reports FollowersFormQuorum", n.id)
		}
	}
}
