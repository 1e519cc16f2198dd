package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/raftimpl"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// pontoonEngine is Pontoon with its defaults: DefaultConfig apart from
// LocalID and a WARN logger, BoltStore (no LogCache), a FileSnapshotStore
// keeping 2 snapshots, a TCP transport (pool 3, 10s timeout).
var pontoonEngine = engine{
	name: pName,
	readPaths: []readPath{
		{Name: "verify", Label: "VerifyLeader + local read"},
		{Name: "readindex", Label: "ReadIndex (waits for the local apply) + local read"},
		{Name: "lease", Label: "LeaseRead with Config.LeaseReads=true (on its own cluster) + local read", lease: true},
		{Name: "follower-readindex", Label: "ReadIndex on a follower (one round trip to the leader, then the follower's apply) + the follower's local read (in-process mode only)", inProcess: true},
	},
	start: startPontoon,
}

type ptFSM struct{ kv *kvMap }

func (f *ptFSM) Apply(l *raft.Log) interface{} { return f.kv.apply(l.Data) }
func (f *ptFSM) Snapshot() (raft.FSMSnapshot, error) {
	return &ptSnapshot{m: f.kv.clone()}, nil
}
func (f *ptFSM) Restore(rc io.ReadCloser) error { return f.kv.restore(rc) }

type ptSnapshot struct{ m map[string][]byte }

func (s *ptSnapshot) Persist(sink raft.SnapshotSink) error { return persistKV(s.m, sink) }
func (s *ptSnapshot) Release()                             {}

type ptNode struct {
	raft  *raftimpl.Raft
	fsm   *ptFSM
	store ptStore
	trans *transport.NetworkTransport
}

type ptCluster struct {
	// children run node2 and node3 in -procs mode; nodes then holds node1.
	children
	// ctx bounds reads; close cancels it.
	ctx     context.Context
	cancel  context.CancelFunc
	nodes   []*ptNode
	leader  leaderTracker
	timeout time.Duration
}

func startPontoon(o clusterOpts) (_ cluster, err error) {
	c := &ptCluster{timeout: o.timeout}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	logger := hclog.New(&hclog.LoggerOptions{Name: "pontoon", Level: hclog.LevelFromString(o.logLevel), Output: o.logw})
	var servers []raft.Server
	for i := 0; i < 3; i++ {
		id := raft.ServerID(fmt.Sprintf("node%d", i+1))
		if o.procs && i > 0 {
			addr, err := freeAddr()
			if err != nil {
				return nil, err
			}
			ch, err := spawnNode(pName, o, i, filepath.Join(o.dir, string(id)), addr)
			if err != nil {
				return nil, err
			}
			c.children = append(c.children, ch)
			servers = append(servers, raft.Server{ID: id, Address: raft.ServerAddress(addr)})
			continue
		}
		n, err := newPtNode(o, i, addrFor(o.basePort, i), logger)
		if n != nil {
			c.nodes = append(c.nodes, n)
		}
		if err != nil {
			return nil, err
		}
		servers = append(servers, raft.Server{ID: id, Address: n.trans.LocalAddr()})
	}
	// Every node is bootstrapped with the same configuration (as
	// hashicorp/raft's docs allow), so no node waits to be told about it;
	// -bootstrap-one bootstraps node1 only.
	for i, n := range c.nodes {
		if i > 0 && (o.bootstrapOne || o.procs) {
			break
		}
		if err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
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

// newPtNode starts node i (not bootstrapped) with its stores in o.dir/node<i+1>
// and its transport on addr. On error the returned node, if any, holds what
// was opened and must be shut down.
func newPtNode(o clusterOpts, i int, addr string, logger hclog.Logger) (*ptNode, error) {
	id := fmt.Sprintf("node%d", i+1)
	dir := filepath.Join(o.dir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	store, err := openPtStore(o.ptStore, dir)
	if err != nil {
		return nil, err
	}
	n := &ptNode{store: store, fsm: &ptFSM{kv: newKV()}}
	snaps, err := snapshot.NewFileSnapshotStore(dir, 2, o.logw)
	if err != nil {
		return n, err
	}
	trans, err := transport.NewTCPTransportWithLogger(addr, nil, 3, o.timeout, logger.Named(id))
	if err != nil {
		return n, err
	}
	n.trans = trans
	conf := raftimpl.DefaultConfig()
	conf.LocalID = raft.ServerID(id)
	conf.Logger = logger.Named(id)
	conf.LeaseReads = o.leaseReads
	r, err := raftimpl.NewRaft(conf, n.fsm, store, store, snaps, trans)
	if err != nil {
		return n, err
	}
	n.raft = r
	return n, nil
}

// ptStore is a Pontoon log store: LogStore, StableStore and Close.
type ptStore interface {
	logstore.LogStore
	logstore.StableStore
	Close() error
}

// openPtStore opens the store kind names in dir: "bolt" or "" (raft.db,
// BoltStore's defaults) or "segment" (SegmentStore's defaults in seg/).
func openPtStore(kind, dir string) (ptStore, error) {
	switch kind {
	case "", "bolt":
		return logstore.NewBoltStore(filepath.Join(dir, "raft.db"))
	case "segment":
		return logstore.NewSegmentStore(logstore.SegmentOptions{Dir: filepath.Join(dir, "seg")})
	}
	return nil, fmt.Errorf("-pontoon-store %q: want bolt or segment", kind)
}

func init() {
	startOneNode[pName] = func(o clusterOpts, i int, addr string, logger hclog.Logger) (nodeCloser, error) {
		n, err := newPtNode(o, i, addr, logger)
		if err != nil && n != nil {
			n.shutdown()
		}
		return n, err
	}
}

// shutdown stops the node and closes its transport and store.
func (n *ptNode) shutdown() error {
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

func (c *ptCluster) findLeader() int {
	for i, n := range c.nodes {
		if n.raft != nil && n.raft.State() == raft.Leader {
			return i
		}
	}
	return -1
}

func (c *ptCluster) refresh() {
	if i, ok := waitFor(c.timeout, c.findLeader); ok {
		c.leader.set(i)
	}
}

func (c *ptCluster) apply(cmd []byte) error {
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

func (c *ptCluster) read(path string, key []byte) error {
	n := c.nodes[c.leader.get()]
	var err error
	switch path {
	case "follower-readindex":
		f := c.nodes[(c.leader.get()+1)%len(c.nodes)]
		if _, err := f.raft.ReadIndex(c.ctx); err != nil {
			c.refresh()
			return err
		}
		f.fsm.kv.get(key)
		return nil
	case "readindex":
		_, err = n.raft.ReadIndex(c.ctx)
	case "lease":
		_, err = n.raft.LeaseRead(c.ctx)
	default:
		err = n.raft.VerifyLeader().Error()
	}
	if err != nil {
		c.refresh()
		return err
	}
	n.fsm.kv.get(key)
	return nil
}

func (c *ptCluster) close() error {
	c.cancel()
	var fns []func() error
	for _, n := range c.nodes {
		fns = append(fns, n.shutdown)
	}
	fns = append(fns, c.children.stoppers(30*time.Second)...)
	return shutdownAll(30*time.Second, fns)
}
