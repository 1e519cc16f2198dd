package differential

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/raftimpl"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// node is one server of either engine, seen through the calls the suite
// makes. Errors come back as they are, for identity and text checks.
type node interface {
	id() string
	addr() string
	apply(cmd string) (index uint64, resp interface{}, err error)
	barrier() (uint64, error)
	verifyLeader() error
	snapshot() (index uint64, err error)
	addVoter(id, addr string, prev uint64) (uint64, error)
	addNonvoter(id, addr string, prev uint64) (uint64, error)
	demoteVoter(id string, prev uint64) (uint64, error)
	removeServer(id string, prev uint64) (uint64, error)
	transfer() error
	transferTo(id, addr string) error
	configuration() (servers string, index uint64, err error)
	stats() map[string]string
	lastIndex() uint64
	appliedIndex() uint64
	commitIndex() uint64
	state() string
	leader() (addr, id string)
	addPeer(addr string) error
	removePeer(addr string) error
	shutdown() error
	bootstrapAgain() error
	str() string
	// snapshotAndRestore takes a snapshot and restores it with Restore,
	// returning how far LastIndex moved.
	snapshotAndRestore() (uint64, error)
}

// engine builds clusters of one library and names its sentinels.
type engine struct {
	name string
	// sentinels maps hashicorp/raft's sentinel names to this library's
	// values.
	sentinels map[string]error
	// newCluster starts n bootstrapped, connected servers.
	newCluster func(t *testing.T, n int) []node
}

// errName returns the name of the sentinel err is (==), or "" if none.
func (e engine) errName(err error) string {
	if err == nil {
		return ""
	}
	for name, s := range e.sentinels {
		if err == s {
			return name
		}
	}
	return ""
}

const (
	opTimeout = 5 * time.Second
	tick      = 100 * time.Millisecond
)

// ---- hashicorp/raft ----

type hFSM struct {
	mu   sync.Mutex
	cmds []string
}

func (f *hFSM) Apply(l *hraft.Log) interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, string(l.Data))
	return "ok:" + string(l.Data)
}

func (f *hFSM) Snapshot() (hraft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &hSnap{data: strings.Join(f.cmds, "\n")}, nil
}

func (f *hFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = nil
	if len(b) > 0 {
		f.cmds = strings.Split(string(b), "\n")
	}
	return nil
}

type hSnap struct{ data string }

func (s *hSnap) Persist(sink hraft.SnapshotSink) error {
	if _, err := sink.Write([]byte(s.data)); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}
func (s *hSnap) Release() {}

type hNode struct {
	r     *hraft.Raft
	trans hraft.Transport
	sid   string
}

func hConfig(id string) *hraft.Config {
	c := hraft.DefaultConfig()
	c.LocalID = hraft.ServerID(id)
	c.HeartbeatTimeout = 400 * time.Millisecond
	c.ElectionTimeout = 400 * time.Millisecond
	c.LeaderLeaseTimeout = 400 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.Logger = hclog.NewNullLogger()
	return c
}

func newHashicorpCluster(t *testing.T, n int) []node { return newHashicorpClusterOn(t, n, false, nil) }

func newHashicorpTCPCluster(t *testing.T, n int) []node {
	return newHashicorpClusterOn(t, n, true, nil)
}

// newHashicorpClusterOn starts n servers over in-memory transports, or TCP
// on loopback. wrap, if not nil, gives each server's in-memory transport as
// the server uses it (the servers reach each other through the unwrapped
// ones).
func newHashicorpClusterOn(t *testing.T, n int, tcp bool, wrap func(*hraft.InmemTransport) hraft.Transport) []node {
	var nodes []node
	var trans []hraft.Transport
	var servers []hraft.Server
	var inmem []*hraft.InmemTransport
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("n%d", i+1)
		var tr hraft.Transport
		if tcp {
			nt, err := hraft.NewTCPTransportWithLogger("127.0.0.1:0", nil, 3, 2*time.Second, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			// NB: hashicorp's Close leaves pooled connections open, and
			// the peers' handlers with them.
			t.Cleanup(nt.CloseStreams)
			tr = nt
		} else {
			_, it := hraft.NewInmemTransport(hraft.ServerAddress(id + "-addr"))
			inmem = append(inmem, it)
			tr = it
			if wrap != nil {
				tr = wrap(it)
			}
		}
		trans = append(trans, tr)
		servers = append(servers, hraft.Server{ID: hraft.ServerID(id), Address: tr.LocalAddr()})
	}
	for _, a := range inmem {
		for _, b := range inmem {
			if a != b {
				a.Connect(b.LocalAddr(), b)
			}
		}
	}
	for i := 0; i < n; i++ {
		id := string(servers[i].ID)
		store := hraft.NewInmemStore()
		snaps := hraft.NewInmemSnapshotStore()
		conf := hConfig(id)
		if err := hraft.BootstrapCluster(conf, store, store, snaps, trans[i], hraft.Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
		r, err := hraft.NewRaft(conf, &hFSM{}, store, store, snaps, trans[i])
		if err != nil {
			t.Fatal(err)
		}
		nd := &hNode{r: r, trans: trans[i], sid: id}
		nodes = append(nodes, nd)
		t.Cleanup(func() { nd.r.Shutdown().Error() })
	}
	return nodes
}

func (n *hNode) id() string   { return n.sid }
func (n *hNode) addr() string { return string(n.trans.LocalAddr()) }
func (n *hNode) apply(cmd string) (uint64, interface{}, error) {
	f := n.r.Apply([]byte(cmd), opTimeout)
	err := f.Error()
	return f.Index(), f.Response(), err
}
func (n *hNode) barrier() (uint64, error) {
	f := n.r.Barrier(opTimeout)
	err := f.Error()
	if idx, ok := f.(hraft.IndexFuture); ok {
		return idx.Index(), err
	}
	return 0, err
}
func (n *hNode) verifyLeader() error { return n.r.VerifyLeader().Error() }
func (n *hNode) snapshot() (uint64, error) {
	f := n.r.Snapshot()
	if err := f.Error(); err != nil {
		return 0, err
	}
	meta, rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	rc.Close()
	return meta.Index, nil
}
func (n *hNode) addVoter(id, addr string, prev uint64) (uint64, error) {
	f := n.r.AddVoter(hraft.ServerID(id), hraft.ServerAddress(addr), prev, opTimeout)
	err := f.Error()
	return f.Index(), err
}
func (n *hNode) addNonvoter(id, addr string, prev uint64) (uint64, error) {
	f := n.r.AddNonvoter(hraft.ServerID(id), hraft.ServerAddress(addr), prev, opTimeout)
	err := f.Error()
	return f.Index(), err
}
func (n *hNode) demoteVoter(id string, prev uint64) (uint64, error) {
	f := n.r.DemoteVoter(hraft.ServerID(id), prev, opTimeout)
	err := f.Error()
	return f.Index(), err
}
func (n *hNode) removeServer(id string, prev uint64) (uint64, error) {
	f := n.r.RemoveServer(hraft.ServerID(id), prev, opTimeout)
	err := f.Error()
	return f.Index(), err
}
func (n *hNode) transfer() error { return n.r.LeadershipTransfer().Error() }
func (n *hNode) transferTo(id, addr string) error {
	return n.r.LeadershipTransferToServer(hraft.ServerID(id), hraft.ServerAddress(addr)).Error()
}
func (n *hNode) configuration() (string, uint64, error) {
	f := n.r.GetConfiguration()
	if err := f.Error(); err != nil {
		return "", f.Index(), err
	}
	var s []string
	for _, srv := range f.Configuration().Servers {
		s = append(s, fmt.Sprintf("%s/%s/%s", srv.ID, srv.Address, srv.Suffrage))
	}
	sort.Strings(s)
	return strings.Join(s, ","), f.Index(), nil
}
func (n *hNode) stats() map[string]string { return n.r.Stats() }
func (n *hNode) lastIndex() uint64        { return n.r.LastIndex() }
func (n *hNode) appliedIndex() uint64     { return n.r.AppliedIndex() }
func (n *hNode) commitIndex() uint64      { return n.r.CommitIndex() }
func (n *hNode) state() string            { return n.r.State().String() }
func (n *hNode) leader() (string, string) {
	a, id := n.r.LeaderWithID()
	return string(a), string(id)
}
func (n *hNode) addPeer(addr string) error { return n.r.AddPeer(hraft.ServerAddress(addr)).Error() }
func (n *hNode) removePeer(addr string) error {
	return n.r.RemovePeer(hraft.ServerAddress(addr)).Error()
}
func (n *hNode) shutdown() error { return n.r.Shutdown().Error() }

var hashicorp = engine{
	name: "hashicorp",
	sentinels: map[string]error{
		"ErrLeader": hraft.ErrLeader, "ErrNotLeader": hraft.ErrNotLeader, "ErrNotVoter": hraft.ErrNotVoter,
		"ErrLeadershipLost": hraft.ErrLeadershipLost, "ErrAbortedByRestore": hraft.ErrAbortedByRestore,
		"ErrRaftShutdown": hraft.ErrRaftShutdown, "ErrEnqueueTimeout": hraft.ErrEnqueueTimeout,
		"ErrNothingNewToSnapshot": hraft.ErrNothingNewToSnapshot, "ErrUnsupportedProtocol": hraft.ErrUnsupportedProtocol,
		"ErrCantBootstrap": hraft.ErrCantBootstrap, "ErrLeadershipTransferInProgress": hraft.ErrLeadershipTransferInProgress,
		"ErrIncompatibleLogStore": hraft.ErrIncompatibleLogStore, "ErrTransportShutdown": hraft.ErrTransportShutdown,
		"ErrPipelineShutdown": hraft.ErrPipelineShutdown, "ErrLogNotFound": hraft.ErrLogNotFound,
		"ErrPipelineReplicationNotSupported": hraft.ErrPipelineReplicationNotSupported,
	},
	newCluster: newHashicorpCluster,
}

// ---- Pontoon ----

type pFSM struct {
	mu   sync.Mutex
	cmds []string
}

func (f *pFSM) Apply(l *raft.Log) interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, string(l.Data))
	return "ok:" + string(l.Data)
}

func (f *pFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &pSnap{data: strings.Join(f.cmds, "\n")}, nil
}

func (f *pFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = nil
	if len(b) > 0 {
		f.cmds = strings.Split(string(b), "\n")
	}
	return nil
}

type pSnap struct{ data string }

func (s *pSnap) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write([]byte(s.data)); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}
func (s *pSnap) Release() {}

type pNode struct {
	r     *raftimpl.Raft
	trans transport.Transport
	sid   string
}

func pConfig(id string) *raftimpl.Config {
	c := raftimpl.DefaultConfig()
	c.LocalID = raft.ServerID(id)
	c.HeartbeatTimeout = 400 * time.Millisecond
	c.ElectionTimeout = 400 * time.Millisecond
	c.LeaderLeaseTimeout = 400 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.Logger = hclog.NewNullLogger()
	return c
}

func newPontoonCluster(t *testing.T, n int) []node { return newPontoonClusterOn(t, n, false, nil) }

func newPontoonTCPCluster(t *testing.T, n int) []node { return newPontoonClusterOn(t, n, true, nil) }

// newPontoonClusterOn starts n servers over in-memory transports, or TCP on
// loopback; wrap as for newHashicorpClusterOn.
func newPontoonClusterOn(t *testing.T, n int, tcp bool, wrap func(*transport.InmemTransport) transport.Transport) []node {
	var nodes []node
	var trans []transport.Transport
	var servers []raft.Server
	var inmem []*transport.InmemTransport
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("n%d", i+1)
		var tr transport.Transport
		if tcp {
			nt, err := transport.NewTCPTransportWithLogger("127.0.0.1:0", nil, 3, 2*time.Second, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			tr = nt
		} else {
			_, it := transport.NewInmemTransport(raft.ServerAddress(id + "-addr"))
			inmem = append(inmem, it)
			tr = it
			if wrap != nil {
				tr = wrap(it)
			}
		}
		trans = append(trans, tr)
		servers = append(servers, raft.Server{ID: raft.ServerID(id), Address: tr.LocalAddr()})
	}
	for _, a := range inmem {
		for _, b := range inmem {
			if a != b {
				a.Connect(b.LocalAddr(), b)
			}
		}
	}
	for i := 0; i < n; i++ {
		id := string(servers[i].ID)
		store := logstore.NewInmemStore()
		snaps := snapshot.NewInmemSnapshotStore()
		conf := pConfig(id)
		if err := raftimpl.BootstrapCluster(conf, store, store, snaps, trans[i], raft.Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
		r, err := raftimpl.NewRaft(conf, &pFSM{}, store, store, snaps, trans[i])
		if err != nil {
			t.Fatal(err)
		}
		nd := &pNode{r: r, trans: trans[i], sid: id}
		nodes = append(nodes, nd)
		t.Cleanup(func() { nd.r.Shutdown().Error() })
	}
	return nodes
}

func (n *pNode) id() string   { return n.sid }
func (n *pNode) addr() string { return string(n.trans.LocalAddr()) }
func (n *pNode) apply(cmd string) (uint64, interface{}, error) {
	f := n.r.Apply([]byte(cmd), opTimeout)
	err := f.Error()
	return f.Index(), f.Response(), err
}
func (n *pNode) barrier() (uint64, error) {
	f := n.r.Barrier(opTimeout)
	err := f.Error()
	if idx, ok := f.(raftimpl.IndexFuture); ok {
		return idx.Index(), err
	}
	return 0, err
}
func (n *pNode) verifyLeader() error { return n.r.VerifyLeader().Error() }
func (n *pNode) snapshot() (uint64, error) {
	f := n.r.Snapshot()
	if err := f.Error(); err != nil {
		return 0, err
	}
	meta, rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	rc.Close()
	return meta.Index, nil
}
func (n *pNode) addVoter(id, addr string, prev uint64) (uint64, error) {
	f := n.r.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), prev, opTimeout)
	err := f.Error()
	return f.Index(), err
}
func (n *pNode) addNonvoter(id, addr string, prev uint64) (uint64, error) {
	f := n.r.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), prev, opTimeout)
	err := f.Error()
	return f.Index(), err
}
func (n *pNode) demoteVoter(id string, prev uint64) (uint64, error) {
	f := n.r.DemoteVoter(raft.ServerID(id), prev, opTimeout)
	err := f.Error()
	return f.Index(), err
}
func (n *pNode) removeServer(id string, prev uint64) (uint64, error) {
	f := n.r.RemoveServer(raft.ServerID(id), prev, opTimeout)
	err := f.Error()
	return f.Index(), err
}
func (n *pNode) transfer() error { return n.r.LeadershipTransfer().Error() }
func (n *pNode) transferTo(id, addr string) error {
	return n.r.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(addr)).Error()
}
func (n *pNode) configuration() (string, uint64, error) {
	f := n.r.GetConfiguration()
	if err := f.Error(); err != nil {
		return "", f.Index(), err
	}
	var s []string
	for _, srv := range f.Configuration().Servers {
		s = append(s, fmt.Sprintf("%s/%s/%s", srv.ID, srv.Address, srv.Suffrage))
	}
	sort.Strings(s)
	return strings.Join(s, ","), f.Index(), nil
}
func (n *pNode) stats() map[string]string { return n.r.Stats() }
func (n *pNode) lastIndex() uint64        { return n.r.LastIndex() }
func (n *pNode) appliedIndex() uint64     { return n.r.AppliedIndex() }
func (n *pNode) commitIndex() uint64      { return n.r.CommitIndex() }
func (n *pNode) state() string            { return n.r.State().String() }
func (n *pNode) leader() (string, string) {
	a, id := n.r.LeaderWithID()
	return string(a), string(id)
}
func (n *pNode) addPeer(addr string) error { return n.r.AddPeer(raft.ServerAddress(addr)).Error() }
func (n *pNode) removePeer(addr string) error {
	return n.r.RemovePeer(raft.ServerAddress(addr)).Error()
}
func (n *pNode) shutdown() error { return n.r.Shutdown().Error() }

var pontoon = engine{
	name: "pontoon",
	sentinels: map[string]error{
		"ErrLeader": raft.ErrLeader, "ErrNotLeader": raft.ErrNotLeader, "ErrNotVoter": raft.ErrNotVoter,
		"ErrLeadershipLost": raft.ErrLeadershipLost, "ErrAbortedByRestore": raft.ErrAbortedByRestore,
		"ErrRaftShutdown": raft.ErrRaftShutdown, "ErrEnqueueTimeout": raft.ErrEnqueueTimeout,
		"ErrNothingNewToSnapshot": raft.ErrNothingNewToSnapshot, "ErrUnsupportedProtocol": raft.ErrUnsupportedProtocol,
		"ErrCantBootstrap": raft.ErrCantBootstrap, "ErrLeadershipTransferInProgress": raft.ErrLeadershipTransferInProgress,
		"ErrIncompatibleLogStore": raft.ErrIncompatibleLogStore, "ErrTransportShutdown": raft.ErrTransportShutdown,
		"ErrPipelineShutdown": raft.ErrPipelineShutdown, "ErrLogNotFound": raft.ErrLogNotFound,
		"ErrPipelineReplicationNotSupported": raft.ErrPipelineReplicationNotSupported,
	},
	newCluster: newPontoonCluster,
}

func (n *hNode) bootstrapAgain() error {
	return n.r.BootstrapCluster(hraft.Configuration{Servers: []hraft.Server{{ID: hraft.ServerID(n.sid), Address: n.trans.LocalAddr()}}}).Error()
}

func (n *hNode) str() string { return n.r.String() }

func (n *hNode) snapshotAndRestore() (uint64, error) {
	f := n.r.Snapshot()
	if err := f.Error(); err != nil {
		return 0, err
	}
	meta, rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	before := n.r.LastIndex()
	if err := n.r.Restore(meta, rc, opTimeout); err != nil {
		return 0, err
	}
	return n.r.LastIndex() - before, nil
}

func (n *pNode) bootstrapAgain() error {
	return n.r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: raft.ServerID(n.sid), Address: n.trans.LocalAddr()}}}).Error()
}

func (n *pNode) str() string { return n.r.String() }

func (n *pNode) snapshotAndRestore() (uint64, error) {
	f := n.r.Snapshot()
	if err := f.Error(); err != nil {
		return 0, err
	}
	meta, rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	before := n.r.LastIndex()
	if err := n.r.Restore(meta, rc, opTimeout); err != nil {
		return 0, err
	}
	return n.r.LastIndex() - before, nil
}
