package readindex

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/raftimpl"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// countFSM counts applied commands; it serves both engines.
type countFSM struct {
	mu sync.Mutex
	n  int
}

func (f *countFSM) apply() interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return f.n
}

type hFSM struct{ countFSM }

func (f *hFSM) Apply(*hraft.Log) interface{}         { return f.apply() }
func (f *hFSM) Snapshot() (hraft.FSMSnapshot, error) { return nopSnap{}, nil }
func (f *hFSM) Restore(rc io.ReadCloser) error       { return rc.Close() }
func (nopSnap) Persist(s hraft.SnapshotSink) error   { return s.Close() }
func (nopSnap) Release()                             {}
func (f *pFSM) Apply(*raft.Log) interface{}          { return f.apply() }
func (f *pFSM) Snapshot() (raft.FSMSnapshot, error)  { return pSnap{}, nil }
func (f *pFSM) Restore(rc io.ReadCloser) error       { return rc.Close() }
func (pSnap) Persist(s raft.SnapshotSink) error      { return s.Close() }
func (pSnap) Release()                               {}

type nopSnap struct{}
type pSnap struct{}
type pFSM struct{ countFSM }

// logger is silent unless RI_LOG names a level (RI_LOG=debug).
func logger(name string) hclog.Logger {
	level := hclog.Off
	if v := os.Getenv("RI_LOG"); v != "" {
		level = hclog.LevelFromString(v)
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: os.Stderr, Level: level})
}

// TestFollowerReadIndexWithHashicorpLeader: a Pontoon follower of a
// hashicorp/raft leader (over TCP, both engines' own NetworkTransports)
// fails ReadIndex at once with an error wrapping ErrNotLeader and
// ErrReadIndexUnsupported, instead of retrying until the caller's deadline
// (hashicorp closes the connection on the unknown RPC type); a second read
// fails at once too, and the cluster keeps replicating.
func TestFollowerReadIndexWithHashicorpLeader(t *testing.T) {
	// hashicorp/raft leader: a single-node cluster that then adds Pontoon.
	hTrans, err := hraft.NewTCPTransportWithLogger("127.0.0.1:0", nil, 3, 5*time.Second, logger("h-net"))
	if err != nil {
		t.Fatal(err)
	}
	hConf := hraft.DefaultConfig()
	hConf.LocalID = "h1"
	hConf.Logger = logger("h1")
	hConf.HeartbeatTimeout, hConf.ElectionTimeout, hConf.LeaderLeaseTimeout = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	hStore := hraft.NewInmemStore()
	hNode, err := hraft.NewRaft(hConf, &hFSM{}, hStore, hStore, hraft.NewInmemSnapshotStore(), hTrans)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = hNode.Shutdown().Error()
		hTrans.CloseStreams()
		_ = hTrans.Close()
	}()
	if err := hNode.BootstrapCluster(hraft.Configuration{Servers: []hraft.Server{{ID: "h1", Address: hTrans.LocalAddr()}}}).Error(); err != nil {
		t.Fatal(err)
	}

	// Pontoon follower, not bootstrapped: it joins through AddVoter.
	pTrans, err := transport.NewTCPTransportWithConfig("127.0.0.1:0", nil, &transport.NetworkTransportConfig{
		MaxPool: 3, Timeout: 5 * time.Second, Logger: logger("p-net"),
	})
	if err != nil {
		t.Fatal(err)
	}
	pConf := raftimpl.DefaultConfig()
	pConf.LocalID = "p1"
	pConf.Logger = logger("p1")
	// Long timeouts: the hashicorp node stays the leader.
	pConf.HeartbeatTimeout, pConf.ElectionTimeout = 5*time.Second, 5*time.Second
	pStore := logstore.NewInmemStore()
	pFsm := &pFSM{}
	pNode, err := raftimpl.NewRaft(pConf, pFsm, pStore, pStore, snapshot.NewInmemSnapshotStore(), pTrans)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pNode.Shutdown().Error() }()

	waitFor(t, "the hashicorp node to lead", func() bool { return hNode.State() == hraft.Leader })
	if err := hNode.AddVoter("p1", hraft.ServerAddress(pTrans.LocalAddr()), 0, 10*time.Second).Error(); err != nil {
		t.Fatalf("AddVoter(p1): %v", err)
	}
	for i := 0; i < 3; i++ {
		if err := hNode.Apply([]byte("x"), 5*time.Second).Error(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the Pontoon follower to apply", func() bool {
		pFsm.mu.Lock()
		defer pFsm.mu.Unlock()
		return pFsm.n == 3
	})
	waitFor(t, "the Pontoon follower to know its leader", func() bool {
		_, id := pNode.LeaderWithID()
		return id == "h1"
	})

	for i := 0; i < 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		start := time.Now()
		_, err := pNode.ReadIndex(ctx)
		took := time.Since(start)
		cancel()
		if err == nil {
			t.Fatalf("read %d: ReadIndex succeeded against a hashicorp leader", i)
		}
		if !errors.Is(err, raft.ErrReadIndexUnsupported) || !errors.Is(err, raft.ErrNotLeader) {
			t.Fatalf("read %d: %v, want ErrReadIndexUnsupported and ErrNotLeader", i, err)
		}
		if took > 3*time.Second {
			t.Fatalf("read %d: failed after %v, want at once", i, took)
		}
		t.Logf("read %d failed in %v: %v", i, took, err)
	}

	// The cluster is unharmed.
	if err := hNode.Apply([]byte("y"), 5*time.Second).Error(); err != nil {
		t.Fatalf("apply after the reads: %v", err)
	}
	waitFor(t, "the Pontoon follower to apply the next write", func() bool {
		pFsm.mu.Lock()
		defer pFsm.mu.Unlock()
		return pFsm.n == 4
	})
	if hNode.State() != hraft.Leader {
		t.Fatalf("hashicorp node is %v after the reads", hNode.State())
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
