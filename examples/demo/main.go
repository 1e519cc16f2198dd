// Command demo runs a small replicated key-value service: three Pontoon nodes
// in one process, each with its own bbolt log store and file snapshot store in
// a local directory and a TCP transport on loopback. It writes keys through
// the leader, stops the leader, shows a new one taking over with every
// acknowledged write intact, restarts the old leader and shows it catch up
// from its snapshot and log. The FSM snapshots and restores: copy it.
//
//	go run ./examples/demo            # data in ./data/demo, removed first
//	go run ./examples/demo -dir /tmp/x -keep
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/raftimpl"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// kv is the demo's FSM: "set key value" commands into a map.
type kv struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *kv) Apply(l *raft.Log) interface{} {
	parts := strings.SplitN(string(l.Data), " ", 3)
	if len(parts) != 3 || parts[0] != "set" {
		return fmt.Errorf("bad command %q", l.Data)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[parts[1]] = parts[2]
	return nil
}

// Snapshot copies the map under the lock, which is all it may do: Apply
// waits while it runs. Persist then writes the copy while Apply goes on.
func (k *kv) Snapshot() (raft.FSMSnapshot, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	m := make(map[string]string, len(k.m))
	for key, v := range k.m {
		m[key] = v
	}
	return kvSnapshot(m), nil
}

// Restore replaces the whole map with a snapshot's; it must not merge, since
// the snapshot is the state at its index.
func (k *kv) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	m := map[string]string{}
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		return fmt.Errorf("demo snapshot: %w", err)
	}
	k.mu.Lock()
	k.m = m
	k.mu.Unlock()
	return nil
}

// kvSnapshot is a point-in-time copy of the map.
type kvSnapshot map[string]string

// Persist writes the copy as JSON. On any error it cancels the sink, so the
// store discards the partial snapshot; otherwise Close commits it.
func (s kvSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(map[string]string(s)); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s kvSnapshot) Release() {}

func (k *kv) dump() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys := make([]string, 0, len(k.m))
	for key := range k.m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, key := range keys {
		fmt.Fprintf(&b, "%s=%s ", key, k.m[key])
	}
	return strings.TrimSpace(b.String())
}

type node struct {
	id    raft.ServerID
	dir   string
	addr  string
	fsm   *kv
	raft  *raftimpl.Raft
	store *logstore.BoltStore
}

func (n *node) start(logger hclog.Logger) error {
	store, err := logstore.NewBoltStore(filepath.Join(n.dir, "raft.db"))
	if err != nil {
		return err
	}
	snaps, err := snapshot.NewFileSnapshotStore(n.dir, 2, io.Discard)
	if err != nil {
		return err
	}
	trans, err := transport.NewTCPTransport(n.addr, nil, 3, 5*time.Second, io.Discard)
	if err != nil {
		return err
	}
	conf := raftimpl.DefaultConfig()
	conf.LocalID = n.id
	conf.HeartbeatTimeout = 300 * time.Millisecond
	conf.ElectionTimeout = 300 * time.Millisecond
	conf.LeaderLeaseTimeout = 300 * time.Millisecond
	conf.Logger = logger.Named(string(n.id))
	n.fsm = &kv{m: map[string]string{}}
	r, err := raftimpl.NewRaft(conf, n.fsm, store, store, snaps, trans)
	if err != nil {
		return err
	}
	n.raft, n.store = r, store
	return nil
}

func (n *node) stop() {
	n.raft.Shutdown().Error()
	n.store.Close()
	n.raft = nil
}

func main() {
	dir := flag.String("dir", filepath.Join("data", "demo"), "data directory")
	keep := flag.Bool("keep", false, "keep existing data (restart the same cluster)")
	basePort := flag.Int("port", 17400, "first TCP port")
	flag.Parse()
	log.SetFlags(0)
	if !*keep {
		os.RemoveAll(*dir)
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "demo", Level: hclog.Warn})

	var nodes []*node
	var configuration raft.Configuration
	for i := 0; i < 3; i++ {
		n := &node{id: raft.ServerID(fmt.Sprintf("node%d", i+1)),
			dir: filepath.Join(*dir, fmt.Sprintf("node%d", i+1)), addr: fmt.Sprintf("127.0.0.1:%d", *basePort+i)}
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			log.Fatal(err)
		}
		nodes = append(nodes, n)
		configuration.Servers = append(configuration.Servers, raft.Server{ID: n.id, Address: raft.ServerAddress(n.addr)})
	}
	for _, n := range nodes {
		if err := n.start(logger); err != nil {
			log.Fatalf("%s: %v", n.id, err)
		}
	}
	// Bootstrap once; on a -keep restart the stores already hold the cluster.
	if err := nodes[0].raft.BootstrapCluster(configuration).Error(); err != nil {
		log.Printf("bootstrap: %v (expected on restart)", err)
	}

	leader := waitLeader(nodes)
	log.Printf("leader: %s (term %d)", leader.id, leader.raft.CurrentTerm())
	start := time.Now()
	const writes = 500
	futures := make([]raftimpl.ApplyFuture, 0, writes)
	for i := 0; i < writes; i++ {
		futures = append(futures, leader.raft.Apply([]byte(fmt.Sprintf("set k%03d v%d", i%10, i)), 10*time.Second))
	}
	for _, f := range futures {
		if err := f.Error(); err != nil {
			log.Fatalf("apply: %v", err)
		}
	}
	log.Printf("%d writes acknowledged in %s (each fsynced on a majority before its future resolved; batched)", writes, time.Since(start).Round(time.Millisecond))
	waitSame(nodes)
	log.Printf("every FSM: %s", leader.fsm.dump())
	// A snapshot on every node (Raft also takes them on its own, by
	// SnapshotThreshold and SnapshotInterval): the restart below restores
	// the FSM from it and replays only the entries after it.
	for _, n := range nodes {
		if err := n.raft.Snapshot().Error(); err != nil {
			log.Fatalf("%s: snapshot: %v", n.id, err)
		}
	}
	log.Printf("snapshot taken on every node at index %d", leader.raft.AppliedIndex())

	log.Printf("stopping the leader %s", leader.id)
	leader.stop()
	var rest []*node
	for _, n := range nodes {
		if n != leader {
			rest = append(rest, n)
		}
	}
	next := waitLeader(rest)
	log.Printf("new leader: %s (term %d)", next.id, next.raft.CurrentTerm())
	if err := next.raft.Apply([]byte("set after failover"), 10*time.Second).Error(); err != nil {
		log.Fatalf("apply on new leader: %v", err)
	}
	log.Printf("restarting %s from its data directory", leader.id)
	if err := leader.start(logger); err != nil {
		log.Fatal(err)
	}
	waitSame(nodes)
	for _, n := range nodes {
		log.Printf("%s %-9s applied=%d  %s", n.id, n.raft.State(), n.raft.AppliedIndex(), n.fsm.dump())
	}
	for _, n := range nodes {
		n.stop()
	}
	log.Printf("ok: all three replicas identical; data kept in %s", *dir)
}

func waitLeader(nodes []*node) *node {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if n.raft.State() == raft.Leader {
				return n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	log.Fatal("no leader elected within 20s")
	return nil
}

func waitSame(nodes []*node) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		same := true
		for _, n := range nodes[1:] {
			if n.fsm.dump() != nodes[0].fsm.dump() {
				same = false
			}
		}
		if same {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	log.Fatal("replicas did not converge within 20s")
}
