package raftimpl

import (
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
)

// newGatedCluster starts n nodes whose log writes can each be held back.
func newGatedCluster(t *testing.T, n int) (*cluster, map[raft.ServerID]*gatedStore) {
	gates := map[raft.ServerID]*gatedStore{}
	c := newClusterWith(t, n, func(name string) testStore {
		g := &gatedStore{testStore: logstore.NewInmemStore(), open: make(chan struct{})}
		close(g.open)
		gates[raft.ServerID(name)] = g
		return g
	})
	return c, gates
}

// The leader writes its log in parallel with replicating it: an entry
// commits once the two followers hold it, while the leader's own write is
// still in flight, and the leader's write lands afterwards.
func TestLeaderCommitsWhileItsOwnWriteIsInFlight(t *testing.T) {
	c, gates := newGatedCluster(t, 3)
	l := c.leader()
	if err := l.raft.Apply(cmd(0), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	gates[l.id].stall()
	f := l.raft.Apply(cmd(1), 5*time.Second)
	if err := f.Error(); err != nil {
		gates[l.id].resume()
		t.Fatalf("Apply while the leader's disk is slow: %v", err)
	}
	last, err := l.store.LastIndex()
	gates[l.id].resume()
	if err != nil {
		t.Fatal(err)
	}
	if last >= f.Index() {
		t.Fatalf("the leader stored entry %d before the entry committed; want the commit to come from the followers", f.Index())
	}
	waitFor(t, 5*time.Second, "the leader's own write to land", func() bool {
		last, _ := l.store.LastIndex()
		return last >= f.Index()
	})
	c.waitApplied([][]byte{cmd(0), cmd(1)}, c.nodes...)
}

// A follower acknowledges entries only once its own write of them
// completed: with the leader's and one follower's writes held back, only one
// server of three holds the entry, and it must not commit.
func TestFollowersAcknowledgeOnlyDurableEntries(t *testing.T) {
	c, gates := newGatedCluster(t, 3)
	l := c.leader()
	if err := l.raft.Apply(cmd(0), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	f1 := c.followers(l)[0]
	gates[l.id].stall()
	gates[f1.id].stall()
	f := l.raft.Apply(cmd(1), 0)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	// Well under DiskStallTimeout (2 s): the leader keeps its role.
	select {
	case err := <-done:
		gates[f1.id].resume()
		gates[l.id].resume()
		t.Fatalf("the entry committed (err %v) while only one server of three had stored it", err)
	case <-time.After(300 * time.Millisecond):
	}
	gates[f1.id].resume()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no commit after the follower's write completed")
	}
	gates[l.id].resume()
	c.waitApplied([][]byte{cmd(0), cmd(1)}, c.nodes...)
}
