package raftimpl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

func applyN(t *testing.T, r *Raft, from, to int) [][]byte {
	t.Helper()
	var out [][]byte
	var fs []ApplyFuture
	for i := from; i < to; i++ {
		fs = append(fs, r.Apply(cmd(i), 10*time.Second))
		out = append(out, cmd(i))
	}
	for i, f := range fs {
		if err := f.Error(); err != nil {
			t.Fatalf("apply %d: %v", from+i, err)
		}
	}
	return out
}

// A follower cut off while the leader snapshots and compacts its log is
// caught up by InstallSnapshot, then by normal replication.
func TestInstallSnapshotCatchesUpLaggingFollower(t *testing.T) {
	testInstallSnapshotCatchesUpLaggingFollower(t, newCluster)
}

func testInstallSnapshotCatchesUpLaggingFollower(t *testing.T, mk clusterMaker) {
	c := mk(t, 3)
	base := c.conf
	c.conf = func(id raft.ServerID) *Config {
		cf := base(id)
		cf.TrailingLogs = 10
		// NB: AppendEntries queued for the lagging follower while it is cut
		// off are still delivered when it comes back; small messages and a
		// small window keep what they can carry far below the compacted gap,
		// so catching up needs the snapshot.
		cf.MaxAppendEntries = 4
		cf.MaxInflightAppends = 2
		return cf
	}
	for _, nd := range c.nodes {
		c.stop(nd)
	}
	for _, nd := range c.nodes {
		c.restart(nd)
	}
	l := c.leader()
	want := applyN(t, l.raft, 0, 20)
	lag := c.followers(l)[0]
	c.partition(lag)
	want = append(want, applyN(t, l.raft, 20, 200)...)
	// Every node but the lagging one snapshots and compacts, so whichever
	// leads after the partition heals must send a snapshot.
	for _, nd := range c.nodes {
		if nd == lag {
			continue
		}
		c.waitApplied(want, nd)
		if err := nd.raft.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot on %s: %v", nd.id, err)
		}
		waitFor(t, 5*time.Second, string(nd.id)+" to compact its log", func() bool {
			first, _ := nd.store.FirstIndex()
			return first > 30
		})
	}
	want = append(want, applyN(t, l.raft, 200, 210)...)
	c.heal()
	c.waitApplied(want, c.nodes...)
	if lag.raft.lastSnapshotIndex.Load() == 0 {
		// Diagnostics for the next reader: where every log starts and ends.
		for _, nd := range c.nodes {
			first, _ := nd.store.FirstIndex()
			last, _ := nd.store.LastIndex()
			t.Logf("%s (lag=%v): state %v term %d log [%d, %d] snapshot %d", nd.id, nd == lag,
				nd.raft.State(), nd.raft.CurrentTerm(), first, last, nd.raft.lastSnapshotIndex.Load())
		}
		t.Fatal("the lagging follower caught up without installing a snapshot")
	}
	// Replication continues normally after the install.
	want = append(want, applyN(t, c.leader().raft, 210, 220)...)
	c.waitApplied(want, c.nodes...)
}

// newNode creates a node that is not part of the cluster yet, connected to
// every member.
func (c *cluster) newNode(name string) *node {
	id := raft.ServerID(name)
	addr, trans := transport.NewInmemTransport(raft.ServerAddress("addr-" + name))
	nd := &node{id: id, addr: addr, store: c.newStore(name), snaps: snapshot.NewInmemSnapshotStore(),
		trans: trans, fsm: &testFSM{}}
	c.nodes = append(c.nodes, nd)
	c.connectAll()
	c.start(nd)
	return nd
}

func TestMembershipAddRemoveDemote(t *testing.T) { testMembershipAddRemoveDemote(t, newCluster) }

func testMembershipAddRemoveDemote(t *testing.T, mk clusterMaker) {
	c := mk(t, 3)
	l := c.leader()
	want := applyN(t, l.raft, 0, 10)

	n4 := c.newNode("n4")
	cf := l.raft.GetConfiguration()
	if err := l.raft.AddVoter(n4.id, n4.addr, 12345, 5*time.Second).Error(); !errors.Is(err, raft.ErrConfigurationChanged) {
		t.Fatalf("AddVoter with a stale prevIndex: %v", err)
	}
	f := l.raft.AddVoter(n4.id, n4.addr, cf.Index(), 5*time.Second)
	if err := f.Error(); err != nil {
		t.Fatalf("AddVoter: %v", err)
	}
	if f.Index() <= cf.Index() {
		t.Fatalf("AddVoter index %d not after %d", f.Index(), cf.Index())
	}
	c.waitApplied(want, n4)
	got := l.raft.GetConfiguration().Configuration()
	if len(got.Servers) != 4 || !raft.HasVote(got, n4.id) {
		t.Fatalf("configuration after AddVoter: %+v", got)
	}
	waitFor(t, 5*time.Second, "n4 to learn the configuration", func() bool {
		return len(n4.raft.GetConfiguration().Configuration().Servers) == 4
	})

	// Demote a follower, then remove it.
	victim := c.followers(l)[0]
	if victim == n4 {
		victim = c.followers(l)[1]
	}
	if err := l.raft.DemoteVoter(victim.id, 0, 5*time.Second).Error(); err != nil {
		t.Fatalf("DemoteVoter: %v", err)
	}
	if raft.HasVote(l.raft.GetConfiguration().Configuration(), victim.id) {
		t.Fatal("demoted server still votes")
	}
	if err := l.raft.RemoveServer(victim.id, 0, 5*time.Second).Error(); err != nil {
		t.Fatalf("RemoveServer: %v", err)
	}
	if n := len(l.raft.GetConfiguration().Configuration().Servers); n != 3 {
		t.Fatalf("%d servers after RemoveServer, want 3", n)
	}
	want = append(want, applyN(t, l.raft, 10, 20)...)
	var members []*node
	for _, nd := range c.running() {
		if nd != victim {
			members = append(members, nd)
		}
	}
	c.waitApplied(want, members...)

	// A non-voter receives the log but does not vote.
	n5 := c.newNode("n5")
	if err := l.raft.AddNonvoter(n5.id, n5.addr, 0, 5*time.Second).Error(); err != nil {
		t.Fatalf("AddNonvoter: %v", err)
	}
	c.waitApplied(want, n5)
	if raft.HasVote(l.raft.GetConfiguration().Configuration(), n5.id) {
		t.Fatal("non-voter has a vote")
	}
	if n5.raft.State() != raft.Follower {
		t.Fatalf("non-voter is %v", n5.raft.State())
	}
	// Removing the last voters is refused.
	if err := l.raft.ChangeConfiguration(context.Background(), ConfigurationChange{Command: RemoveServer, ID: "nobody"}).Error(); err == nil {
		t.Log("removing an unknown server is a no-op") // as hashicorp/raft
	}
	if err := c.followers(l)[0].raft.AddVoter("x", "y", 0, time.Second).Error(); !errors.Is(err, raft.ErrNotLeader) {
		t.Fatalf("AddVoter on a follower: %v", err)
	}
}

func TestMembershipStagingIsPromotedOnceCaughtUp(t *testing.T) {
	testMembershipStagingIsPromotedOnceCaughtUp(t, newCluster)
}

func testMembershipStagingIsPromotedOnceCaughtUp(t *testing.T, mk clusterMaker) {
	c := mk(t, 3)
	l := c.leader()
	want := applyN(t, l.raft, 0, 100)
	n4 := c.newNode("n4")
	if err := l.raft.AddNonvoterPromoting(n4.id, n4.addr, 0, 5*time.Second).Error(); err != nil {
		t.Fatalf("AddNonvoterPromoting: %v", err)
	}
	c.waitApplied(want, n4)
	waitFor(t, 10*time.Second, "n4 to be promoted to voter", func() bool {
		return raft.HasVote(l.raft.GetConfiguration().Configuration(), n4.id)
	})
}

// Removing the leader: it keeps leading until the change commits, then
// steps down and (ShutdownOnRemove) shuts down; the others elect a leader.
func TestMembershipRemoveLeader(t *testing.T) { testMembershipRemoveLeader(t, newCluster) }

func testMembershipRemoveLeader(t *testing.T, mk clusterMaker) {
	c := mk(t, 3)
	l := c.leader()
	want := applyN(t, l.raft, 0, 5)
	if err := l.raft.RemoveServer(l.id, 0, 5*time.Second).Error(); err != nil {
		t.Fatalf("RemoveServer(leader): %v", err)
	}
	waitFor(t, 10*time.Second, "the removed leader to shut down", func() bool {
		return l.raft.State() == raft.Shutdown
	})
	l.closed = true
	l2 := c.leader(c.followers(l)...)
	if got := l2.raft.GetConfiguration().Configuration(); len(got.Servers) != 2 {
		t.Fatalf("configuration after removing the leader: %+v", got)
	}
	want = append(want, applyN(t, l2.raft, 5, 10)...)
	c.waitApplied(want, c.followers(l)...)
}

func TestLeadershipTransfer(t *testing.T) { testLeadershipTransfer(t, newCluster) }

func testLeadershipTransfer(t *testing.T, mk clusterMaker) {
	c := mk(t, 3)
	l := c.leader()
	applyN(t, l.raft, 0, 10)
	if err := l.raft.LeadershipTransferToServer(l.id, l.addr).Error(); err == nil || !strings.Contains(err.Error(), "itself") {
		t.Fatalf("transfer to self: %v", err)
	}
	l2 := transferUntilMoved(t, c, l, nil)
	target := c.followers(l2)[0]
	transferUntilMoved(t, c, l2, target)
	waitFor(t, 10*time.Second, "the chosen target to lead", func() bool { return target.raft.State() == raft.Leader })
	if err := c.followers(target)[0].raft.LeadershipTransfer().Error(); !errors.Is(err, raft.ErrNotLeader) {
		t.Fatalf("transfer on a follower: %v", err)
	}
}

// transferUntilMoved asks leader l to hand leadership to target (nil: the
// most up-to-date voter) until another node (target, if given) leads, and
// returns the new leader.
//
// NB: a transfer is bounded by contract: it fails with
// raft.ErrLeadershipTransferTimeout when the target is not caught up within
// an election timeout (250ms here), or has not won within another. A starved
// -race run can take longer than that for its fsyncs and hops, and the target
// may still win just after; that is retried until a deadline, any other
// error is not. The caller checks the outcome it needs (who leads).
func transferUntilMoved(t *testing.T, c *cluster, l, target *node) *node {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		if target == nil {
			err = l.raft.LeadershipTransfer().Error()
		} else {
			err = l.raft.LeadershipTransferToServer(target.id, target.addr).Error()
		}
		// ErrNotLeader: an election ended l's term before the request.
		if err != nil && !errors.Is(err, raft.ErrLeadershipTransferTimeout) && !errors.Is(err, raft.ErrNotLeader) {
			t.Fatalf("leadership transfer from %s: %v", l.id, err)
		}
		if err != nil {
			t.Logf("leadership transfer from %s: %v (a loaded machine)", l.id, err)
		}
		now := c.leader()
		if now != l && (target == nil || now == target) {
			return now
		}
		// NB: a success means l stepped down for a higher term; the
		// target's election can still fail like any, and another voter
		// (l too) win the next one: transfer again.
		if err == nil {
			t.Logf("transfer from %s succeeded, but %s leads now; retrying", l.id, now.id)
		}
		if time.Now().After(deadline) {
			t.Fatalf("leadership still on %s after 20s of transfers", now.id)
		}
		l = now
	}
}

// A transfer to a node that cannot win (it is cut off) aborts after an
// election timeout, and the leader takes writes again.
func TestLeadershipTransferTimesOut(t *testing.T) { testLeadershipTransferTimesOut(t, newCluster) }

func testLeadershipTransferTimesOut(t *testing.T, mk clusterMaker) {
	c := mk(t, 3)
	l := c.leader()
	target := c.followers(l)[0]
	l.trans.Disconnect(target.addr)
	err := l.raft.LeadershipTransferToServer(target.id, target.addr).Error()
	if !errors.Is(err, raft.ErrLeadershipTransferTimeout) {
		t.Fatalf("transfer to an unreachable node: %v", err)
	}
	l.trans.Connect(target.addr, target.trans)
	l = c.leader()
	applyN(t, l.raft, 0, 3)
}

func TestLinearizableReads(t *testing.T) { testLinearizableReads(t, newCluster) }

func testLinearizableReads(t *testing.T, mk clusterMaker) {
	c := mk(t, 3)
	base := c.conf
	c.conf = func(id raft.ServerID) *Config {
		cf := base(id)
		cf.LeaseReads = true
		return cf
	}
	for _, nd := range c.nodes {
		c.stop(nd)
	}
	for _, nd := range c.nodes {
		c.restart(nd)
	}
	l := c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 20; i++ {
		if err := l.raft.Apply(cmd(i), 5*time.Second).Error(); err != nil {
			t.Fatal(err)
		}
		// Every acknowledged write is visible to a read that starts after
		// it, on any node.
		for _, nd := range c.nodes {
			var idx uint64
			var err error
			if nd == l && i%2 == 0 {
				idx, err = nd.raft.LeaseRead(ctx)
			} else {
				idx, err = nd.raft.ReadIndex(ctx)
			}
			if err != nil {
				t.Fatalf("read on %s: %v", nd.id, err)
			}
			got := nd.fsm.commands()
			if len(got) < i+1 || !bytes.Equal(got[i], cmd(i)) {
				t.Fatalf("read on %s at index %d misses write %d (has %d)", nd.id, idx, i, len(got))
			}
		}
	}
	// A leader cut off from the others cannot serve a read.
	c.partition(l)
	rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer rcancel()
	if _, err := l.raft.ReadIndex(rctx); err == nil {
		t.Fatal("isolated leader served a linearizable read")
	}
}

func TestUserRestore(t *testing.T) { testUserRestore(t, newCluster) }

func testUserRestore(t *testing.T, mk clusterMaker) {
	c := mk(t, 3)
	l := c.leader()
	applyN(t, l.raft, 0, 10)
	// The backup: a snapshot holding different data.
	var buf bytes.Buffer
	backup := testSnapshot{Data: []string{"restored-1", "restored-2"}, Indexes: []uint64{1, 2}}
	json.NewEncoder(&buf).Encode(&backup)
	meta := &raft.SnapshotMeta{Version: 1, Index: 5, Term: 1, Size: int64(buf.Len())}
	if err := l.raft.Restore(meta, &buf, 10*time.Second); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	want := [][]byte{[]byte("restored-1"), []byte("restored-2")}
	want = append(want, applyN(t, l.raft, 100, 105)...)
	c.waitApplied(want, c.nodes...)
	if err := c.followers(l)[0].raft.Restore(meta, &bytes.Buffer{}, time.Second); !errors.Is(err, raft.ErrNotLeader) {
		t.Fatalf("Restore on a follower: %v", err)
	}
}

// After losing two of three nodes for good, RecoverCluster makes the
// survivor a cluster of one with every entry it had.
func TestRecoverCluster(t *testing.T) { testRecoverCluster(t, newCluster) }

func testRecoverCluster(t *testing.T, mk clusterMaker) {
	c := mk(t, 3)
	l := c.leader()
	want := applyN(t, l.raft, 0, 30)
	// The survivor must hold every acknowledged entry: wait until all do.
	c.waitApplied(want, c.nodes...)
	for _, nd := range c.nodes {
		c.stop(nd)
	}
	survivor := c.nodes[0]
	only := raft.Configuration{Servers: []raft.Server{{ID: survivor.id, Address: survivor.addr}}}
	conf := testConfig(t, survivor.id)
	if err := RecoverCluster(conf, &testFSM{}, survivor.store, survivor.store, survivor.snaps, survivor.trans, only); err != nil {
		t.Fatalf("RecoverCluster: %v", err)
	}
	got, err := GetConfiguration(conf, &testFSM{}, survivor.store, survivor.store, survivor.snaps, survivor.trans)
	if err != nil || len(got.Servers) != 1 {
		t.Fatalf("GetConfiguration after recovery: %+v %v", got, err)
	}
	c.restart(survivor)
	waitFor(t, 10*time.Second, "the survivor to lead alone", func() bool { return survivor.raft.State() == raft.Leader })
	want = append(want, applyN(t, survivor.raft, 30, 35)...)
	c.waitApplied(want, survivor)
	fresh := logstore.NewInmemStore()
	if err := RecoverCluster(conf, &testFSM{}, fresh, fresh, snapshot.NewInmemSnapshotStore(), survivor.trans, only); err == nil {
		t.Fatal("RecoverCluster on empty stores succeeded")
	}
}

func TestReloadConfig(t *testing.T) {
	c := newCluster(t, 1)
	r := c.nodes[0].raft
	rc := r.ReloadableConfig()
	rc.SnapshotThreshold = 7
	rc.TrailingLogs = 3
	if err := r.ReloadConfig(rc); err != nil {
		t.Fatal(err)
	}
	if got := r.ReloadableConfig(); got.SnapshotThreshold != 7 || got.TrailingLogs != 3 {
		t.Fatalf("ReloadableConfig after reload: %+v", got)
	}
	bad := rc
	bad.HeartbeatTimeout = time.Microsecond
	if err := r.ReloadConfig(bad); !errors.Is(err, raft.ErrInvalidConfig) {
		t.Fatalf("reload with a bad heartbeat: %v", err)
	}
	if r.ReloadableConfig().HeartbeatTimeout == time.Microsecond {
		t.Fatal("an invalid reload took effect")
	}
}

var _ = fmt.Sprintf

// The protocol tests again with bbolt stores (fsync on) instead of memory.
func TestProtocolOnBolt(t *testing.T) {
	for _, tc := range []struct {
		name string
		body func(*testing.T, clusterMaker)
	}{
		{"Apply", testClusterApplyReachesEveryFSMInOrder},
		{"LeaderShutdown", testClusterLeaderShutdownKeepsAcknowledgedEntries},
		{"PartitionedLeader", testClusterPartitionedLeaderStepsDownAndCannotCommit},
		{"StuckDisk", testClusterStuckDiskLeaderStepsDown},
		{"InstallSnapshot", testInstallSnapshotCatchesUpLaggingFollower},
		{"Membership", testMembershipAddRemoveDemote},
		{"Staging", testMembershipStagingIsPromotedOnceCaughtUp},
		{"RemoveLeader", testMembershipRemoveLeader},
		{"Transfer", testLeadershipTransfer},
		{"TransferTimeout", testLeadershipTransferTimesOut},
		{"Reads", testLinearizableReads},
		{"Restore", testUserRestore},
		{"Recover", testRecoverCluster},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.body(t, newBoltCluster) })
	}
}
