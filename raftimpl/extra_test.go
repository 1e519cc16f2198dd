package raftimpl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// With NoSnapshotRestoreOnStart the FSM starts empty even though a snapshot
// exists, and the entries the snapshot covers are not replayed either (as
// hashicorp/raft: the application restores state itself).
func TestNoSnapshotRestoreOnStart(t *testing.T) {
	store := logstore.NewInmemStore()
	snaps := snapshot.NewInmemSnapshotStore()
	conf := testConfig(t, "s")
	r := singleNode(t, conf, &testFSM{}, store, snaps)
	applyN(t, r, 0, 5)
	if err := r.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	conf.NoSnapshotRestoreOnStart = true
	fsm := &testFSM{}
	r = singleNode(t, conf, fsm, store, snaps)
	defer func() { r.Shutdown().Error() }()
	applyN(t, r, 5, 6)
	if fsm.restores != 0 {
		t.Fatalf("FSM restored %d times with NoSnapshotRestoreOnStart", fsm.restores)
	}
	if got := fsm.commands(); len(got) != 1 || string(got[0]) != string(cmd(5)) {
		t.Fatalf("FSM has %q, want only the new command", got)
	}
}

// A node receiving a vote request reports it to observers.
func TestObserverSeesRequestVote(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	ch := make(chan Observation, 64)
	obs := NewObserver(ch, false, func(o *Observation) bool {
		switch o.Data.(type) {
		case transport.RequestVoteRequest, transport.RequestPreVoteRequest:
			return true
		}
		return false
	})
	for _, nd := range c.followers(l) {
		nd.raft.RegisterObserver(obs)
	}
	// A transfer makes the target ask the others for votes.
	if err := l.raft.LeadershipTransfer().Error(); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-ch:
		if o.Raft == nil {
			t.Fatal("observation without its Raft")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no RequestVote observation")
	}
}

// While a transfer is in progress the leader refuses writes.
func TestApplyDuringTransferIsRefused(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	target := c.followers(l)[0]
	l.trans.Disconnect(target.addr) // the transfer cannot finish quickly
	tf := l.raft.LeadershipTransferToServer(target.id, target.addr)
	waitFor(t, 5*time.Second, "the transfer to be under way", func() bool {
		err := l.raft.Apply(cmd(1), time.Second).Error()
		return errors.Is(err, raft.ErrLeadershipTransferInProgress)
	})
	if err := l.raft.AddVoter("x", "y", 0, time.Second).Error(); !errors.Is(err, raft.ErrLeadershipTransferInProgress) {
		t.Fatalf("AddVoter during a transfer: %v", err)
	}
	if err := tf.Error(); !errors.Is(err, raft.ErrLeadershipTransferTimeout) {
		t.Fatalf("transfer to an unreachable node: %v", err)
	}
	l.trans.Connect(target.addr, target.trans)
}

func TestContextForms(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.raft.ApplyLogContext(ctx, raft.Log{Data: cmd(0), Extensions: []byte("ext")}).Error(); err != nil {
		t.Fatal(err)
	}
	if err := l.raft.BarrierContext(ctx).Error(); err != nil {
		t.Fatal(err)
	}
	if err := l.raft.VerifyLeaderContext(ctx).Error(); err != nil {
		t.Fatal(err)
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	if err := l.raft.ApplyContext(done, cmd(1)).Error(); !errors.Is(err, context.Canceled) {
		t.Fatalf("ApplyContext with a cancelled context: %v", err)
	}
	f := c.followers(l)[0]
	if err := l.raft.LeadershipTransferContext(ctx, f.id).Error(); err != nil {
		t.Fatal(err)
	}
}

// A 3-node cluster over the TCP transport on loopback: writes, a follower
// read through Pontoon's ReadIndex RPC, and a leader change.
func TestTCPCluster(t *testing.T) {
	var nodes []*Raft
	var fsms []*testFSM
	var configuration raft.Configuration
	var transports []*transport.NetworkTransport
	for i := 0; i < 3; i++ {
		tr, err := transport.NewTCPTransport("127.0.0.1:0", nil, 3, 5*time.Second, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		transports = append(transports, tr)
		configuration.Servers = append(configuration.Servers,
			raft.Server{ID: raft.ServerID(fmt.Sprintf("t%d", i)), Address: tr.LocalAddr()})
	}
	for i, tr := range transports {
		s := logstore.NewInmemStore()
		snaps := snapshot.NewInmemSnapshotStore()
		conf := testConfig(t, configuration.Servers[i].ID)
		if err := BootstrapCluster(conf, s, s, snaps, tr, configuration); err != nil {
			t.Fatal(err)
		}
		fsm := &testFSM{}
		r, err := NewRaft(conf, fsm, s, s, snaps, tr)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, r)
		fsms = append(fsms, fsm)
	}
	defer func() {
		for _, r := range nodes {
			r.Shutdown().Error()
		}
	}()
	var leader *Raft
	waitFor(t, 10*time.Second, "a leader over TCP", func() bool {
		for _, r := range nodes {
			if r.State() == raft.Leader {
				leader = r
				return true
			}
		}
		return false
	})
	applyN(t, leader, 0, 50)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, r := range nodes {
		if r == leader {
			continue
		}
		if _, err := r.ReadIndex(ctx); err != nil {
			t.Fatalf("follower read over TCP: %v", err)
		}
		if got := len(fsms[i].commands()); got < 50 {
			t.Fatalf("follower read returned before its FSM had the writes (%d of 50)", got)
		}
	}
	if err := leader.LeadershipTransfer().Error(); err != nil {
		t.Fatalf("transfer over TCP: %v", err)
	}
}
