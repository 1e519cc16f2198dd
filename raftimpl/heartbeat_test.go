package raftimpl

import (
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/transport"
)

func fastHeartbeats(r *Raft) uint64 {
	r.hbGate.mu.Lock()
	defer r.hbGate.mu.Unlock()
	return r.hbGate.fast
}

// Followers answer routine heartbeats on the transport's goroutine, and
// those answers keep resetting their election timers: with nothing else
// arriving, no election happens over many election timeouts, and the
// leader's reads (one heartbeat round each) keep succeeding.
func TestHeartbeatFastPathKeepsLeader(t *testing.T) {
	c := newCluster(t, 3)
	defer c.shutdown()
	l := c.leader()
	term := l.raft.CurrentTerm()
	fs := c.followers(l)
	waitFor(t, 10*time.Second, "heartbeats answered on the fast path", func() bool {
		for _, f := range fs {
			if fastHeartbeats(f.raft) < 20 {
				return false
			}
		}
		return true
	})
	deadline := time.Now().Add(4 * c.nodes[0].raft.conf.ElectionTimeout)
	for time.Now().Before(deadline) {
		if err := l.raft.VerifyLeader().Error(); err != nil {
			t.Fatalf("VerifyLeader: %v", err)
		}
	}
	if got := l.raft.CurrentTerm(); got != term || l.raft.State() != raft.Leader {
		t.Fatalf("term %d -> %d, leader state %v: a follower timed out despite answered heartbeats", term, got, l.raft.State())
	}
	for _, f := range fs {
		if f.raft.CurrentTerm() != term {
			t.Fatalf("%s moved to term %d", f.raft.localID, f.raft.CurrentTerm())
		}
	}
}

// A heartbeat of another term, or from a server that is not the leader,
// goes to the driver (which refuses the stale one and adopts the newer
// term): the fast path answers only the core's routine heartbeat.
func TestHeartbeatFastPathOnlyRoutine(t *testing.T) {
	c := newCluster(t, 3)
	defer c.shutdown()
	l := c.leader()
	f := c.followers(l)[0]
	waitFor(t, 10*time.Second, "fast path open", func() bool { return fastHeartbeats(f.raft) > 0 })
	g := &f.raft.hbGate
	g.mu.Lock()
	open, lead, term := g.open, g.lead, g.term
	g.mu.Unlock()
	if !open || lead != l.raft.localID || term != l.raft.CurrentTerm() {
		t.Fatalf("gate open=%v lead=%q term=%d; leader %q term %d", open, lead, term, l.raft.localID, l.raft.CurrentTerm())
	}
	// Answered here: only the routine heartbeat, with Success.
	hb := func(from raft.ServerID, term uint64) (bool, *transport.AppendEntriesResponse) {
		h := l.raft.header()
		h.ID = []byte(from)
		ch := make(chan transport.RPCResponse, 1)
		rpc := transport.RPC{Command: &transport.AppendEntriesRequest{RPCHeader: h, Term: term}, RespChan: ch}
		if !f.raft.answerHeartbeat(rpc) {
			return false, nil
		}
		resp := <-ch
		return true, resp.Response.(*transport.AppendEntriesResponse)
	}
	// NB: the fast path declines while the driver handles an event: retry.
	var resp *transport.AppendEntriesResponse
	waitFor(t, 10*time.Second, "the routine heartbeat answered", func() bool {
		var ok bool
		ok, resp = hb(lead, term)
		return ok
	})
	if !resp.Success || resp.Term != term {
		t.Fatalf("routine heartbeat: %+v", resp)
	}
	if ok, _ := hb(lead, term+1); ok {
		t.Fatalf("heartbeat of a newer term answered on the fast path")
	}
	if ok, _ := hb(lead, term-1); ok {
		t.Fatalf("stale heartbeat answered on the fast path")
	}
	if ok, _ := hb(c.followers(l)[1].raft.localID, term); ok {
		t.Fatalf("heartbeat from a non-leader answered on the fast path")
	}
	// A leader never opens it.
	lg := &l.raft.hbGate
	lg.mu.Lock()
	lopen := lg.open
	lg.mu.Unlock()
	if lopen {
		t.Fatalf("leader's gate is open")
	}
	// Shut down: closed for good.
	c.stop(f)
	g.mu.Lock()
	open = g.open
	g.mu.Unlock()
	if open {
		t.Fatalf("gate open after shutdown")
	}
}
