package raft

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// MakeCluster and friends: in-memory clusters for tests, as hashicorp/raft
// exports them. Each node has an InmemTransport (all connected), an
// InmemStore, a FileSnapshotStore in a temporary directory, and a MockFSM
// unless MakeClusterOpts.MakeFSMFunc says otherwise. Not a stable API.

// MakeClusterOpts configures MakeClusterCustom.
type MakeClusterOpts struct {
	Peers          int
	Bootstrap      bool
	Conf           *Config // nil: fast timeouts for in-memory tests
	ConfigStoreFSM bool    // wrap each MockFSM in a MockFSMConfigStore
	MakeFSMFunc    func() FSM
	// LongstopTimeout bounds every wait of the helpers; 0 means 5s.
	LongstopTimeout time.Duration
	MonotonicLogs   bool
	// PropagateError makes MakeClusterCustomWithErr return a failure to
	// start instead of failing the test.
	PropagateError     bool
	CommitTrackingLogs bool
}

// cluster is what the MakeCluster functions return.
type cluster struct {
	t        *testing.T
	conf     *Config
	longstop time.Duration
	logger   hclog.Logger

	dirs   []string
	stores []LogStore
	fsms   []FSM
	snaps  []*FileSnapshotStore
	trans  []LoopbackTransport
	rafts  []*Raft
	ids    map[*Raft]ServerID

	observer  *Observer
	obsCh     chan Observation
	mu        sync.Mutex // guards waiters
	waiters   []*eventWaiter
	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// eventWaiter is one WaitEventChan call: done is closed by the first
// observation filter accepts.
type eventWaiter struct {
	filter FilterFn
	done   chan struct{}
}

// testConfig is the configuration of MakeCluster when none is given: short
// timeouts, since the transport is in memory.
func testConfig(t *testing.T) *Config {
	c := DefaultConfig()
	c.HeartbeatTimeout = 50 * time.Millisecond
	c.ElectionTimeout = 50 * time.Millisecond
	c.LeaderLeaseTimeout = 50 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.Logger = testLogger(t)
	return c
}

// testLogWriter sends log lines to t.Log until the test has finished.
type testLogWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(p))
	}
	return len(p), nil
}

func testLogger(t *testing.T) hclog.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Debug, Output: w})
}

// MakeCluster starts n bootstrapped nodes and waits for a leader.
func MakeCluster(n int, t *testing.T, conf *Config) *cluster {
	return MakeClusterCustom(t, &MakeClusterOpts{Peers: n, Bootstrap: true, Conf: conf})
}

// MakeClusterNoBootstrap starts n nodes without bootstrapping them.
func MakeClusterNoBootstrap(n int, t *testing.T, conf *Config) *cluster {
	return MakeClusterCustom(t, &MakeClusterOpts{Peers: n, Conf: conf})
}

// MakeClusterCustom starts a cluster as opts says; a failure fails the test.
func MakeClusterCustom(t *testing.T, opts *MakeClusterOpts) *cluster {
	c, _ := makeCluster(t, opts)
	return c
}

// MakeClusterCustomWithErr is MakeClusterCustom that returns a failure to
// start when opts.PropagateError is set.
func MakeClusterCustomWithErr(t *testing.T, opts *MakeClusterOpts) (*cluster, error) {
	return makeCluster(t, opts)
}

func makeCluster(t *testing.T, opts *MakeClusterOpts) (*cluster, error) {
	conf := opts.Conf
	if conf == nil {
		conf = testConfig(t)
	}
	c := &cluster{
		t:        t,
		conf:     conf,
		longstop: opts.LongstopTimeout,
		logger:   conf.Logger,
		ids:      map[*Raft]ServerID{},
		obsCh:    make(chan Observation, 1024),
		stop:     make(chan struct{}),
	}
	if c.longstop == 0 {
		c.longstop = 5 * time.Second
	}
	t.Cleanup(c.Close)
	if c.logger == nil {
		c.logger = testLogger(t)
	}
	fail := func(err error) (*cluster, error) {
		if opts.PropagateError {
			c.Close()
			return nil, err
		}
		c.FailNowf("making cluster: %v", err)
		return nil, err
	}

	var configuration Configuration
	for i := 0; i < opts.Peers; i++ {
		dir, err := os.MkdirTemp("", "raft")
		if err != nil {
			return fail(err)
		}
		c.dirs = append(c.dirs, dir)
		snaps, err := NewFileSnapshotStoreWithLogger(dir, 3, c.logger)
		if err != nil {
			return fail(err)
		}
		c.snaps = append(c.snaps, snaps)

		var store LogStore = NewInmemStore()
		if opts.CommitTrackingLogs {
			store = NewInmemCommitTrackingStore()
		}
		if opts.MonotonicLogs {
			store = &MockMonotonicLogStore{s: store}
		}
		c.stores = append(c.stores, store)

		var fsm FSM
		switch {
		case opts.MakeFSMFunc != nil:
			fsm = opts.MakeFSMFunc()
		case opts.ConfigStoreFSM:
			fsm = &MockFSMConfigStore{FSM: &MockFSM{}}
		default:
			fsm = &MockFSM{}
		}
		c.fsms = append(c.fsms, fsm)

		addr, trans := NewInmemTransport("")
		c.trans = append(c.trans, trans)
		configuration.Servers = append(configuration.Servers, Server{Suffrage: Voter, ID: ServerID(addr), Address: addr})
	}
	c.FullyConnect()

	c.observer = NewObserver(c.obsCh, false, nil)
	c.wg.Add(1)
	go c.dispatchObservations()

	for i := range c.trans {
		peerConf := *conf
		peerConf.LocalID = configuration.Servers[i].ID
		peerConf.Logger = c.logger.Named(string(peerConf.LocalID))
		if opts.Bootstrap {
			if err := BootstrapCluster(&peerConf, c.stores[i], c.stores[i].(StableStore), c.snaps[i], c.trans[i], configuration); err != nil {
				return fail(err)
			}
		}
		r, err := NewRaft(&peerConf, c.fsms[i], c.stores[i], c.stores[i].(StableStore), c.snaps[i], c.trans[i])
		if err != nil {
			return fail(err)
		}
		r.RegisterObserver(c.observer)
		c.rafts = append(c.rafts, r)
		c.ids[r] = peerConf.LocalID
	}
	if opts.Bootstrap {
		c.Leader()
	}
	return c, nil
}

// dispatchObservations hands every observation to the waiters that want it.
func (c *cluster) dispatchObservations() {
	defer c.wg.Done()
	for {
		select {
		case <-c.stop:
			return
		case o := <-c.obsCh:
			c.mu.Lock()
			kept := c.waiters[:0]
			for _, w := range c.waiters {
				if w.filter == nil || w.filter(&o) {
					close(w.done)
				} else {
					kept = append(kept, w)
				}
			}
			c.waiters = kept
			c.mu.Unlock()
		}
	}
}

// Merge adds other's nodes to c (they are not connected to c's).
func (c *cluster) Merge(other *cluster) {
	c.dirs = append(c.dirs, other.dirs...)
	c.stores = append(c.stores, other.stores...)
	c.fsms = append(c.fsms, other.fsms...)
	c.snaps = append(c.snaps, other.snaps...)
	c.trans = append(c.trans, other.trans...)
	c.rafts = append(c.rafts, other.rafts...)
	for _, r := range other.rafts {
		r.RegisterObserver(c.observer)
		c.ids[r] = other.ids[r]
	}
}

// RemoveServer drops the node with this ID from the helpers' view (it keeps
// running).
func (c *cluster) RemoveServer(id ServerID) {
	kept := c.rafts[:0]
	for _, r := range c.rafts {
		if c.ids[r] != id {
			kept = append(kept, r)
		}
	}
	c.rafts = kept
}

// Failf logs and marks the test failed.
func (c *cluster) Failf(format string, args ...interface{}) {
	c.t.Helper()
	c.t.Errorf(format, args...)
}

// FailNowf logs and stops the test.
func (c *cluster) FailNowf(format string, args ...interface{}) {
	c.t.Helper()
	c.t.Fatalf(format, args...)
}

// Close shuts every node down and deletes their directories. It may be
// called more than once.
func (c *cluster) Close() {
	c.closeOnce.Do(func() {
		var futures []Future
		for _, r := range c.rafts {
			futures = append(futures, r.Shutdown())
		}
		for _, f := range futures {
			if err := f.Error(); err != nil {
				c.Failf("shutdown: %v", err)
			}
		}
		for _, tr := range c.trans {
			_ = tr.Close()
		}
		close(c.stop)
		c.wg.Wait()
		for _, d := range c.dirs {
			_ = os.RemoveAll(d)
		}
	})
}

// WaitEventChan returns a channel closed when an observation that filter
// accepts arrives, or when ctx ends.
func (c *cluster) WaitEventChan(ctx context.Context, filter FilterFn) <-chan struct{} {
	w := &eventWaiter{filter: filter, done: make(chan struct{})}
	c.mu.Lock()
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()
	out := make(chan struct{})
	go func() {
		defer close(out)
		select {
		case <-w.done:
		case <-ctx.Done():
		case <-c.stop:
		}
	}()
	return out
}

// WaitEvent waits up to timeout (the longstop when 0) for an observation
// that filter accepts.
func (c *cluster) WaitEvent(filter FilterFn, timeout time.Duration) {
	if timeout == 0 {
		timeout = c.longstop
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	<-c.WaitEventChan(ctx, filter)
}

// poll calls done every few milliseconds until it returns true or the
// longstop passes; it reports whether done returned true.
func (c *cluster) poll(done func() bool) bool {
	deadline := time.Now().Add(c.longstop)
	for {
		if done() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitForReplication waits until every FSM has applied fsmLength entries.
func (c *cluster) WaitForReplication(fsmLength int) {
	c.t.Helper()
	ok := c.poll(func() bool {
		for _, f := range c.fsms {
			if m := mockFSM(f); m != nil && len(m.Logs()) < fsmLength {
				return false
			}
		}
		return true
	})
	if !ok {
		c.FailNowf("timeout waiting for replication of %d entries", fsmLength)
	}
}

// GetInState returns the nodes in state s once the states of all nodes have
// stayed the same for a few election timeouts.
func (c *cluster) GetInState(s RaftState) []*Raft {
	c.t.Helper()
	settle := 3 * c.conf.ElectionTimeout
	if h := 3 * c.conf.HeartbeatTimeout; h > settle {
		settle = h
	}
	var last []RaftState
	var since time.Time
	deadline := time.Now().Add(c.longstop)
	for {
		now := make([]RaftState, len(c.rafts))
		for i, r := range c.rafts {
			now[i] = r.State()
		}
		if !reflect.DeepEqual(now, last) {
			last, since = now, time.Now()
		}
		if time.Since(since) >= settle {
			break
		}
		if time.Now().After(deadline) {
			c.FailNowf("cluster did not settle within %v", c.longstop)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var out []*Raft
	for i, r := range c.rafts {
		if last[i] == s {
			out = append(out, r)
		}
	}
	return out
}

// Leader waits for a settled cluster with one leader and returns it.
func (c *cluster) Leader() *Raft {
	c.t.Helper()
	var leaders []*Raft
	if !c.poll(func() bool { leaders = c.GetInState(Leader); return len(leaders) == 1 }) {
		c.FailNowf("expected one leader, got %d", len(leaders))
	}
	return leaders[0]
}

// Followers waits until all nodes but one are followers and returns them.
func (c *cluster) Followers() []*Raft {
	return c.WaitForFollowers(len(c.rafts) - 1)
}

// WaitForFollowers waits until n nodes are followers and returns them.
func (c *cluster) WaitForFollowers(n int) []*Raft {
	c.t.Helper()
	var followers []*Raft
	if !c.poll(func() bool { followers = c.GetInState(Follower); return len(followers) == n }) {
		c.FailNowf("expected %d followers, got %d", n, len(followers))
	}
	return followers
}

// FullyConnect connects every node's transport to every other's.
func (c *cluster) FullyConnect() {
	for i, a := range c.trans {
		for j, b := range c.trans {
			if i != j {
				a.(*InmemTransport).Connect(b.LocalAddr(), b)
			}
		}
	}
}

// Disconnect cuts the node at addr off from all others, both ways.
func (c *cluster) Disconnect(addr ServerAddress) {
	for _, tr := range c.trans {
		if tr.LocalAddr() == addr {
			tr.(*InmemTransport).DisconnectAll()
		} else {
			tr.(*InmemTransport).Disconnect(addr)
		}
	}
}

// Partition cuts the nodes at far off from the others, both ways; nodes on
// the same side stay connected.
func (c *cluster) Partition(far []ServerAddress) {
	isFar := map[ServerAddress]bool{}
	for _, a := range far {
		isFar[a] = true
	}
	for _, a := range c.trans {
		for _, b := range c.trans {
			if isFar[a.LocalAddr()] != isFar[b.LocalAddr()] {
				a.(*InmemTransport).Disconnect(b.LocalAddr())
			}
		}
	}
}

// IndexOf returns r's position among the nodes, or -1.
func (c *cluster) IndexOf(r *Raft) int {
	for i, n := range c.rafts {
		if n == r {
			return i
		}
	}
	return -1
}

// EnsureLeader fails t unless every node sees expect as its leader (waiting
// up to the longstop).
func (c *cluster) EnsureLeader(t *testing.T, expect ServerAddress) {
	t.Helper()
	var bad string
	ok := c.poll(func() bool {
		for _, r := range c.rafts {
			if l := r.Leader(); l != expect {
				bad = fmt.Sprintf("%v sees leader %q, want %q", r, l, expect)
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatal(bad)
	}
}

// EnsureSame fails t unless every MockFSM ends up with the same entries
// (waiting up to the longstop).
func (c *cluster) EnsureSame(t *testing.T) {
	t.Helper()
	var bad string
	ok := c.poll(func() bool {
		var first [][]byte
		for i, f := range c.fsms {
			m := mockFSM(f)
			if m == nil {
				continue
			}
			logs := m.Logs()
			if i == 0 {
				first = logs
			} else if !reflect.DeepEqual(first, logs) {
				bad = fmt.Sprintf("FSM %d has %d entries, FSM 0 has %d, or they differ", i, len(logs), len(first))
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatal(bad)
	}
}

// EnsureSamePeers fails t unless every node has the same configuration
// (waiting up to the longstop).
func (c *cluster) EnsureSamePeers(t *testing.T) {
	t.Helper()
	var bad string
	ok := c.poll(func() bool {
		var first Configuration
		for i, r := range c.rafts {
			f := r.GetConfiguration()
			if err := f.Error(); err != nil {
				bad = err.Error()
				return false
			}
			if i == 0 {
				first = f.Configuration()
			} else if !reflect.DeepEqual(first, f.Configuration()) {
				bad = fmt.Sprintf("node %d has configuration %+v, node 0 %+v", i, f.Configuration(), first)
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatal(bad)
	}
}

// mockFSM finds the MockFSM in f, looking through MockFSMConfigStore and
// WrappingFSM; nil if there is none.
func mockFSM(f FSM) *MockFSM {
	switch f := f.(type) {
	case *MockFSM:
		return f
	case *MockFSMConfigStore:
		return mockFSM(f.FSM)
	case WrappingFSM:
		return mockFSM(f.Underlying())
	}
	return nil
}
