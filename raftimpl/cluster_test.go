package raftimpl

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

func TestClusterElectsOneLeader(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(map[int]string{3: "3nodes", 5: "5nodes"}[n], func(t *testing.T) {
			c := newCluster(t, n)
			l := c.leader()
			term := l.raft.CurrentTerm()
			// Every node learns the same leader.
			waitFor(t, 5*time.Second, "all nodes to know the leader", func() bool {
				for _, nd := range c.nodes {
					if _, id := nd.raft.LeaderWithID(); id != l.id {
						return false
					}
				}
				return true
			})
			for _, nd := range c.followers(l) {
				if nd.raft.State() != raft.Follower {
					t.Fatalf("%s is %v, want Follower", nd.id, nd.raft.State())
				}
				if nd.raft.CurrentTerm() != term {
					t.Fatalf("%s at term %d, leader at %d", nd.id, nd.raft.CurrentTerm(), term)
				}
			}
		})
	}
}

func TestClusterApplyReachesEveryFSMInOrder(t *testing.T) {
	testClusterApplyReachesEveryFSMInOrder(t, newCluster)
}

func testClusterApplyReachesEveryFSMInOrder(t *testing.T, mk clusterMaker) {
	c := mk(t, 3)
	l := c.leader()
	var want [][]byte
	var futures []ApplyFuture
	for i := 0; i < 200; i++ {
		want = append(want, cmd(i))
		futures = append(futures, l.raft.Apply(cmd(i), 5*time.Second))
	}
	var lastIndex uint64
	for i, f := range futures {
		if err := f.Error(); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		if f.Index() <= lastIndex {
			t.Fatalf("apply %d: index %d not after %d", i, f.Index(), lastIndex)
		}
		lastIndex = f.Index()
		if got := f.Response(); got != i+1 {
			t.Fatalf("apply %d: response %v, want %d", i, got, i+1)
		}
	}
	c.waitApplied(want)
	if l.raft.AppliedIndex() < lastIndex {
		t.Fatalf("leader applied index %d < %d", l.raft.AppliedIndex(), lastIndex)
	}
}

func TestClusterApplyOnFollowerIsNotLeader(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	f := c.followers(l)[0]
	err := f.raft.Apply(cmd(1), time.Second).Error()
	if !errors.Is(err, raft.ErrNotLeader) {
		t.Fatalf("Apply on follower: %v, want ErrNotLeader", err)
	}
	if err := f.raft.VerifyLeader().Error(); !errors.Is(err, raft.ErrNotLeader) {
		t.Fatalf("VerifyLeader on follower: %v, want ErrNotLeader", err)
	}
}

func TestClusterLeaderShutdownKeepsAcknowledgedEntries(t *testing.T) {
	testClusterLeaderShutdownKeepsAcknowledgedEntries(t, newCluster)
}

func testClusterLeaderShutdownKeepsAcknowledgedEntries(t *testing.T, mk clusterMaker) {
	c := mk(t, 3)
	l := c.leader()
	var want [][]byte
	for i := 0; i < 50; i++ {
		if err := l.raft.Apply(cmd(i), 5*time.Second).Error(); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		want = append(want, cmd(i))
	}
	oldTerm := l.raft.CurrentTerm()
	c.stop(l)
	l2 := c.leader()
	if l2 == l {
		t.Fatal("stopped node still leader")
	}
	if l2.raft.CurrentTerm() <= oldTerm {
		t.Fatalf("new leader term %d not above %d", l2.raft.CurrentTerm(), oldTerm)
	}
	for i := 50; i < 60; i++ {
		if err := l2.raft.Apply(cmd(i), 5*time.Second).Error(); err != nil {
			t.Fatalf("apply %d on new leader: %v", i, err)
		}
		want = append(want, cmd(i))
	}
	c.waitApplied(want)
	// The old leader comes back and catches up.
	c.restart(l)
	c.waitApplied(want, c.nodes...)
}

func TestClusterPartitionedLeaderStepsDownAndCannotCommit(t *testing.T) {
	testClusterPartitionedLeaderStepsDownAndCannotCommit(t, newCluster)
}

func testClusterPartitionedLeaderStepsDownAndCannotCommit(t *testing.T, mk clusterMaker) {
	c := mk(t, 5)
	old := c.leader()
	if err := old.raft.Apply(cmd(0), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	want := [][]byte{cmd(0)}
	c.partition(old)

	// The isolated leader cannot commit: the apply fails once it steps down.
	stale := old.raft.Apply([]byte("lost"), 0)
	waitFor(t, 5*time.Second, "the isolated leader to step down", func() bool {
		return old.raft.State() != raft.Leader
	})
	if err := stale.Error(); !errors.Is(err, raft.ErrLeadershipLost) && !errors.Is(err, raft.ErrNotLeader) {
		t.Fatalf("apply on isolated leader: %v, want ErrLeadershipLost", err)
	}

	var majority []*node
	for _, nd := range c.nodes {
		if nd != old {
			majority = append(majority, nd)
		}
	}
	l := c.leader(majority...)
	for i := 1; i < 20; i++ {
		if err := l.raft.Apply(cmd(i), 5*time.Second).Error(); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		want = append(want, cmd(i))
	}
	c.heal()
	c.waitApplied(want, c.nodes...)
	c.leader()
}

func TestClusterFullRestartKeepsAcknowledgedEntries(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	var want [][]byte
	for i := 0; i < 100; i++ {
		if err := l.raft.Apply(cmd(i), 5*time.Second).Error(); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		want = append(want, cmd(i))
	}
	terms := map[raft.ServerID]uint64{}
	for _, nd := range c.nodes {
		terms[nd.id] = nd.raft.CurrentTerm()
		c.stop(nd)
	}
	for _, nd := range c.nodes {
		c.restart(nd)
		if nd.raft.CurrentTerm() < terms[nd.id] {
			t.Fatalf("%s restarted at term %d, before %d", nd.id, nd.raft.CurrentTerm(), terms[nd.id])
		}
	}
	l = c.leader()
	if err := l.raft.Apply(cmd(100), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	want = append(want, cmd(100))
	c.waitApplied(want, c.nodes...)
}

// Bootstrapping one node with the full configuration is enough: the blank
// nodes vote for it (they have no configuration to check the candidate
// against, as with hashicorp/raft) and then receive the log.
func TestClusterBootstrapOneNodeOthersBlank(t *testing.T) {
	var rs []*Raft
	var trs []*transport.InmemTransport
	var fsms []*testFSM
	var conf raft.Configuration
	for _, id := range []string{"a", "b", "c"} {
		addr, tr := transport.NewInmemTransport(raft.ServerAddress("blank-" + id))
		trs = append(trs, tr)
		conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(id), Address: addr})
	}
	for i := range trs {
		for j := range trs {
			if i != j {
				trs[i].Connect(trs[j].LocalAddr(), trs[j])
			}
		}
	}
	for i, s := range conf.Servers {
		store := logstore.NewInmemStore()
		fsm := &testFSM{}
		r, err := NewRaft(testConfig(t, s.ID), fsm, store, store, snapshot.NewInmemSnapshotStore(), trs[i])
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
		fsms = append(fsms, fsm)
	}
	defer func() {
		for _, r := range rs {
			r.Shutdown().Error()
		}
	}()
	if err := rs[0].BootstrapCluster(conf).Error(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the bootstrapped node to lead", func() bool { return rs[0].State() == raft.Leader })
	if err := rs[0].Apply(cmd(1), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	for i, f := range fsms {
		waitFor(t, 10*time.Second, fmt.Sprintf("node %d to apply", i), func() bool { return len(f.commands()) == 1 })
	}
	for _, r := range rs[1:] {
		if got := r.GetConfiguration().Configuration(); len(got.Servers) != 3 {
			t.Fatalf("follower configuration %+v", got)
		}
	}
}

// A leader whose log store stops completing writes loses leadership: it
// reports itself a follower once DiskStallTimeout passes, the others elect a
// new leader, and when the disk comes back it rejoins as a follower.
func TestClusterStuckDiskLeaderStepsDown(t *testing.T) {
	testClusterStuckDiskLeaderStepsDown(t, newCluster)
}

func testClusterStuckDiskLeaderStepsDown(t *testing.T, mk clusterMaker) {
	c := mk(t, 3)
	conf := c.conf
	c.conf = func(id raft.ServerID) *Config {
		cf := conf(id)
		cf.DiskStallTimeout = 300 * time.Millisecond
		return cf
	}
	// Restart every node over a store whose writes can be stalled.
	gates := map[raft.ServerID]*gatedStore{}
	for _, nd := range c.nodes {
		c.stop(nd)
	}
	for _, nd := range c.nodes {
		g := &gatedStore{testStore: nd.store, open: make(chan struct{})}
		close(g.open)
		gates[nd.id] = g
		addr, trans := transport.NewInmemTransport(nd.addr)
		nd.addr, nd.trans = addr, trans
	}
	c.connectAll()
	for _, nd := range c.nodes {
		r, err := NewRaft(c.conf(nd.id), nd.fsm, gates[nd.id], nd.store, nd.snaps, nd.trans)
		if err != nil {
			t.Fatal(err)
		}
		nd.raft, nd.closed = r, false
	}
	l := c.leader()
	if err := l.raft.Apply(cmd(0), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	g := gates[l.id]
	g.stall()
	stuck := l.raft.Apply(cmd(1), 0)
	var others []*node
	for _, nd := range c.nodes {
		if nd != l {
			others = append(others, nd)
		}
	}
	l2 := c.leader(others...)
	waitFor(t, 5*time.Second, "the stalled leader to report itself a follower", func() bool {
		return l.raft.State() != raft.Leader
	})
	if err := l2.raft.Apply(cmd(2), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	g.resume()
	if err := stuck.Error(); err == nil {
		// It may legitimately have committed if it reached the followers
		// before the stall took hold; then the new leader has it.
		t.Log("the entry proposed during the stall committed")
	}
	waitFor(t, 10*time.Second, "the old leader to follow the new one", func() bool {
		_, id := l.raft.LeaderWithID()
		return l.raft.State() == raft.Follower && id == l2.id
	})
	want := l2.fsm.commands()
	c.waitApplied(want, c.nodes...)
}

// gatedStore is an InmemStore whose StoreLogs waits while the gate is shut.
type gatedStore struct {
	testStore
	mu   sync.Mutex
	open chan struct{}
}

func (g *gatedStore) stall() {
	g.mu.Lock()
	g.open = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedStore) resume() {
	g.mu.Lock()
	close(g.open)
	g.mu.Unlock()
}

func (g *gatedStore) StoreLogs(logs []*raft.Log) error {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	<-open
	return g.testStore.StoreLogs(logs)
}

func (g *gatedStore) StoreLog(l *raft.Log) error { return g.StoreLogs([]*raft.Log{l}) }
