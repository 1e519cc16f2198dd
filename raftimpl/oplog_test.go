package raftimpl

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// logCapture collects the log lines of every node of a test cluster.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

// since returns what was logged after offset mark.
func (c *logCapture) since(mark int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()[mark:]
}

func (c *logCapture) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Len()
}

// count returns how many lines after mark match re.
func (c *logCapture) count(mark int, re string) int {
	return len(regexp.MustCompile(re).FindAllStringIndex(c.since(mark), -1))
}

// newLoggedCluster starts n bootstrapped in-memory nodes whose logs (at
// DEBUG) all go to the returned capture; adjust may change each config.
func newLoggedCluster(t *testing.T, n int, adjust func(*Config)) (*cluster, *logCapture) {
	t.Helper()
	logs := &logCapture{}
	conf := func(id raft.ServerID) *Config {
		c := testConfig(t, id)
		c.Logger = hclog.New(&hclog.LoggerOptions{Name: string(id), Level: hclog.Debug, Output: logs})
		if adjust != nil {
			adjust(c)
		}
		return c
	}
	c := &cluster{t: t, conf: conf, newStore: func(string) testStore { return logstore.NewInmemStore() }}
	var configuration raft.Configuration
	for i := 0; i < n; i++ {
		id := raft.ServerID(fmt.Sprintf("n%d", i+1))
		addr, trans := transport.NewInmemTransport(raft.ServerAddress(fmt.Sprintf("addr-%d", i+1)))
		c.nodes = append(c.nodes, &node{id: id, addr: addr, store: logstore.NewInmemStore(),
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
	return c, logs
}

// aboveDebug matches log lines at INFO, WARN or ERROR.
var aboveDebug = regexp.MustCompile(`(?m)^.*\[(INFO|WARN|ERROR)\].*$`)

// A cluster in a steady state logs nothing above DEBUG over hundreds of
// Applies, reads and heartbeats.
func TestSteadyStateQuiet(t *testing.T) {
	c, logs := newLoggedCluster(t, 3, nil)
	l := c.leader()
	var want [][]byte
	want = append(want, applyN(t, l.raft, 0, 20)...)
	c.waitApplied(want)
	mark := logs.mark()
	for i := 20; i < 420; i += 40 {
		want = append(want, applyN(t, l.raft, i, i+40)...)
		if err := l.raft.VerifyLeader().Error(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.raft.Barrier(10 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	c.waitApplied(want)
	if l.raft.State() != raft.Leader {
		t.Fatal("leadership changed during the test: not a steady state")
	}
	if lines := aboveDebug.FindAllString(logs.since(mark), -1); len(lines) > 0 {
		t.Fatalf("a steady-state cluster logged above DEBUG:\n%s", strings.Join(lines, "\n"))
	}
}

// The lines an operator acts on: the new leader with its term on every
// node; a server joining: the configuration change, the snapshot sent,
// received and restored with sizes and durations, progress of a long
// transfer, and the server catching up.
func TestOperatorLogLines(t *testing.T) {
	oldInterval := snapshotProgressInterval
	snapshotProgressInterval = 0 // every read of a snapshot logs its progress
	t.Cleanup(func() { snapshotProgressInterval = oldInterval })
	c, logs := newLoggedCluster(t, 3, func(c *Config) { c.TrailingLogs = 2 })
	l := c.leader()
	term := l.raft.CurrentTerm()
	waitFor(t, 10*time.Second, "every node to log the new leader", func() bool {
		return logs.count(0, fmt.Sprintf(`(?m)^.*\[INFO\]  n\d: new leader: leader-id=%s leader-address=%s term=%d$`,
			l.id, regexp.QuoteMeta(string(l.addr)), term)) == 3
	})

	want := applyN(t, l.raft, 0, 30)
	if err := l.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	mark := logs.mark()

	// A fourth server joins: the leader's log no longer has the first
	// entries, so it gets the snapshot.
	addr, trans := transport.NewInmemTransport("addr-4")
	nd := &node{id: "n4", addr: addr, store: logstore.NewInmemStore(), snaps: snapshot.NewInmemSnapshotStore(),
		trans: trans, fsm: &testFSM{}}
	c.nodes = append(c.nodes, nd)
	c.connectAll()
	c.start(nd)
	if err := l.raft.AddVoter(nd.id, nd.addr, 0, 10*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	c.waitApplied(want, nd)

	lines := []string{
		`\[INFO\]  n\d: configuration changed: index=\d+ servers=".*n4 \(addr-4, Voter\).*" committed=false`,
		`\[INFO\]  n\d: configuration committed: index=\d+`,
		`\[INFO\]  ` + string(l.id) + `: replicating to new server: peer=n4 leader-last-index=\d+`,
		`\[INFO\]  ` + string(l.id) + `: sending snapshot to follower: peer=n4 id=\S+ index=\d+ size=\d+`,
		`\[INFO\]  ` + string(l.id) + `: sending snapshot to follower: peer=n4 id=\S+ bytes=\d+ elapsed=\S+ size=\d+ percent=\S+`,
		`\[INFO\]  ` + string(l.id) + `: snapshot sent to follower: peer=n4 id=\S+ index=\d+ bytes=[1-9]\d* duration=\S+`,
		`\[INFO\]  n4: receiving snapshot from leader: index=\d+ term=\d+ size=[1-9]\d*`,
		`\[INFO\]  n4: snapshot received from leader: id=\S+ bytes=[1-9]\d* duration=\S+`,
		`\[INFO\]  n4: restoring FSM from snapshot: id=\S+ index=\d+ size=[1-9]\d*`,
		`\[INFO\]  n4: FSM restored from snapshot: id=\S+ index=\d+ bytes=[1-9]\d* duration=\S+`,
		`\[INFO\]  n4: installed snapshot from leader: index=\d+ term=\d+`,
		`\[INFO\]  n4: new leader: leader-id=` + string(l.id),
	}
	for _, re := range lines {
		waitFor(t, 10*time.Second, "the log line "+re, func() bool { return logs.count(mark, re) > 0 })
	}
	waitFor(t, 10*time.Second, "the leader to log n4 caught up", func() bool {
		return logs.count(mark, `\[INFO\]  `+string(l.id)+`: server caught up with the leader: peer=n4 index=\d+ entries=\d+ duration=\S+`) == 1
	})
	// n4 was outside the configuration it held only briefly (the
	// snapshot predates its addition): no warning for that.
	if n := logs.count(mark, `n4: .*not part of (the )?stable configuration`); n != 0 {
		t.Fatalf("a joining server warned that it is not in the configuration:\n%s", logs.since(mark))
	}
}

// A server whose ID is not in the configuration warns once at start, not
// at every tick.
func TestNotInConfigurationWarnsOnce(t *testing.T) {
	logs := &logCapture{}
	conf := testConfig(t, "x")
	conf.Logger = hclog.New(&hclog.LoggerOptions{Name: "x", Level: hclog.Debug, Output: logs})
	store := logstore.NewInmemStore()
	snaps := snapshot.NewInmemSnapshotStore()
	_, trans := transport.NewInmemTransport("addr-x")
	if err := BootstrapCluster(conf, store, store, snaps, trans,
		raft.Configuration{Servers: []raft.Server{{ID: "y", Address: "addr-y"}}}); err != nil {
		t.Fatal(err)
	}
	r, err := NewRaft(conf, &testFSM{}, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { r.Shutdown().Error() }()
	const re = `\[WARN\]  x: .*not part of (the )?stable configuration`
	waitFor(t, 10*time.Second, "the warning", func() bool { return logs.count(0, re) > 0 })
	// NB: asserting that nothing more is logged needs a window of time:
	// several election timeouts, in which a per-tick warning would repeat.
	start := time.Now()
	waitFor(t, 10*time.Second, "four election timeouts", func() bool {
		return time.Since(start) > 4*conf.ElectionTimeout
	})
	if n := logs.count(0, re); n != 1 {
		t.Fatalf("warned %d times, want once:\n%s", n, logs.since(0))
	}
}
