package raftimpl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// tcpCluster is a bootstrapped cluster over NetworkTransport on loopback.
type tcpCluster struct {
	rafts  []*Raft
	fsms   []*testFSM
	stores []*logstore.InmemStore
}

func newTCPCluster(t *testing.T, n int, ncfg transport.NetworkTransportConfig, mut func(*Config)) *tcpCluster {
	t.Helper()
	c := &tcpCluster{}
	var configuration raft.Configuration
	var trs []*transport.NetworkTransport
	for i := 0; i < n; i++ {
		cfg := ncfg
		cfg.MaxPool, cfg.Timeout = 3, 5*time.Second
		cfg.Logger = hclog.NewNullLogger()
		tr, err := transport.NewTCPTransportWithConfig("127.0.0.1:0", nil, &cfg)
		if err != nil {
			t.Fatal(err)
		}
		trs = append(trs, tr)
		configuration.Servers = append(configuration.Servers,
			raft.Server{ID: raft.ServerID(fmt.Sprintf("t%d", i)), Address: tr.LocalAddr()})
	}
	for i, tr := range trs {
		s := logstore.NewInmemStore()
		snaps := snapshot.NewInmemSnapshotStore()
		conf := testConfig(t, configuration.Servers[i].ID)
		if mut != nil {
			mut(conf)
		}
		if err := BootstrapCluster(conf, s, s, snaps, tr, configuration); err != nil {
			t.Fatal(err)
		}
		fsm := &testFSM{}
		r, err := NewRaft(conf, fsm, s, s, snaps, tr)
		if err != nil {
			t.Fatal(err)
		}
		c.rafts, c.fsms, c.stores = append(c.rafts, r), append(c.fsms, fsm), append(c.stores, s)
	}
	t.Cleanup(func() {
		for _, r := range c.rafts {
			r.Shutdown().Error()
		}
	})
	return c
}

// patientTimeouts is for tests that check what a stable leader does (every
// Apply succeeds, every FSM holds exactly what was applied) rather than
// elections: their multi-MiB bursts under -race on a loaded 2-core machine
// can starve a follower's heartbeats past testConfig's 250ms (4× that is
// allowed here), or the
// leader's store write past the 2s DiskStallTimeout, and a leadership change
// then fails an Apply (raft.ErrLeadershipLost, as it should).
func patientTimeouts(c *Config) {
	c.HeartbeatTimeout = time.Second
	c.ElectionTimeout = time.Second
	c.LeaderLeaseTimeout = time.Second
	c.DiskStallTimeout = 20 * time.Second
}

func (c *tcpCluster) leader(t *testing.T) *Raft {
	t.Helper()
	var l *Raft
	waitFor(t, 10*time.Second, "a leader over TCP", func() bool {
		for _, r := range c.rafts {
			if r.State() == raft.Leader {
				l = r
				return true
			}
		}
		return false
	})
	return l
}

// waitCommands waits until every FSM holds exactly want.
func (c *tcpCluster) waitCommands(t *testing.T, want [][]byte) {
	t.Helper()
	for i, f := range c.fsms {
		waitFor(t, 20*time.Second, fmt.Sprintf("node %d to apply %d commands", i, len(want)), func() bool {
			got := f.commands()
			if len(got) != len(want) {
				return false
			}
			for j := range want {
				if !bytes.Equal(got[j], want[j]) {
					return false
				}
			}
			return true
		})
	}
}

// With the transport's frame limit at 256 KiB, the largest entry Apply takes is
// derived from it: one byte more is refused at once with ErrEntryTooLarge and
// nothing is appended; an entry of exactly the limit replicates; and a burst
// of entries just under it is split into requests that each fit a frame
// (issue 11 row 7: the leader stored an entry it could not send, and
// retried forever).
func TestOversizedEntryRefusedAndBatchesFitTheFrame(t *testing.T) {
	const frame = 256 << 10
	c := newTCPCluster(t, 3, transport.NetworkTransportConfig{MaxMessageSize: frame}, patientTimeouts)
	l := c.leader(t)
	want := [][]byte{[]byte("small")}
	if err := l.Apply(want[0], 10*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	limit := l.maxEntrySize
	if limit != frame-appendFrameReserve-entryOverhead {
		t.Fatalf("MaxEntrySize derived as %d from a %d-byte frame", limit, frame)
	}
	last := l.LastIndex()
	for _, tc := range []struct {
		name string
		log  raft.Log
	}{
		{"Data one byte over", raft.Log{Data: make([]byte, limit+1)}},
		{"Data and Extensions over", raft.Log{Data: make([]byte, limit-10), Extensions: make([]byte, 11)}},
		{"100 MiB", raft.Log{Data: make([]byte, 100<<20)}},
	} {
		start := time.Now()
		err := l.ApplyLog(tc.log, 10*time.Second).Error()
		if !errors.Is(err, raft.ErrEntryTooLarge) {
			t.Fatalf("%s: %v, want ErrEntryTooLarge", tc.name, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%s: refused after %s, want at once", tc.name, d)
		}
		if got := l.LastIndex(); got != last {
			t.Fatalf("%s: the leader's last index moved from %d to %d", tc.name, last, got)
		}
	}
	// The largest accepted entry fits one frame with its request.
	big := bytes.Repeat([]byte{'m'}, int(limit))
	if err := l.Apply(big, 20*time.Second).Error(); err != nil {
		t.Fatalf("an entry of exactly MaxEntrySize: %v", err)
	}
	want = append(want, big)
	// A burst of entries just under the limit: several per batch at the
	// leader, one per request on the wire.
	var futures []ApplyFuture
	for i := 0; i < 8; i++ {
		d := bytes.Repeat([]byte{byte('a' + i)}, int(limit)-100)
		want = append(want, d)
		futures = append(futures, l.Apply(d, 20*time.Second))
	}
	for i, f := range futures {
		if err := f.Error(); err != nil {
			t.Fatalf("burst entry %d: %v", i, err)
		}
	}
	c.waitCommands(t, want)
	// NB: polled: the leader writes its log in parallel with replicating
	// it, so an entry the followers' disks committed can be applied on
	// every node while the leader's own write of it is still running.
	end := l.LastIndex()
	for i, s := range c.stores {
		waitFor(t, 10*time.Second, fmt.Sprintf("node %d to store through %d", i, end), func() bool {
			n, _ := s.LastIndex()
			return n == end
		})
	}
}

// MaxEntrySize is checked against the transport's frame when the node is
// built; 0 takes the largest size that fits, from the transport's
// MaxMessageSize or transport.DefaultMaxMessageSize.
func TestMaxEntrySizeFollowsTheFrameLimit(t *testing.T) {
	store := logstore.NewInmemStore()
	snaps := snapshot.NewInmemSnapshotStore()
	_, trans := transport.NewInmemTransport("addr-1")
	defer trans.Close()
	conf := testConfig(t, "n1")
	r, err := NewRaft(conf, &testFSM{}, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(transport.DefaultMaxMessageSize - appendFrameReserve - entryOverhead); r.maxEntrySize != want {
		t.Errorf("default MaxEntrySize %d, want %d", r.maxEntrySize, want)
	}
	if r.appendBytes != conf.MaxAppendBytes {
		t.Errorf("AppendEntries byte bound %d, want MaxAppendBytes %d", r.appendBytes, conf.MaxAppendBytes)
	}
	r.Shutdown().Error()

	conf.MaxEntrySize = transport.DefaultMaxMessageSize
	if _, err := NewRaft(conf, &testFSM{}, store, store, snaps, trans); !errors.Is(err, raft.ErrInvalidConfig) {
		t.Fatalf("MaxEntrySize over the frame limit: %v, want ErrInvalidConfig", err)
	}

	// MaxAppendBytes 0 (no bound of its own) still keeps requests within
	// a frame.
	ncfg := &transport.NetworkTransportConfig{MaxMessageSize: 1 << 20, MaxPool: 1, Timeout: time.Second, Logger: hclog.NewNullLogger()}
	tcp, err := transport.NewTCPTransportWithConfig("127.0.0.1:0", nil, ncfg)
	if err != nil {
		t.Fatal(err)
	}
	conf = testConfig(t, "n1")
	conf.MaxAppendBytes = 0
	r, err = NewRaft(conf, &testFSM{}, store, store, snaps, tcp)
	if err != nil {
		t.Fatal(err)
	}
	if r.appendBytes != 1<<20-appendFrameReserve {
		t.Errorf("AppendEntries byte bound %d with MaxAppendBytes 0 and a 1 MiB frame", r.appendBytes)
	}
	r.Shutdown().Error()
}

// A peer whose sends keep failing is reported at WARN, not on every attempt,
// and once it answers again that is said once; nothing in steady state.
func TestFailingPeerLoggedWithBackoff(t *testing.T) {
	logs := map[raft.ServerID]*logCapture{}
	var mu sync.Mutex
	c := newCluster(t, 3)
	conf := c.conf
	c.conf = func(id raft.ServerID) *Config {
		cf := conf(id)
		b := &logCapture{}
		mu.Lock()
		logs[id] = b
		mu.Unlock()
		cf.Logger = hclog.New(&hclog.LoggerOptions{Name: string(id), Level: hclog.Info,
			Output: io.MultiWriter(b, testWriter{t})})
		return cf
	}
	for _, nd := range c.nodes {
		c.stop(nd)
	}
	for _, nd := range c.nodes {
		c.restart(nd)
	}
	l := c.leader()
	if err := l.raft.Apply(cmd(0), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	lb := logs[l.id]
	mu.Unlock()
	steady := lb.count(0, "sends to peer")
	f := c.followers(l)[0]
	// Cut only the leader's link to f: the leader keeps its quorum.
	l.trans.Disconnect(f.addr)
	waitFor(t, 10*time.Second, "a warning about the unreachable peer", func() bool {
		return lb.count(0, "sends to peer failing") > 0
	})
	// Failures go on (heartbeats every 25 ms, retried with backoff) for a
	// second and a half: the warning is repeated at growing intervals only.
	deadline := time.Now().Add(1500 * time.Millisecond)
	for i := 1; time.Now().Before(deadline); i++ {
		if err := l.raft.Apply(cmd(i), 5*time.Second).Error(); err != nil {
			t.Fatal(err)
		}
	}
	if n := lb.count(0, "sends to peer failing"); n > 4 {
		t.Fatalf("%d warnings in 1.5 s: not backed off", n)
	}
	l.trans.Connect(f.addr, f.trans)
	waitFor(t, 10*time.Second, "the recovery line", func() bool {
		return lb.count(0, "sends to peer succeed again") == 1
	})
	if steady != 0 {
		t.Fatalf("%d send-failure lines before any failure", steady)
	}
}

// A transport that takes fewer entries per AppendEntries than
// Config.MaxAppendEntries: the leader's batches keep to its bound, so a
// burst still replicates.
func TestBatchesKeepTheTransportsEntryCount(t *testing.T) {
	c := newTCPCluster(t, 3, transport.NetworkTransportConfig{MaxAppendEntries: 4}, patientTimeouts)
	l := c.leader(t)
	if l.appendEntries != 4 {
		t.Fatalf("entries per AppendEntries %d, want the transport's 4", l.appendEntries)
	}
	var want [][]byte
	var futures []ApplyFuture
	for i := 0; i < 200; i++ {
		want = append(want, cmd(i))
		futures = append(futures, l.Apply(cmd(i), 20*time.Second))
	}
	for i, f := range futures {
		if err := f.Error(); err != nil {
			t.Fatalf("Apply %d: %v", i, err)
		}
	}
	c.waitCommands(t, want)
}
