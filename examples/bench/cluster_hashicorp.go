package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
)

// hashicorpEngine is hashicorp/raft v1.8.0 set up as Consul and Nomad do:
// raft-boltdb/v2 behind a 512-entry LogCache, a FileSnapshotStore keeping 2
// snapshots, a TCP transport (pool 3, 10s timeout), DefaultConfig apart from
// LocalID and a WARN logger.
var hashicorpEngine = engine{
	name:      hName,
	readPaths: []readPath{{Name: "verify", Label: "VerifyLeader + local read"}},
	start:     func(o clusterOpts) (cluster, error) { return startHashicorp(o, false) },
}

// hashicorpWALEngine is the same on raft-wal v0.4.0 (Consul's faster log
// store; its defaults: 64 MiB segments, bbolt meta store) behind the same
// 512-entry LogCache; raft-wal is also the stable store.
var hashicorpWALEngine = engine{
	name:      wName,
	readPaths: []readPath{{Name: "verify", Label: "VerifyLeader + local read"}},
	start:     func(o clusterOpts) (cluster, error) { return startHashicorp(o, true) },
}

// hcStore is the log and stable store of one HashiCorp node.
type hcStore interface {
	hraft.LogStore
	hraft.StableStore
	Close() error
}

func openHCStore(dir string, wal bool) (hcStore, error) {
	if !wal {
		return raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	}
	walDir := filepath.Join(dir, "wal")
	if err := os.MkdirAll(walDir, 0o755); err != nil {
		return nil, err
	}
	return raftwal.Open(walDir)
}

type hcFSM struct{ kv *kvMap }

func (f *hcFSM) Apply(l *hraft.Log) interface{} { return f.kv.apply(l.Data) }
func (f *hcFSM) Snapshot() (hraft.FSMSnapshot, error) {
	return &hcSnapshot{m: f.kv.clone()}, nil
}
func (f *hcFSM) Restore(rc io.ReadCloser) error { return f.kv.restore(rc) }

type hcSnapshot struct{ m map[string][]byte }

func (s *hcSnapshot) Persist(sink hraft.SnapshotSink) error { return persistKV(s.m, sink) }
func (s *hcSnapshot) Release()                              {}

type hcNode struct {
	raft  *hraft.Raft
	fsm   *hcFSM
	store hcStore
	trans *hraft.NetworkTransport
}

type hcCluster struct {
	// children run node2 and node3 in -procs mode; nodes then holds node1.
	children
	nodes   []*hcNode
	leader  leaderTracker
	timeout time.Duration
}

func startHashicorp(o clusterOpts, wal bool) (_ cluster, err error) {
	c := &hcCluster{timeout: o.timeout}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	logger := hclog.New(&hclog.LoggerOptions{Name: "hashicorp", Level: hclog.LevelFromString(o.logLevel), Output: o.logw})
	var servers []hraft.Server
	for i := 0; i < 3; i++ {
		id := hraft.ServerID(fmt.Sprintf("node%d", i+1))
		if o.procs && i > 0 {
			addr, err := freeAddr()
			if err != nil {
				return nil, err
			}
			name := hName
			if wal {
				name = wName
			}
			ch, err := spawnNode(name, o, i, filepath.Join(o.dir, string(id)), addr)
			if err != nil {
				return nil, err
			}
			c.children = append(c.children, ch)
			servers = append(servers, hraft.Server{ID: id, Address: hraft.ServerAddress(addr)})
			continue
		}
		n, err := newHCNode(o, i, addrFor(o.basePort, i), logger, wal)
		if n != nil {
			c.nodes = append(c.nodes, n)
		}
		if err != nil {
			return nil, err
		}
		servers = append(servers, hraft.Server{ID: id, Address: n.trans.LocalAddr()})
	}
	// Every node is bootstrapped with the same configuration (as
	// hashicorp/raft's docs allow), so no node waits to be told about it;
	// -bootstrap-one bootstraps node1 only.
	for i, n := range c.nodes {
		if i > 0 && (o.bootstrapOne || o.procs) {
			break
		}
		if err := n.raft.BootstrapCluster(hraft.Configuration{Servers: servers}).Error(); err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
	}
	i, ok := waitFor(o.elect, c.findLeader)
	if !ok {
		return nil, fmt.Errorf("%w within %v", errNoLeader, o.elect)
	}
	c.leader.set(i)
	return c, nil
}

// newHCNode starts node i (not bootstrapped) with its stores in
// o.dir/node<i+1> and its transport on addr. On error the returned node, if
// any, holds what was opened and must be shut down.
func newHCNode(o clusterOpts, i int, addr string, logger hclog.Logger, wal bool) (*hcNode, error) {
	id := fmt.Sprintf("node%d", i+1)
	dir := filepath.Join(o.dir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	store, err := openHCStore(dir, wal)
	if err != nil {
		return nil, err
	}
	n := &hcNode{store: store, fsm: &hcFSM{kv: newKV()}}
	logs, err := hraft.NewLogCache(512, store)
	if err != nil {
		return n, err
	}
	snaps, err := hraft.NewFileSnapshotStoreWithLogger(dir, 2, logger.Named(id))
	if err != nil {
		return n, err
	}
	trans, err := hraft.NewTCPTransportWithLogger(addr, nil, 3, o.timeout, logger.Named(id))
	if err != nil {
		return n, err
	}
	n.trans = trans
	conf := hraft.DefaultConfig()
	conf.LocalID = hraft.ServerID(id)
	conf.Logger = logger.Named(id)
	r, err := hraft.NewRaft(conf, n.fsm, logs, store, snaps, trans)
	if err != nil {
		return n, err
	}
	n.raft = r
	return n, nil
}

func init() {
	for name, wal := range map[string]bool{hName: false, wName: true} {
		startOneNode[name] = func(o clusterOpts, i int, addr string, logger hclog.Logger) (nodeCloser, error) {
			n, err := newHCNode(o, i, addr, logger, wal)
			if err != nil && n != nil {
				n.shutdown()
			}
			return n, err
		}
	}
}

// shutdown stops the node and closes its transport and store.
func (n *hcNode) shutdown() error {
	var shutdown func() error
	if n.raft != nil {
		shutdown = func() error { return n.raft.Shutdown().Error() }
	}
	var trans streamCloser
	if n.trans != nil {
		trans = n.trans
	}
	return stopNode(shutdown, trans, n.store)
}

func (c *hcCluster) findLeader() int {
	for i, n := range c.nodes {
		if n.raft != nil && n.raft.State() == hraft.Leader {
			return i
		}
	}
	return -1
}

func (c *hcCluster) refresh() {
	if i, ok := waitFor(c.timeout, c.findLeader); ok {
		c.leader.set(i)
	}
}

func (c *hcCluster) apply(cmd []byte) error {
	n := c.nodes[c.leader.get()]
	f := n.raft.Apply(cmd, c.timeout)
	if err := f.Error(); err != nil {
		c.refresh()
		return err
	}
	if err, ok := f.Response().(error); ok {
		return err
	}
	return nil
}

func (c *hcCluster) read(_ string, key []byte) error {
	n := c.nodes[c.leader.get()]
	if err := n.raft.VerifyLeader().Error(); err != nil {
		c.refresh()
		return err
	}
	n.fsm.kv.get(key)
	return nil
}

func (c *hcCluster) close() error {
	var fns []func() error
	for _, n := range c.nodes {
		fns = append(fns, n.shutdown)
	}
	fns = append(fns, c.children.stoppers(30*time.Second)...)
	return shutdownAll(30*time.Second, fns)
}
