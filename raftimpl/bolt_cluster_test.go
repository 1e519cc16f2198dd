package raftimpl

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// A 3-node cluster on bbolt files (fsync on) survives a full restart with
// every acknowledged entry, and the files hold term and vote under
// hashicorp/raft's keys.
func TestBoltClusterRestartKeepsAcknowledgedEntries(t *testing.T) {
	dir := t.TempDir()
	type bnode struct {
		id    raft.ServerID
		addr  raft.ServerAddress
		path  string
		store *logstore.BoltStore
		trans *transport.InmemTransport
		fsm   *testFSM
		r     *Raft
	}
	var nodes []*bnode
	var configuration raft.Configuration
	for i := 1; i <= 3; i++ {
		n := &bnode{id: raft.ServerID(fmt.Sprintf("b%d", i)), addr: raft.ServerAddress(fmt.Sprintf("bolt-%d", i)),
			path: filepath.Join(dir, fmt.Sprintf("b%d.db", i))}
		nodes = append(nodes, n)
		configuration.Servers = append(configuration.Servers, raft.Server{ID: n.id, Address: n.addr})
	}
	start := func(bootstrap bool) {
		for _, n := range nodes {
			var err error
			if n.store, err = logstore.NewBoltStore(n.path); err != nil {
				t.Fatal(err)
			}
			_, n.trans = transport.NewInmemTransport(n.addr)
			n.fsm = &testFSM{}
		}
		for _, a := range nodes {
			for _, b := range nodes {
				if a != b {
					a.trans.Connect(b.addr, b.trans)
				}
			}
		}
		for _, n := range nodes {
			snaps := snapshot.NewInmemSnapshotStore()
			if bootstrap {
				if err := BootstrapCluster(testConfig(t, n.id), n.store, n.store, snaps, n.trans, configuration); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			if n.r, err = NewRaft(testConfig(t, n.id), n.fsm, n.store, n.store, snaps, n.trans); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop := func() {
		for _, n := range nodes {
			if err := n.r.Shutdown().Error(); err != nil {
				t.Fatal(err)
			}
			if err := n.store.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	leader := func() *bnode {
		var l *bnode
		waitFor(t, 10*time.Second, "a leader", func() bool {
			for _, n := range nodes {
				if n.r.State() == raft.Leader {
					l = n
					return true
				}
			}
			return false
		})
		return l
	}

	start(true)
	l := leader()
	var futures []ApplyFuture
	for i := 0; i < 300; i++ {
		futures = append(futures, l.r.Apply(cmd(i), 10*time.Second))
	}
	for i, f := range futures {
		if err := f.Error(); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	stop()

	// The files hold hashicorp/raft's stable keys.
	for _, n := range nodes {
		s, err := logstore.NewBoltStore(n.path)
		if err != nil {
			t.Fatal(err)
		}
		term, err := s.GetUint64([]byte("CurrentTerm"))
		if err != nil || term < 2 {
			t.Fatalf("%s CurrentTerm=%d err=%v", n.id, term, err)
		}
		last, _ := s.LastIndex()
		if last < 302 && n == l {
			t.Fatalf("leader %s last index %d, want >= 302", n.id, last)
		}
		s.Close()
	}

	start(false)
	t.Cleanup(stop)
	l = leader()
	if err := l.r.Barrier(10 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		waitFor(t, 10*time.Second, fmt.Sprintf("%s to re-apply 300 commands", n.id), func() bool {
			return len(n.fsm.commands()) >= 300
		})
		got := n.fsm.commands()
		for i := 0; i < 300; i++ {
			if string(got[i]) != string(cmd(i)) {
				t.Fatalf("%s: command %d is %q", n.id, i, got[i])
			}
		}
	}
}
