package raftimpl

import (
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/transport"
)

// A server that is not in the configuration sends RequestVote with a much
// higher term and the leadership-transfer flag to every member: no vote, and
// the cluster's term and leader are untouched (issue 11 row 8; hashicorp/raft
// checks membership before it looks at the term).
func TestVoteFromNonMemberIsRefusedThroughTransport(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	if err := l.raft.Apply(cmd(0), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	term := l.raft.CurrentTerm()
	xAddr, x := transport.NewInmemTransport("addr-x")
	defer x.Close()
	for _, nd := range c.nodes {
		x.Connect(nd.addr, nd.trans)
		nd.trans.Connect(xAddr, x)
	}
	for _, nd := range c.nodes {
		req := &transport.RequestVoteRequest{
			RPCHeader:          transport.RPCHeader{ProtocolVersion: 3, ID: []byte("x"), Addr: []byte(xAddr)},
			Term:               term + 101,
			Candidate:          []byte(xAddr),
			LastLogIndex:       1 << 20,
			LastLogTerm:        term + 100,
			LeadershipTransfer: true,
		}
		var resp transport.RequestVoteResponse
		if err := x.RequestVote(nd.id, nd.addr, req, &resp); err != nil {
			t.Fatalf("RequestVote to %s: %v", nd.id, err)
		}
		if resp.Granted {
			t.Fatalf("%s granted its vote to a server outside the configuration", nd.id)
		}
	}
	// The cluster goes on as it was: same term, same leader.
	if err := l.raft.Apply(cmd(1), 5*time.Second).Error(); err != nil {
		t.Fatalf("Apply after the vote requests: %v", err)
	}
	for _, nd := range c.nodes {
		if got := nd.raft.CurrentTerm(); got != term {
			t.Fatalf("%s is at term %d, want %d", nd.id, got, term)
		}
		if _, id := nd.raft.LeaderWithID(); id != l.id && nd != l {
			t.Fatalf("%s follows %q, want %s", nd.id, id, l.id)
		}
	}
	if l.raft.State() != raft.Leader {
		t.Fatalf("the leader is now %v", l.raft.State())
	}
	c.waitApplied([][]byte{cmd(0), cmd(1)})
}
