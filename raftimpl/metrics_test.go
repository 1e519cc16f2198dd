package raftimpl

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// docMetric is one row of docs/metrics.md.
type docMetric struct {
	kind   string // counter, gauge, timer or sample
	labels []string
	inTest bool // false when the row says "(not in the test"
}

// readMetricsDoc parses the tables of docs/metrics.md: rows whose first
// cell is a `raft.…` key.
func readMetricsDoc(t *testing.T) map[string]docMetric {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]docMetric{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `raft.") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 6 {
			t.Fatalf("metrics.md: malformed row %q", line)
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		m := docMetric{kind: strings.TrimSpace(cells[2]), inTest: !strings.Contains(line, "(not in the test")}
		for _, l := range strings.Split(cells[3], ",") {
			if l = strings.Trim(strings.TrimSpace(l), "`"); l != "" {
				m.labels = append(m.labels, l)
			}
		}
		if _, dup := out[name]; dup {
			t.Fatalf("metrics.md lists %s twice", name)
		}
		switch m.kind {
		case "counter", "gauge", "timer", "sample":
		default:
			t.Fatalf("metrics.md: %s has kind %q", name, m.kind)
		}
		out[name] = m
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// emitted is one key a sink received: its kind as the sink saw it
// (counter, gauge or sample) and its label names.
type emitted struct {
	kind   string
	labels []string
}

// sinkKeys returns every key sink received, peer IDs in legacy keys
// replaced by <peer_id>.
func sinkKeys(sink *metrics.InmemSink, peers []raft.ServerID) map[string]emitted {
	out := map[string]emitted{}
	add := func(name, kind string, labels []metrics.Label) {
		for _, base := range replKeys {
			b := strings.Join(base, ".")
			for _, p := range peers {
				if name == b+"."+string(p) {
					name = b + ".<peer_id>"
				}
			}
		}
		var ls []string
		for _, l := range labels {
			ls = append(ls, l.Name)
		}
		out[name] = emitted{kind: kind, labels: ls}
	}
	for _, iv := range sink.Data() {
		iv.RLock()
		for _, g := range iv.Gauges {
			add(g.Name, "gauge", g.Labels)
		}
		for _, c := range iv.Counters {
			add(c.Name, "counter", c.Labels)
		}
		for _, s := range iv.Samples {
			add(s.Name, "sample", s.Labels)
		}
		iv.RUnlock()
	}
	return out
}

// newTestMetrics returns a go-metrics instance writing to an in-memory
// sink, without the host name or service prefix and without the runtime
// metrics goroutine.
func newTestMetrics(t *testing.T) (*metrics.Metrics, *metrics.InmemSink) {
	t.Helper()
	sink := metrics.NewInmemSink(time.Hour, time.Hour)
	mc := metrics.DefaultConfig("")
	mc.EnableHostname = false
	mc.EnableRuntimeMetrics = false
	m, err := metrics.New(mc, sink)
	if err != nil {
		t.Fatal(err)
	}
	return m, sink
}

// batchFSM is a testFSM that applies through ApplyBatch.
type batchFSM struct{ *testFSM }

func (f batchFSM) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	for i, l := range logs {
		if l.Type == raft.LogCommand {
			out[i] = f.Apply(l)
		}
	}
	return out
}

// confFSM is a testFSM that also stores configurations.
type confFSM struct{ *testFSM }

func (confFSM) StoreConfiguration(uint64, raft.Configuration) {}

// metricsNode is one node of TestMetricsDocumented's cluster.
type metricsNode struct {
	id    raft.ServerID
	addr  raft.ServerAddress
	store *logstore.BoltStore
	snaps *snapshot.InmemSnapshotStore
	trans *transport.InmemTransport
	fsm   raft.FSM
	raft  *Raft
}

// TestMetricsDocumented runs a 3-node cluster on bbolt through elections,
// writes, reads, a snapshot with compaction, a user restore (followers
// install it), a leadership transfer and a lost lease, with every metric
// going to an in-memory sink; then checks the sink against
// docs/metrics.md: every key emitted is documented with its kind and
// labels, and every documented key not marked "(not in the test" was
// emitted.
func TestMetricsDocumented(t *testing.T) {
	doc := readMetricsDoc(t)
	m, sink := newTestMetrics(t)
	oldAge := oldestLogAgeInterval
	oldestLogAgeInterval = 20 * time.Millisecond
	t.Cleanup(func() { oldestLogAgeInterval = oldAge })
	oldSat := saturationPeriod
	saturationPeriod = 20 * time.Millisecond
	t.Cleanup(func() { saturationPeriod = oldSat })

	dir := t.TempDir()
	var nodes []*metricsNode
	var configuration raft.Configuration
	for i := 0; i < 3; i++ {
		id := raft.ServerID(fmt.Sprintf("n%d", i+1))
		addr, trans := transport.NewInmemTransport(raft.ServerAddress("addr-" + string(id)))
		store, err := logstore.New(logstore.Options{Path: filepath.Join(dir, string(id)+".db"), NoSync: true, Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		base := &testFSM{}
		fsms := []raft.FSM{confFSM{base}, batchFSM{base}, base}
		nodes = append(nodes, &metricsNode{id: id, addr: addr, store: store, snaps: snapshot.NewInmemSnapshotStore(),
			trans: trans, fsm: fsms[i]})
		configuration.Servers = append(configuration.Servers, raft.Server{ID: id, Address: addr})
	}
	connect := func() {
		for _, a := range nodes {
			for _, b := range nodes {
				if a != b {
					a.trans.Connect(b.addr, b.trans)
				}
			}
		}
	}
	connect()
	for _, nd := range nodes {
		conf := testConfig(t, nd.id)
		conf.Metrics = m
		conf.TrailingLogs = 4
		if err := BootstrapCluster(conf, nd.store, nd.store, nd.snaps, nd.trans, configuration); err != nil {
			t.Fatal(err)
		}
		r, err := NewRaft(conf, nd.fsm, nd.store, nd.store, nd.snaps, nd.trans)
		if err != nil {
			t.Fatal(err)
		}
		nd.raft = r
	}
	shutdown := func() {
		for _, nd := range nodes {
			if nd.raft != nil {
				nd.raft.Shutdown().Error()
				nd.raft = nil
			}
			nd.store.Close()
		}
	}
	t.Cleanup(shutdown)
	leader := func() *metricsNode {
		var l *metricsNode
		waitFor(t, 10*time.Second, "a single leader", func() bool {
			l = nil
			n := 0
			for _, nd := range nodes {
				if nd.raft.State() == raft.Leader {
					l, n = nd, n+1
				}
			}
			return n == 1
		})
		return l
	}
	caughtUp := func() {
		waitFor(t, 10*time.Second, "every node to apply the leader's log", func() bool {
			want := leader().raft.LastIndex()
			for _, nd := range nodes {
				if nd.raft.AppliedIndex() < want {
					return false
				}
			}
			return true
		})
	}

	l := leader()
	applyN(t, l.raft, 0, 30)
	if err := l.raft.Barrier(10 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if err := l.raft.VerifyLeader().Error(); err != nil {
		t.Fatal(err)
	}
	caughtUp()

	// A snapshot (compacting all but 4 entries), then a user restore of
	// it: the followers install it from the leader.
	sf := l.raft.Snapshot()
	if err := sf.Error(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the compaction's deletion", func() bool {
		_, ok := sinkKeys(sink, nil)["raft.removeOldLogs"]
		return ok
	})
	meta, rc, err := sf.Open()
	if err != nil {
		t.Fatal(err)
	}
	err = l.raft.Restore(meta, rc, 10*time.Second)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	applyN(t, l.raft, 30, 35)
	caughtUp()

	// A transfer: the old leader becomes a follower.
	if err := l.raft.LeadershipTransfer().Error(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the transfer", func() bool { return l.raft.State() == raft.Follower })
	l = leader()
	applyN(t, l.raft, 35, 40)

	// Wait for the periodic metrics.
	waitFor(t, 10*time.Second, "the periodic leader metrics", func() bool {
		got := sinkKeys(sink, nil)
		_, age := got["raft.leader.oldestLogAge"]
		_, contact := got["raft.leader.lastContact"]
		return age && contact
	})

	// A leader cut off from the others steps down when its lease runs out.
	for _, o := range nodes {
		if o != l {
			l.trans.Disconnect(o.addr)
			o.trans.Disconnect(l.addr)
		}
	}
	waitFor(t, 10*time.Second, "the cut-off leader to step down", func() bool { return l.raft.State() != raft.Leader })
	connect()

	// bbolt's statistics, then the journal's final checkpoint at Close.
	for _, nd := range nodes {
		nd.raft.Shutdown().Error()
		nd.raft = nil
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		nd.store.RunMetrics(ctx, time.Hour) // emits once, then sees ctx done
	}
	shutdown()
	exerciseSegmentStore(t, m, filepath.Join(dir, "seg"))

	got := sinkKeys(sink, []raft.ServerID{"n1", "n2", "n3"})
	var problems []string
	for name, e := range got {
		if !strings.HasPrefix(name, "raft.") {
			continue
		}
		d, ok := doc[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s (%s) is emitted but not in docs/metrics.md", name, e.kind))
			continue
		}
		kind := d.kind
		if kind == "timer" {
			kind = "sample"
		}
		if kind != e.kind {
			problems = append(problems, fmt.Sprintf("%s is emitted as a %s, documented as a %s", name, e.kind, d.kind))
		}
		if !slices.Equal(e.labels, d.labels) {
			problems = append(problems, fmt.Sprintf("%s is emitted with labels %v, documented with %v", name, e.labels, d.labels))
		}
	}
	for name, d := range doc {
		if _, ok := got[name]; d.inTest && !ok {
			problems = append(problems, fmt.Sprintf("%s is documented but was not emitted", name))
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		t.Fatalf("docs/metrics.md and the emitted metrics disagree:\n%s", strings.Join(problems, "\n"))
	}
}

// With Config.Metrics nil, the node's metrics go to go-metrics' global
// instance, as hashicorp/raft's do, including a global installed after
// NewRaft.
func TestMetricsNilMeansGlobal(t *testing.T) {
	conf := testConfig(t, "s")
	r := singleNode(t, conf, &testFSM{}, logstore.NewInmemStore(), snapshot.NewInmemSnapshotStore())
	defer func() { r.Shutdown().Error() }()
	sink := metrics.NewInmemSink(time.Hour, time.Hour)
	mc := metrics.DefaultConfig("")
	mc.EnableHostname = false
	mc.EnableRuntimeMetrics = false
	if _, err := metrics.NewGlobal(mc, sink); err != nil {
		t.Fatal(err)
	}
	defer metrics.Shutdown() // puts back go-metrics' initial black hole
	applyN(t, r, 0, 3)
	got := sinkKeys(sink, nil)
	for _, k := range []string{"raft.apply", "raft.commitTime", "raft.fsm.apply"} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s not emitted to the global sink", k)
		}
	}
}

// exerciseSegmentStore makes a SegmentStore emit each of its metrics to m:
// appends across rotations, reads, a head and a tail truncation, stable
// reads and writes.
func exerciseSegmentStore(t *testing.T, m *metrics.Metrics, dir string) {
	t.Helper()
	s, err := logstore.NewSegmentStore(logstore.SegmentOptions{Dir: dir, SegmentSize: logstore.MinJournalSize, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := uint64(1); i <= 40; i++ {
		if err := s.StoreLogs([]*raft.Log{{Index: i, Term: 1, Data: make([]byte, 300)}}); err != nil {
			t.Fatal(err)
		}
	}
	var l raft.Log
	if err := s.GetLog(20, &l); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(38, 40); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUint64([]byte("CurrentTerm")); err != nil {
		t.Fatal(err)
	}
}
