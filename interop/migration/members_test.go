package migration

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/raftimpl"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// state is the replicated state both engines' FSMs keep: the commands in
// the order applied. A snapshot is the commands joined by newlines.
type state struct {
	mu   sync.Mutex
	cmds []string
}

func (s *state) apply(data []byte) interface{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmds = append(s.cmds, string(data))
	return len(s.cmds)
}

func (s *state) snapshot() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.cmds, "\n")
}

func (s *state) restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmds = nil
	if len(b) > 0 {
		s.cmds = strings.Split(string(b), "\n")
	}
	return nil
}

func (s *state) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

type snap struct{ data string }

func (s snap) persist(w io.Writer, cancel func() error, close func() error) error {
	if _, err := io.WriteString(w, s.data); err != nil {
		cancel()
		return err
	}
	return close()
}

type hFSM struct{ *state }

func (f hFSM) Apply(l *hraft.Log) interface{}       { return f.apply(l.Data) }
func (f hFSM) Snapshot() (hraft.FSMSnapshot, error) { return hSnap{snap{f.snapshot()}}, nil }
func (f hFSM) Restore(rc io.ReadCloser) error       { return f.restore(rc) }

type hSnap struct{ snap }

func (s hSnap) Persist(sink hraft.SnapshotSink) error {
	return s.persist(sink, sink.Cancel, sink.Close)
}
func (hSnap) Release() {}

type pFSM struct{ *state }

func (f pFSM) Apply(l *raft.Log) interface{}       { return f.apply(l.Data) }
func (f pFSM) Snapshot() (raft.FSMSnapshot, error) { return pSnap{snap{f.snapshot()}}, nil }
func (f pFSM) Restore(rc io.ReadCloser) error      { return f.restore(rc) }

type pSnap struct{ snap }

func (s pSnap) Persist(sink raft.SnapshotSink) error { return s.persist(sink, sink.Cancel, sink.Close) }
func (pSnap) Release()                               {}

// tb is what the helpers need of a testing.T; the crash test's child
// process has its own.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
}

// errStopped is returned by calls on a stopped member.
var errStopped = fmt.Errorf("member stopped")

// member is one server of either engine over a data directory (raft.db and
// snapshots/, the layout both engines share) and a TCP address (or an
// in-memory one when addr is not host:port).
type member struct {
	kind string // "hashicorp" or "pontoon"
	id   string
	addr string
	dir  string
	st   *state

	// mu guards the handles: calls hold it shared, stop exclusively, so a
	// load generator may call a member being replaced.
	mu     sync.RWMutex
	h      *hraft.Raft
	hstore *raftboltdb.BoltStore
	// htrans is hashicorp's TCP transport (nil in memory): its Close leaves
	// pooled connections open, which keeps the peers' handlers running.
	htrans *hraft.NetworkTransport
	p      *raftimpl.Raft
	pstore *logstore.BoltStore
}

// timing shared by both engines: short enough for quick tests, long enough
// for a loaded 2-core machine under -race.
const (
	heartbeat = 500 * time.Millisecond
	opTimeout = 5 * time.Second
)

// snapEvery, when non-zero, makes both engines snapshot and compact often,
// so snapshots and InstallSnapshot cross between them.
type tuning struct {
	snapThreshold uint64
	trailing      uint64
}

func quiet() hclog.Logger {
	if os.Getenv("MIGRATION_LOG") != "" {
		return hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: os.Stderr})
	}
	return hclog.NewNullLogger()
}

func isTCP(addr string) bool {
	_, _, err := net.SplitHostPort(addr)
	return err == nil
}

// startHashicorp opens dir with raft-boltdb/v2 and hashicorp's
// FileSnapshotStore and starts hashicorp/raft; boot, when non-nil, is
// bootstrapped first.
func startHashicorp(t tb, id, addr, dir string, st *state, tn tuning, boot []string) *member {
	t.Helper()
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		t.Fatalf("%s: raft-boltdb: %v", id, err)
	}
	snaps, err := hraft.NewFileSnapshotStoreWithLogger(dir, 2, quiet())
	if err != nil {
		t.Fatal(err)
	}
	var trans hraft.Transport
	var tcp *hraft.NetworkTransport
	if isTCP(addr) {
		tt, err := hraft.NewTCPTransportWithLogger(addr, nil, 3, 2*time.Second, quiet())
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		trans, tcp = tt, tt
	} else {
		_, it := hraft.NewInmemTransport(hraft.ServerAddress(addr))
		trans = it
	}
	conf := hraft.DefaultConfig()
	conf.LocalID = hraft.ServerID(id)
	conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = heartbeat, heartbeat, heartbeat/2
	conf.Logger = quiet()
	if tn.snapThreshold > 0 {
		conf.SnapshotThreshold, conf.TrailingLogs, conf.SnapshotInterval = tn.snapThreshold, tn.trailing, 100*time.Millisecond
	}
	if boot != nil {
		var servers []hraft.Server
		for _, s := range boot {
			i, a, _ := strings.Cut(s, "=")
			servers = append(servers, hraft.Server{ID: hraft.ServerID(i), Address: hraft.ServerAddress(a)})
		}
		if err := hraft.BootstrapCluster(conf, store, store, snaps, trans, hraft.Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := hraft.NewRaft(conf, hFSM{st}, store, store, snaps, trans)
	if err != nil {
		t.Fatalf("%s: hashicorp NewRaft over %s: %v", id, dir, err)
	}
	return &member{kind: "hashicorp", id: id, addr: addr, dir: dir, st: st, h: r, hstore: store, htrans: tcp}
}

// startPontoon opens dir with logstore.BoltStore and snapshot.FileSnapshotStore
// and starts Pontoon.
func startPontoon(t tb, id, addr, dir string, st *state, tn tuning, boot []string) *member {
	t.Helper()
	store, err := logstore.New(logstore.Options{Path: filepath.Join(dir, "raft.db"), Logger: quiet()})
	if err != nil {
		t.Fatalf("%s: logstore: %v", id, err)
	}
	snaps, err := snapshot.NewFileSnapshotStoreWithLogger(dir, 2, quiet())
	if err != nil {
		t.Fatal(err)
	}
	var trans transport.Transport
	if isTCP(addr) {
		tt, err := transport.NewTCPTransportWithLogger(addr, nil, 3, 2*time.Second, quiet())
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		trans = tt
	} else {
		_, it := transport.NewInmemTransport(raft.ServerAddress(addr))
		trans = it
	}
	conf := raftimpl.DefaultConfig()
	conf.LocalID = raft.ServerID(id)
	conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = heartbeat, heartbeat, heartbeat/2
	conf.Logger = quiet()
	if tn.snapThreshold > 0 {
		conf.SnapshotThreshold, conf.TrailingLogs, conf.SnapshotInterval = tn.snapThreshold, tn.trailing, 100*time.Millisecond
	}
	if boot != nil {
		var servers []raft.Server
		for _, s := range boot {
			i, a, _ := strings.Cut(s, "=")
			servers = append(servers, raft.Server{ID: raft.ServerID(i), Address: raft.ServerAddress(a)})
		}
		if err := raftimpl.BootstrapCluster(conf, store, store, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := raftimpl.NewRaft(conf, pFSM{st}, store, store, snaps, trans)
	if err != nil {
		t.Fatalf("%s: Pontoon NewRaft over %s: %v", id, dir, err)
	}
	return &member{kind: "pontoon", id: id, addr: addr, dir: dir, st: st, p: r, pstore: store}
}

func (m *member) String() string { return m.id + "(" + m.kind + ")" }

func (m *member) apply(cmd string, timeout time.Duration) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.h == nil && m.p == nil {
		return errStopped
	}
	if m.h != nil {
		return m.h.Apply([]byte(cmd), timeout).Error()
	}
	return m.p.Apply([]byte(cmd), timeout).Error()
}

func (m *member) barrier() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.h == nil && m.p == nil {
		return errStopped
	}
	if m.h != nil {
		return m.h.Barrier(opTimeout).Error()
	}
	return m.p.Barrier(opTimeout).Error()
}

func (m *member) isLeader() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.h == nil && m.p == nil {
		return false
	}
	if m.h != nil {
		return m.h.State() == hraft.Leader
	}
	return m.p.State() == raft.Leader
}

func (m *member) leaderID() string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.h == nil && m.p == nil {
		return ""
	}
	if m.h != nil {
		_, id := m.h.LeaderWithID()
		return string(id)
	}
	_, id := m.p.LeaderWithID()
	return string(id)
}

func (m *member) appliedIndex() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.h == nil && m.p == nil {
		return 0
	}
	if m.h != nil {
		return m.h.AppliedIndex()
	}
	return m.p.AppliedIndex()
}

func (m *member) transferTo(to *member) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.h == nil && m.p == nil {
		return errStopped
	}
	if m.h != nil {
		return m.h.LeadershipTransferToServer(hraft.ServerID(to.id), hraft.ServerAddress(to.addr)).Error()
	}
	return m.p.LeadershipTransferToServer(raft.ServerID(to.id), raft.ServerAddress(to.addr)).Error()
}

func (m *member) snapshotNow() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.h == nil && m.p == nil {
		return errStopped
	}
	if m.h != nil {
		return m.h.Snapshot().Error()
	}
	return m.p.Snapshot().Error()
}

// stop shuts the engine down and closes its store (Pontoon's Close folds
// the journal into raft.db, leaving raft-boltdb's file).
func (m *member) stop(t tb) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h != nil {
		if err := m.h.Shutdown().Error(); err != nil {
			t.Errorf("%s shutdown: %v", m, err)
		}
		if m.htrans != nil {
			m.htrans.CloseStreams()
		}
		if err := m.hstore.Close(); err != nil {
			t.Errorf("%s close: %v", m, err)
		}
		m.h = nil
		return
	}
	if m.p != nil {
		if err := m.p.Shutdown().Error(); err != nil {
			t.Errorf("%s shutdown: %v", m, err)
		}
		if err := m.pstore.Close(); err != nil {
			t.Errorf("%s close: %v", m, err)
		}
		m.p = nil
	}
}

// waitFor polls cond until it holds, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leaderAmong waits for a member that leads and that every other member
// names.
func leaderAmong(t *testing.T, ms []*member) *member {
	t.Helper()
	var l *member
	waitFor(t, 30*time.Second, "a leader every member knows", func() bool {
		l = nil
		for _, m := range ms {
			if m.isLeader() {
				l = m
			}
		}
		if l == nil {
			return false
		}
		for _, m := range ms {
			if m.leaderID() != l.id {
				return false
			}
		}
		return true
	})
	return l
}

// converged waits until every member applied a barrier issued on the
// leader, then checks that all hold the same commands, and returns them.
func converged(t *testing.T, ms []*member) []string {
	t.Helper()
	var l *member
	waitFor(t, 30*time.Second, "a barrier on the leader", func() bool {
		l = leaderAmong(t, ms)
		return l.barrier() == nil
	})
	want := l.st.commands()
	waitFor(t, 30*time.Second, "every member to hold the leader's commands", func() bool {
		for _, m := range ms {
			if len(m.st.commands()) < len(want) {
				return false
			}
		}
		return true
	})
	for _, m := range ms {
		got := m.st.commands()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("%s holds %d commands, leader %s %d; they differ", m, len(got), l, len(want))
		}
	}
	return want
}

// freeAddrs returns n loopback addresses with ports free right now.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// checkHas fails unless got holds every command of want, each once.
func checkHas(t *testing.T, who string, got []string, want []string) {
	t.Helper()
	seen := make(map[string]int, len(got))
	for _, c := range got {
		seen[c]++
	}
	var missing []string
	for _, c := range want {
		if seen[c] == 0 {
			missing = append(missing, c)
		}
	}
	for c, n := range seen {
		if n > 1 {
			t.Errorf("%s applied %q %d times", who, c, n)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%s lost %d acknowledged writes, e.g. %v", who, len(missing), missing[:min(5, len(missing))])
	}
}

func cmds(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

// addVoter adds m as a voter through this member (the leader).
func (l *member) addVoter(m *member) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.h != nil {
		return l.h.AddVoter(hraft.ServerID(m.id), hraft.ServerAddress(m.addr), 0, opTimeout).Error()
	}
	if l.p != nil {
		return l.p.AddVoter(raft.ServerID(m.id), raft.ServerAddress(m.addr), 0, opTimeout).Error()
	}
	return errStopped
}

// lastSnapshotIndex is the index of the member's newest snapshot (Stats).
func (m *member) lastSnapshotIndex() string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.h != nil {
		return m.h.Stats()["last_snapshot_index"]
	}
	if m.p != nil {
		return m.p.Stats()["last_snapshot_index"]
	}
	return ""
}
