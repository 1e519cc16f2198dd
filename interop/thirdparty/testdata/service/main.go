// Command service is a tiny replicated counter written against
// hashicorp/raft's API and raft-boltdb/v2, as a service would be. It is built
// by TestServiceThroughReplace in a module whose go.mod replaces
// github.com/hashicorp/raft with Pontoon's facade; nothing here names
// Pontoon. It starts three nodes on loopback TCP with bolt stores, bootstraps
// them, applies commands through the leader, checks every node applied them
// all, restarts the cluster from disk and checks the state came back, and
// prints "ok". It also links serf, which (like raft-boltdb/v2) imports
// go-metrics/compat.
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/hashicorp/serf/serf"
)

// counter is the FSM: the sum of every applied uint64.
type counter struct {
	mu      sync.Mutex
	sum     uint64
	applied int
}

func (c *counter) Apply(l *raft.Log) interface{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sum += binary.BigEndian.Uint64(l.Data)
	c.applied++
	return c.sum
}

func (c *counter) Snapshot() (raft.FSMSnapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return snap(c.sum), nil
}

func (c *counter) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var b [8]byte
	if _, err := io.ReadFull(rc, b[:]); err != nil {
		return err
	}
	c.mu.Lock()
	c.sum = binary.BigEndian.Uint64(b[:])
	c.mu.Unlock()
	return nil
}

func (c *counter) get() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sum
}

type snap uint64

func (s snap) Persist(sink raft.SnapshotSink) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(s))
	if _, err := sink.Write(b[:]); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s snap) Release() {}

type node struct {
	r     *raft.Raft
	fsm   *counter
	store *raftboltdb.BoltStore
	trans *raft.NetworkTransport
}

func start(dir, id, addr string) (*node, error) {
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(id)
	conf.HeartbeatTimeout = 200 * time.Millisecond
	conf.ElectionTimeout = 200 * time.Millisecond
	conf.LeaderLeaseTimeout = 100 * time.Millisecond
	conf.LogOutput = io.Discard
	if err := raft.ValidateConfig(conf); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	store, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		return nil, err
	}
	trans, err := raft.NewTCPTransport(addr, nil, 3, 5*time.Second, io.Discard)
	if err != nil {
		return nil, err
	}
	logs, err := raft.NewLogCache(64, store)
	if err != nil {
		return nil, err
	}
	fsm := &counter{}
	r, err := raft.NewRaft(conf, fsm, logs, store, snaps, trans)
	if err != nil {
		return nil, err
	}
	return &node{r: r, fsm: fsm, store: store, trans: trans}, nil
}

// serf is linked in only for its imports (see the package comment).
var _ = serf.DefaultConfig

func run() error {
	base, err := os.MkdirTemp("", "service")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)

	ids := []string{"a", "b", "c"}
	addrs := make([]string, len(ids))
	var cluster raft.Configuration
	// Pick free ports first, so the configuration names real addresses.
	for i, id := range ids {
		t, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, time.Second, io.Discard)
		if err != nil {
			return err
		}
		addrs[i] = string(t.LocalAddr())
		t.Close()
		cluster.Servers = append(cluster.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addrs[i])})
	}

	const writes = 50
	var want uint64
	for round := 0; round < 2; round++ {
		nodes := make([]*node, len(ids))
		for i, id := range ids {
			n, err := start(filepath.Join(base, id), id, addrs[i])
			if err != nil {
				return fmt.Errorf("starting %s: %v", id, err)
			}
			nodes[i] = n
		}
		if round == 0 {
			if err := nodes[0].r.BootstrapCluster(cluster).Error(); err != nil {
				return fmt.Errorf("bootstrap: %v", err)
			}
		}
		leader, err := waitLeader(nodes)
		if err != nil {
			return err
		}
		for i := 1; i <= writes; i++ {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(i))
			f := leader.r.Apply(b[:], 5*time.Second)
			if err := f.Error(); err != nil {
				return fmt.Errorf("apply %d: %v", i, err)
			}
			want += uint64(i)
			if got := f.Response().(uint64); got != want {
				return fmt.Errorf("apply %d: response %d, want %d", i, got, want)
			}
		}
		if err := leader.r.Barrier(5 * time.Second).Error(); err != nil {
			return fmt.Errorf("barrier: %v", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for _, n := range nodes {
			for n.fsm.get() != want {
				if time.Now().After(deadline) {
					return fmt.Errorf("round %d: a node has sum %d, want %d", round, n.fsm.get(), want)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		if round == 0 {
			if err := leader.r.Snapshot().Error(); err != nil {
				return fmt.Errorf("snapshot: %v", err)
			}
		}
		for _, n := range nodes {
			if err := n.r.Shutdown().Error(); err != nil {
				return fmt.Errorf("shutdown: %v", err)
			}
			n.trans.Close()
			if err := n.store.Close(); err != nil {
				return fmt.Errorf("closing store: %v", err)
			}
		}
	}
	return nil
}

func waitLeader(nodes []*node) (*node, error) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if n.r.State() == raft.Leader {
				return n, nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, fmt.Errorf("no leader within 15s")
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}
