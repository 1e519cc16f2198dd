package raftimpl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testFSM records every command it applies.
type testFSM struct {
	mu       sync.Mutex
	applied  [][]byte
	indexes  []uint64
	restores int
}

func (f *testFSM) Apply(l *raft.Log) interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, append([]byte(nil), l.Data...))
	f.indexes = append(f.indexes, l.Index)
	return len(f.applied)
}

func (f *testFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &testSnapshot{applied: append([][]byte(nil), f.applied...), indexes: append([]uint64(nil), f.indexes...)}, nil
}

// Restore replaces the state with a snapshot's: JSON of the commands.
func (f *testFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var s testSnapshot
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied, f.indexes = s.Applied(), s.Indexes
	f.restores++
	return nil
}

type testSnapshot struct {
	applied [][]byte
	indexes []uint64
	Data    []string
	Indexes []uint64
}

func (s *testSnapshot) Applied() [][]byte {
	out := make([][]byte, len(s.Data))
	for i, d := range s.Data {
		out[i] = []byte(d)
	}
	return out
}

func (s *testSnapshot) Persist(sink raft.SnapshotSink) error {
	out := testSnapshot{Indexes: s.indexes}
	for _, a := range s.applied {
		out.Data = append(out.Data, string(a))
	}
	if err := json.NewEncoder(sink).Encode(&out); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *testSnapshot) Release() {}

func (f *testFSM) commands() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.applied...)
}

// node is one member of a test cluster; its stores survive restarts.
type node struct {
	id     raft.ServerID
	addr   raft.ServerAddress
	store  testStore
	snaps  *snapshot.InmemSnapshotStore
	trans  *transport.InmemTransport
	fsm    *testFSM
	raft   *Raft
	closed bool
}

type cluster struct {
	t     *testing.T
	nodes []*node
	conf  func(id raft.ServerID) *Config
	// newStore makes a node's log and stable store.
	newStore func(name string) testStore
}

// testStore is a node's log and stable store.
type testStore interface {
	logstore.LogStore
	logstore.StableStore
}

// clusterMaker starts a bootstrapped cluster of n nodes.
type clusterMaker func(t *testing.T, n int) *cluster

// newBoltCluster is newCluster over bbolt files (fsync on).
func newBoltCluster(t *testing.T, n int) *cluster {
	dir := t.TempDir()
	return newClusterWith(t, n, func(name string) testStore {
		// NB: fsync stays on; under a loaded CI machine it can take tens of
		// milliseconds, which testConfig's timeouts allow for.
		s, err := logstore.NewBoltStore(filepath.Join(dir, name+".db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func testConfig(t *testing.T, id raft.ServerID) *Config {
	c := DefaultConfig()
	c.LocalID = id
	// Short enough for fast tests, long enough that a loaded 2-core CI
	// machine running -race does not see spurious elections.
	c.HeartbeatTimeout = 250 * time.Millisecond
	c.ElectionTimeout = 250 * time.Millisecond
	c.LeaderLeaseTimeout = 250 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.Logger = hclog.New(&hclog.LoggerOptions{
		Name:   string(id),
		Level:  hclog.LevelFromString(envOr("RAFT_TEST_LOG", "WARN")),
		Output: testWriter{t},
	})
	return c
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// testWriter sends log lines to t.Log, and drops them once the test ended.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { recover() }() // t.Log after the test completes panics
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// newCluster starts n bootstrapped, fully connected nodes.
func newCluster(t *testing.T, n int) *cluster {
	return newClusterWith(t, n, func(string) testStore { return logstore.NewInmemStore() })
}

func newClusterWith(t *testing.T, n int, newStore func(name string) testStore) *cluster {
	t.Helper()
	c := &cluster{t: t, conf: func(id raft.ServerID) *Config { return testConfig(t, id) }, newStore: newStore}
	var configuration raft.Configuration
	for i := 0; i < n; i++ {
		id := raft.ServerID(fmt.Sprintf("n%d", i+1))
		addr, trans := transport.NewInmemTransport(raft.ServerAddress(fmt.Sprintf("addr-%d", i+1)))
		c.nodes = append(c.nodes, &node{id: id, addr: addr, store: newStore(string(id)),
			snaps: snapshot.NewInmemSnapshotStore(), trans: trans, fsm: &testFSM{}})
		configuration.Servers = append(configuration.Servers, raft.Server{ID: id, Address: addr})
	}
	c.connectAll()
	for _, nd := range c.nodes {
		if err := BootstrapCluster(c.conf(nd.id), nd.store, nd.store, nd.snaps, nd.trans, configuration); err != nil {
			t.Fatalf("bootstrap %s: %v", nd.id, err)
		}
		c.start(nd)
	}
	t.Cleanup(c.shutdown)
	return c
}

func (c *cluster) connectAll() {
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			if a != b {
				a.trans.Connect(b.addr, b.trans)
			}
		}
	}
}

func (c *cluster) start(nd *node) {
	c.t.Helper()
	r, err := NewRaft(c.conf(nd.id), nd.fsm, nd.store, nd.store, nd.snaps, nd.trans)
	if err != nil {
		c.t.Fatalf("NewRaft %s: %v", nd.id, err)
	}
	nd.raft = r
	nd.closed = false
}

// stop shuts a node down; its stores are kept for restart.
func (c *cluster) stop(nd *node) {
	c.t.Helper()
	if nd.closed {
		return
	}
	if err := nd.raft.Shutdown().Error(); err != nil {
		c.t.Fatalf("shutdown %s: %v", nd.id, err)
	}
	nd.closed = true
}

// restart starts a stopped node over its stores with a new transport and a
// fresh FSM (rebuilt by re-applying the committed log).
func (c *cluster) restart(nd *node) {
	c.t.Helper()
	addr, trans := transport.NewInmemTransport(nd.addr)
	nd.addr, nd.trans = addr, trans
	nd.fsm = &testFSM{}
	for _, o := range c.nodes {
		if o != nd {
			o.trans.Connect(nd.addr, nd.trans)
			nd.trans.Connect(o.addr, o.trans)
		}
	}
	c.start(nd)
}

func (c *cluster) shutdown() {
	for _, nd := range c.nodes {
		if !nd.closed {
			nd.raft.Shutdown().Error()
			nd.closed = true
		}
	}
}

// partition cuts the given nodes off from the rest, both ways.
func (c *cluster) partition(cut ...*node) {
	in := map[*node]bool{}
	for _, n := range cut {
		in[n] = true
	}
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			if a != b && in[a] != in[b] {
				a.trans.Disconnect(b.addr)
			}
		}
	}
}

func (c *cluster) heal() { c.connectAll() }

func (c *cluster) running() []*node {
	var out []*node
	for _, nd := range c.nodes {
		if !nd.closed {
			out = append(out, nd)
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// leader waits until exactly one of the given nodes is leader and returns it.
func (c *cluster) leader(among ...*node) *node {
	c.t.Helper()
	if len(among) == 0 {
		among = c.running()
	}
	var l *node
	waitFor(c.t, 10*time.Second, "a single leader", func() bool {
		l = nil
		count := 0
		for _, nd := range among {
			if nd.raft.State() == raft.Leader {
				l = nd
				count++
			}
		}
		return count == 1
	})
	return l
}

func (c *cluster) followers(l *node) []*node {
	var out []*node
	for _, nd := range c.running() {
		if nd != l {
			out = append(out, nd)
		}
	}
	return out
}

// waitApplied waits until every given node's FSM holds exactly want.
func (c *cluster) waitApplied(want [][]byte, nodes ...*node) {
	c.t.Helper()
	if len(nodes) == 0 {
		nodes = c.running()
	}
	for _, nd := range nodes {
		// NB: wait for the exact sequence, not a length: a follower that
		// has yet to install a restored snapshot holds more commands than
		// want for a while (TestProtocolOnBolt/Restore flaked on that).
		waitFor(c.t, 10*time.Second, fmt.Sprintf("%s to apply %d commands", nd.id, len(want)), func() bool {
			got := nd.fsm.commands()
			if len(got) != len(want) {
				return false
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					return false
				}
			}
			return true
		})
		got := nd.fsm.commands()
		if len(got) != len(want) {
			c.t.Fatalf("%s applied %d commands, want %d", nd.id, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				c.t.Fatalf("%s applied %q at position %d, want %q", nd.id, got[i], i, want[i])
			}
		}
	}
}

func cmd(i int) []byte { return []byte(fmt.Sprintf("cmd-%d", i)) }
