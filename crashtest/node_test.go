package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/raftimpl"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// nodeEnv carries a child's nodeSpec (JSON); its presence makes the test
// binary a node instead of a test run.
const nodeEnv = "PONTOON_CRASHTEST_NODE"

// nodeSpec is what a child needs to run one node.
type nodeSpec struct {
	ID        string
	Dir       string // data directory: raft.db, its journal, snapshots/
	RaftAddr  string
	HTTPAddr  string
	Peers     []peerSpec // the whole cluster, this node included
	Bootstrap bool       // first start: bootstrap the configuration
	// Break names a deliberate bug, to show the test catches it:
	// "ack-early" acknowledges writes before they commit. Empty in CI.
	Break string
	// Store is the log store: "" for BoltStore (raft.db and its journal),
	// "segment" for SegmentStore (in seg/, small segments so rotations
	// and compaction happen all the time).
	Store string
}

type peerSpec struct{ ID, Addr string }

// Timing and snapshot settings of every node: short, so a 60-second run has
// dozens of elections and snapshots, but not so short that a node under the
// race detector on two busy cores misses heartbeats all the time.
const (
	nodeHeartbeat     = 500 * time.Millisecond
	nodeLeaderLease   = 250 * time.Millisecond
	nodeApplyTimeout  = 3 * time.Second
	nodeReadTimeout   = 3 * time.Second
	snapshotThreshold = 128
	trailingLogs      = 48
	snapshotInterval  = 300 * time.Millisecond
)

// nodeStore is what a node needs of its log store.
type nodeStore interface {
	logstore.LogStore
	logstore.StableStore
	Close() error
}

// openStore opens the log store spec names in its directory.
func openStore(spec nodeSpec, logger hclog.Logger) (nodeStore, error) {
	if spec.Store == "segment" {
		return logstore.NewSegmentStore(logstore.SegmentOptions{Dir: spec.Dir + "/seg", SegmentSize: segmentSize})
	}
	return logstore.New(logstore.Options{Path: spec.Dir + "/raft.db", Logger: logger.Named("boltstore")})
}

// segmentSize is the SegmentStore's segment size: a few dozen entries.
const segmentSize = 64 << 10

// nodeMain is a child's main: it runs a node until killed. Failures to start
// go to stderr with exit status 2; "ready" on stdout means the node and its
// HTTP server are up.
func nodeMain() {
	var spec nodeSpec
	if err := json.Unmarshal([]byte(os.Getenv(nodeEnv)), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "node: bad spec:", err)
		os.Exit(2)
	}
	if err := runNode(spec); err != nil {
		fmt.Fprintf(os.Stderr, "node %s: %v\n", spec.ID, err)
		os.Exit(2)
	}
}

func runNode(spec nodeSpec) error {
	logger := hclog.New(&hclog.LoggerOptions{
		Name: "node-" + spec.ID, Level: hclog.Info, Output: os.Stderr, TimeFormat: "15:04:05.000",
	})
	store, err := openStore(spec, logger)
	if err != nil {
		return fmt.Errorf("open log store: %w", err)
	}
	snaps, err := snapshot.NewFileSnapshotStoreWithLogger(spec.Dir, 2, logger.Named("snapshot"))
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	trans, err := transport.NewTCPTransportWithLogger(spec.RaftAddr, nil, 3, 2*time.Second, logger.Named("transport"))
	if err != nil {
		return fmt.Errorf("transport: %w", err)
	}
	conf := raftimpl.DefaultConfig()
	conf.LocalID = raft.ServerID(spec.ID)
	conf.Logger = logger.Named("raft")
	conf.HeartbeatTimeout = nodeHeartbeat
	conf.ElectionTimeout = nodeHeartbeat
	conf.LeaderLeaseTimeout = nodeLeaderLease
	conf.CommitTimeout = 10 * time.Millisecond
	conf.SnapshotThreshold = snapshotThreshold
	conf.TrailingLogs = trailingLogs
	conf.SnapshotInterval = snapshotInterval
	if spec.Bootstrap {
		// Before NewRaft, so that no peer's AppendEntries can get here
		// first.
		var c raft.Configuration
		for _, p := range spec.Peers {
			c.Servers = append(c.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
		}
		if err := raftimpl.BootstrapCluster(conf, store, store, snaps, trans, c); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	fsm := newKVFSM()
	r, err := raftimpl.NewRaft(conf, fsm, store, store, snaps, trans)
	if err != nil {
		return fmt.Errorf("NewRaft: %w", err)
	}
	ln, err := net.Listen("tcp", spec.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	fmt.Println("ready")
	srv := &http.Server{Handler: &nodeHandler{r: r, fsm: fsm, brk: spec.Break}, ReadHeaderTimeout: 5 * time.Second}
	return srv.Serve(ln) // runs until the process is killed
}

// nodeHandler serves the client protocol:
//
//	POST /put?key=K&value=V, POST /append?key=K&value=V
//	GET  /get?key=K          linearizable read (ReadIndex on the leader)
//	GET  /state              role, leader, indices (JSON nodeState)
//	GET  /dump               the FSM's whole state (JSON kvDump)
//	POST /barrier            Barrier on the leader
//
// Status 200: done (the body is the value for /get). 421: this node is not
// the leader, nothing was done (header X-Leader names the leader's HTTP
// address if known). 503: the outcome is unknown (a write may or may not
// commit); the body says why.
type nodeHandler struct {
	r   *raftimpl.Raft
	fsm *kvFSM
	brk string
}

// nodeState is /state's answer.
type nodeState struct {
	State        string
	LeaderID     string
	Term         uint64
	LastIndex    uint64
	CommitIndex  uint64
	AppliedIndex uint64
}

func (h *nodeHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	switch req.URL.Path {
	case "/put", "/append":
		h.write(w, req.URL.Path[1:], q.Get("key"), q.Get("value"))
	case "/get":
		if h.r.State() != raft.Leader {
			h.notLeader(w)
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), nodeReadTimeout)
		defer cancel()
		if _, err := h.r.ReadIndex(ctx); err != nil {
			h.fail(w, err)
			return
		}
		fmt.Fprint(w, h.fsm.get(q.Get("key")))
	case "/barrier":
		if err := h.r.Barrier(nodeApplyTimeout).Error(); err != nil {
			h.fail(w, err)
			return
		}
		fmt.Fprint(w, "ok")
	case "/state":
		_, id := h.r.LeaderWithID()
		writeJSON(w, nodeState{
			State: h.r.State().String(), LeaderID: string(id), Term: h.r.CurrentTerm(),
			LastIndex: h.r.LastIndex(), CommitIndex: h.r.CommitIndex(), AppliedIndex: h.r.AppliedIndex(),
		})
	case "/dump":
		writeJSON(w, h.fsm.dump())
	default:
		http.NotFound(w, req)
	}
}

func (h *nodeHandler) write(w http.ResponseWriter, op, key, value string) {
	cmd, _ := json.Marshal(kvCommand{Op: op, Key: key, Value: value})
	f := h.r.Apply(cmd, nodeApplyTimeout)
	if h.brk == "ack-early" && h.r.State() == raft.Leader {
		// Deliberately wrong: acknowledge before the entry commits.
		fmt.Fprint(w, "ok")
		return
	}
	if err := f.Error(); err != nil {
		h.fail(w, err)
		return
	}
	if resp, ok := f.Response().(error); ok {
		http.Error(w, "fsm: "+resp.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, "ok")
}

// fail answers an error: 421 when nothing was done, else 503 (unknown).
func (h *nodeHandler) fail(w http.ResponseWriter, err error) {
	if errors.Is(err, raft.ErrNotLeader) {
		h.notLeader(w)
		return
	}
	http.Error(w, err.Error(), http.StatusServiceUnavailable)
}

func (h *nodeHandler) notLeader(w http.ResponseWriter) {
	w.Header().Set("X-Leader-ID", func() string { _, id := h.r.LeaderWithID(); return string(id) }())
	http.Error(w, "not leader", http.StatusMisdirectedRequest)
}

func writeJSON(w http.ResponseWriter, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
