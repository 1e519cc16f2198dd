package raftimpl

import (
	"bytes"
	"context"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// sentinelCase is one public call and the sentinel hashicorp/raft returns
// for it unwrapped: services compare these with ==, so Pontoon's error must
// be the sentinel itself (issue 12 item 4).
type sentinelCase struct {
	name string
	call func() error
	want error
}

func checkSentinels(t *testing.T, cases []sentinelCase) {
	t.Helper()
	for _, tc := range cases {
		if got := tc.call(); got != tc.want {
			t.Errorf("%s: %#v (%v), want %v itself", tc.name, got, got, tc.want)
		}
	}
}

// The audited calls on a follower, on a leader during a transfer, on a node
// that was shut down, and Snapshot with nothing to snapshot.
func TestSentinelErrorsAreReturnedBare(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	if err := l.raft.Apply(cmd(0), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	c.waitApplied([][]byte{cmd(0)})
	fs := c.followers(l)
	f, other := fs[0], fs[1]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t.Run("follower", func(t *testing.T) {
		r := f.raft
		checkSentinels(t, []sentinelCase{
			{"Apply", func() error { return r.Apply(cmd(1), time.Second).Error() }, raft.ErrNotLeader},
			{"ApplyLog", func() error { return r.ApplyLog(raft.Log{Data: cmd(1)}, time.Second).Error() }, raft.ErrNotLeader},
			{"ApplyContext", func() error { return r.ApplyContext(ctx, cmd(1)).Error() }, raft.ErrNotLeader},
			{"Barrier", func() error { return r.Barrier(time.Second).Error() }, raft.ErrNotLeader},
			{"VerifyLeader", func() error { return r.VerifyLeader().Error() }, raft.ErrNotLeader},
			{"AddVoter", func() error { return r.AddVoter("n9", "addr-9", 0, time.Second).Error() }, raft.ErrNotLeader},
			{"AddNonvoter", func() error { return r.AddNonvoter("n9", "addr-9", 0, time.Second).Error() }, raft.ErrNotLeader},
			{"DemoteVoter", func() error { return r.DemoteVoter(other.id, 0, time.Second).Error() }, raft.ErrNotLeader},
			{"RemoveServer", func() error { return r.RemoveServer(other.id, 0, time.Second).Error() }, raft.ErrNotLeader},
			{"LeadershipTransfer", func() error { return r.LeadershipTransfer().Error() }, raft.ErrNotLeader},
			{"LeadershipTransferToServer", func() error {
				return r.LeadershipTransferToServer(other.id, other.addr).Error()
			}, raft.ErrNotLeader},
			{"Restore", func() error {
				return r.Restore(&raft.SnapshotMeta{Size: 1}, bytes.NewReader([]byte("x")), time.Second)
			}, raft.ErrNotLeader},
			{"BootstrapCluster", func() error {
				return r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: f.id, Address: f.addr}}}).Error()
			}, raft.ErrCantBootstrap},
			{"AddPeer (protocol 3)", func() error { return r.AddPeer("addr-9").Error() }, raft.ErrUnsupportedProtocol},
			{"RemovePeer (protocol 3)", func() error { return r.RemovePeer(other.addr).Error() }, raft.ErrUnsupportedProtocol},
		})
	})
	t.Run("leader transferring", func(t *testing.T) {
		// The target cannot be reached: the transfer runs until it times out.
		c.partition(other)
		defer c.heal()
		tf := l.raft.LeadershipTransferToServer(other.id, other.addr)
		checkSentinels(t, []sentinelCase{
			{"LeadershipTransfer", func() error { return l.raft.LeadershipTransfer().Error() }, raft.ErrLeadershipTransferInProgress},
			{"Apply", func() error { return l.raft.Apply(cmd(1), time.Second).Error() }, raft.ErrLeadershipTransferInProgress},
			{"Barrier", func() error { return l.raft.Barrier(time.Second).Error() }, raft.ErrLeadershipTransferInProgress},
			{"AddNonvoter", func() error { return l.raft.AddNonvoter("n9", "addr-9", 0, time.Second).Error() }, raft.ErrLeadershipTransferInProgress},
		})
		if err := tf.Error(); err != raft.ErrLeadershipTransferTimeout {
			t.Errorf("transfer to an unreachable server: %v, want ErrLeadershipTransferTimeout", err)
		}
	})
	t.Run("shut down", func(t *testing.T) {
		c.stop(f)
		r := f.raft
		checkSentinels(t, []sentinelCase{
			{"Apply", func() error { return r.Apply(cmd(1), time.Second).Error() }, raft.ErrRaftShutdown},
			{"Barrier", func() error { return r.Barrier(time.Second).Error() }, raft.ErrRaftShutdown},
			{"VerifyLeader", func() error { return r.VerifyLeader().Error() }, raft.ErrRaftShutdown},
			{"AddVoter", func() error { return r.AddVoter("n9", "addr-9", 0, time.Second).Error() }, raft.ErrRaftShutdown},
			{"RemoveServer", func() error { return r.RemoveServer(other.id, 0, time.Second).Error() }, raft.ErrRaftShutdown},
			{"LeadershipTransfer", func() error { return r.LeadershipTransfer().Error() }, raft.ErrRaftShutdown},
			{"Snapshot", func() error { return r.Snapshot().Error() }, raft.ErrRaftShutdown},
			{"Restore", func() error {
				return r.Restore(&raft.SnapshotMeta{Size: 1}, bytes.NewReader([]byte("x")), time.Second)
			}, raft.ErrRaftShutdown},
			{"BootstrapCluster", func() error { return r.BootstrapCluster(raft.Configuration{}).Error() }, raft.ErrRaftShutdown},
		})
	})
}
