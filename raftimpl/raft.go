package raftimpl

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// Raft is one node of a Raft cluster. Its methods are safe for concurrent
// use.
type Raft struct {
	// RestoreCommittedLogs is Config.RestoreCommittedLogs, exported as in
	// hashicorp/raft's Raft. Read only: changing it has no effect.
	RestoreCommittedLogs bool

	conf    Config
	logger  hclog.Logger
	metrics metricSink
	// mx is the bookkeeping of metrics and operator logs (metrics.go).
	mx metricState
	// hdr is the RPC header this node sends (header()); built once.
	hdr       transport.RPCHeader
	hdrOnce   sync.Once
	fsm       raft.FSM
	logs      logstore.LogStore
	stable    logstore.StableStore
	snaps     snapshot.SnapshotStore
	trans     transport.Transport
	localID   raft.ServerID
	localAddr raft.ServerAddress
	// maxEntrySize is the effective Config.MaxEntrySize; appendBytes bounds
	// one AppendEntries' entries (Config.entryLimits), appendEntries their
	// number (Config.appendEntriesLimit).
	maxEntrySize, appendBytes uint64
	appendEntries             int

	// Queues into the driver loop. All are bounded.
	proposeCh  chan *logFuture
	readCh     chan readReq
	reads      readInbox
	rpcCh      chan transport.RPC
	peerRespCh chan core.Message
	// ctrlCh carries the loop's rare inputs (driver_ctrl.go).
	ctrlCh chan ctrlReq

	// applyCh carries committed batches to the apply loop.
	applyCh chan []commitItem
	// Snapshot plumbing: user requests to the snapshot goroutine, FSM
	// snapshot and restore requests to the apply loop, finished snapshots
	// to the driver (which compacts the log).
	userSnapshotCh chan userSnapshotReq
	fsmSnapshotCh  chan fsmSnapshotReq
	fsmRestoreCh   chan fsmRestoreReq
	snapshotDoneCh chan snapshotInfo
	// recvSem admits one incoming snapshot at a time.
	recvSem chan struct{}
	// fsmState is owned by the apply loop once it runs.
	fsmState fsmPosition

	// Published state, written by the driver loop, read by any goroutine.
	state        atomic.Uint32 // raft.RaftState
	currentTerm  atomic.Uint64
	commitIndex  atomic.Uint64
	lastIndex    atomic.Uint64
	lastTerm     atomic.Uint64
	appliedIndex atomic.Uint64 // written by the apply loop
	// appliedCh is closed and replaced whenever appliedIndex moves.
	appliedMu   sync.Mutex
	appliedCh   chan struct{}
	lastContact atomic.Int64 // unix nanos; 0 = never
	// writeStarted is when the driver's current store write began (unix
	// nanos), 0 when none is running; stalled is set by the watchdog when a
	// leader's write exceeded DiskStallTimeout.
	writeStarted atomic.Int64
	stalled      atomic.Bool
	// hbGate lets the transport answer a follower's routine heartbeats
	// without the driver loop (heartbeat.go).
	hbGate hbGate
	// late holds heartbeat answers no read waits for, stepped by the loop's
	// next pass (heartbeat.go); readRound is the lowest round a read
	// waits for, 0 if none.
	late      lateResponses
	readRound atomic.Uint64
	// epoch is the current leadership (leaderEpoch); an ended one while
	// this node does not lead. Replaced by the driver loop when it becomes
	// leader, before State reports it; ended by the loop or the watchdog.
	epoch atomic.Pointer[leaderEpoch]
	// lastSnapshotIndex and lastSnapshotTerm describe the newest snapshot.
	lastSnapshotIndex atomic.Uint64
	lastSnapshotTerm  atomic.Uint64
	reload            struct {
		sync.RWMutex
		rc ReloadableConfig
	}
	pub struct {
		sync.RWMutex
		leaderAddr raft.ServerAddress
		leaderID   raft.ServerID
		latest     raft.Configuration
		latestIdx  uint64
		committed  raft.Configuration
	}

	leaderCh chan bool

	observersMu sync.RWMutex
	observers   map[uint64]*Observer

	shutdownCh   chan struct{}
	loopDone     chan struct{} // closed when the driver loop has exited
	shutdownOnce sync.Once
	wg           sync.WaitGroup
}

// NewRaft builds a node from its parts and starts it. The stores are read
// for the persisted term, vote and log; the node starts as a follower. A
// node with no state waits for BootstrapCluster (on it or on a peer that
// then adds it).
func NewRaft(conf *Config, fsm raft.FSM, logs logstore.LogStore, stable logstore.StableStore,
	snaps snapshot.SnapshotStore, trans transport.Transport) (*Raft, error) {
	if err := ValidateConfig(conf); err != nil {
		return nil, err
	}
	if fsm == nil || logs == nil || stable == nil || snaps == nil || trans == nil {
		return nil, fmt.Errorf("%w: NewRaft needs an FSM, a LogStore, a StableStore, a SnapshotStore and a Transport", raft.ErrInvalidConfig)
	}
	c := *conf
	maxEntry, appendBytes, err := c.entryLimits(trans)
	if err != nil {
		return nil, err
	}
	r := &Raft{
		maxEntrySize:   maxEntry,
		appendBytes:    appendBytes,
		appendEntries:  c.appendEntriesLimit(trans),
		conf:           c,
		logger:         c.logger(),
		fsm:            fsm,
		logs:           logs,
		stable:         stable,
		snaps:          snaps,
		trans:          trans,
		localID:        c.LocalID,
		localAddr:      trans.LocalAddr(),
		proposeCh:      make(chan *logFuture, 4096),
		rpcCh:          make(chan transport.RPC, 256),
		readCh:         make(chan readReq, 256),
		ctrlCh:         make(chan ctrlReq),
		appliedCh:      make(chan struct{}),
		peerRespCh:     make(chan core.Message, 4096),
		applyCh:        make(chan []commitItem, 128),
		userSnapshotCh: make(chan userSnapshotReq),
		fsmSnapshotCh:  make(chan fsmSnapshotReq),
		fsmRestoreCh:   make(chan fsmRestoreReq),
		snapshotDoneCh: make(chan snapshotInfo, 1),
		recvSem:        make(chan struct{}, 1),
		leaderCh:       make(chan bool, 1),
		observers:      make(map[uint64]*Observer),
		shutdownCh:     make(chan struct{}),
		loopDone:       make(chan struct{}),
	}
	r.RestoreCommittedLogs = c.RestoreCommittedLogs
	notLeader := newLeaderEpoch()
	notLeader.end()
	r.epoch.Store(notLeader)
	r.metrics = metricSink{c.Metrics}

	r.reload.rc = ReloadableConfig{TrailingLogs: c.TrailingLogs, SnapshotInterval: c.SnapshotInterval,
		SnapshotThreshold: c.SnapshotThreshold, HeartbeatTimeout: c.HeartbeatTimeout, ElectionTimeout: c.ElectionTimeout}

	snap, err := r.restoreOnStart()
	if err != nil {
		return nil, err
	}
	if snap.index > 0 {
		r.fsmState = fsmPosition{index: snap.index, term: snap.term, configuration: snap.configuration,
			configurationIndex: snap.configurationIndex, snapshotIndex: snap.index}
		r.lastSnapshotIndex.Store(snap.index)
		r.lastSnapshotTerm.Store(snap.term)
		if !c.NoSnapshotRestoreOnStart {
			r.appliedIndex.Store(snap.index)
		}
	}

	if err := r.restoreCommittedLogs(); err != nil {
		return nil, err
	}

	d, err := newDriver(r, snap)
	if err != nil {
		return nil, err
	}
	trans.SetHeartbeatHandler(r.handleHeartbeat)

	r.wg.Add(5)
	go d.run()
	go r.runFSM()
	go r.runSnapshots()
	go r.runWatchdog()
	go r.runMetrics()
	return r, nil
}

// blackholeMetrics returns a metrics instance that discards everything.
func blackholeMetrics() *metrics.Metrics {
	mc := metrics.DefaultConfig("pontoon")
	mc.EnableRuntimeMetrics = false                   // it would start a goroutine per node
	m, _ := metrics.New(mc, &metrics.BlackholeSink{}) // cannot fail with these arguments
	return m
}

// reloadable returns the current reloadable configuration.
func (r *Raft) reloadable() ReloadableConfig {
	r.reload.RLock()
	defer r.reload.RUnlock()
	return r.reload.rc
}

// ReloadableConfig returns the current values of the reloadable fields.
func (r *Raft) ReloadableConfig() ReloadableConfig { return r.reloadable() }

// ReloadConfig replaces all five reloadable fields (zero values included),
// after validating the result like ValidateConfig.
func (r *Raft) ReloadConfig(rc ReloadableConfig) error {
	c := r.conf
	c.TrailingLogs, c.SnapshotInterval, c.SnapshotThreshold = rc.TrailingLogs, rc.SnapshotInterval, rc.SnapshotThreshold
	c.HeartbeatTimeout, c.ElectionTimeout = rc.HeartbeatTimeout, rc.ElectionTimeout
	if err := ValidateConfig(&c); err != nil {
		return err
	}
	r.reload.Lock()
	r.reload.rc = rc
	r.reload.Unlock()
	select {
	case r.ctrlCh <- reloadReq{rc}:
	case <-r.shutdownCh:
		return raft.ErrRaftShutdown
	}
	return nil
}

// Apply proposes cmd; see ApplyLog.
func (r *Raft) Apply(cmd []byte, timeout time.Duration) ApplyFuture {
	return r.ApplyLog(raft.Log{Data: cmd}, timeout)
}

// ApplyLog proposes a LogCommand entry with log's Data and Extensions (other
// fields are ignored). The future resolves with the FSM's response once the
// entry is committed and applied. The timeout covers the whole wait. On
// expiry, Error returns raft.ErrEnqueueTimeout itself (==) only if the entry
// never reached the log and never will (as hashicorp/raft, it was never
// dequeued); once it may be in the log, an error wrapping
// raft.ErrEnqueueTimeout ("it may still take effect"). On a node that is not
// the leader (or whose disk stalled: Config.DiskStallTimeout):
// raft.ErrNotLeader at once, and the entry is never appended. If leadership
// is lost before commit: raft.ErrLeadershipLost at once (the entry may or
// may not commit). An entry larger than Config.MaxEntrySize: an error
// wrapping raft.ErrEntryTooLarge, at once, and nothing is appended.
func (r *Raft) ApplyLog(log raft.Log, timeout time.Duration) ApplyFuture {
	return r.propose(raft.LogCommand, log, timeoutWaiter(timeout))
}

// ApplyContext is Apply bounded by ctx instead of a timeout.
func (r *Raft) ApplyContext(ctx context.Context, cmd []byte) ApplyFuture {
	return r.propose(raft.LogCommand, raft.Log{Data: cmd}, contextWaiter(ctx))
}

// ApplyLogContext is ApplyLog bounded by ctx instead of a timeout.
func (r *Raft) ApplyLogContext(ctx context.Context, log raft.Log) ApplyFuture {
	return r.propose(raft.LogCommand, log, contextWaiter(ctx))
}

// Barrier appends a barrier entry and resolves once the FSM has applied every
// entry before it. The timeout covers the whole wait.
func (r *Raft) Barrier(timeout time.Duration) Future {
	return r.propose(raft.LogBarrier, raft.Log{}, timeoutWaiter(timeout))
}

// BarrierContext is Barrier bounded by ctx.
func (r *Raft) BarrierContext(ctx context.Context) Future {
	return r.propose(raft.LogBarrier, raft.Log{}, contextWaiter(ctx))
}

func (r *Raft) propose(t raft.LogType, log raft.Log, w waiter) ApplyFuture {
	r.metrics.IncrCounter(proposeKey(t), 1)
	if err := r.checkEntrySize(log); err != nil {
		return errorFuture{err}
	}
	ep := r.epoch.Load()
	if ep.ended() {
		return errorFuture{r.noEpochErr()}
	}
	f := newLogFuture(w, r.loopDone, raft.Log{Type: t, Data: log.Data, Extensions: log.Extensions})
	f.lost = ep.lost
	if r.metrics.enabled() {
		f.created = time.Now()
	}
	if err := enqueue(r, r.proposeCh, f, w); err != nil {
		return errorFuture{err}
	}
	return f
}

// enqueue hands req to the driver loop through ch, waiting no longer than w
// allows. An error means req was not queued: raft.ErrRaftShutdown, or w's
// timeout error.
func enqueue[T any](r *Raft, ch chan<- T, req T, w waiter) error {
	if r.isShutdown() {
		return raft.ErrRaftShutdown
	}
	if w.ctx != nil && w.ctx.Err() != nil {
		// Already over (a cancelled context): fail rather than let select
		// pick the queue at random.
		return w.timeoutErr(false)
	}
	// The queue usually has room: no timer then.
	select {
	case ch <- req:
		return nil
	default:
	}
	expired, stop := w.expired()
	defer stop()
	select {
	case ch <- req:
		return nil
	case <-expired:
		return w.timeoutErr(false)
	case <-r.shutdownCh:
		return raft.ErrRaftShutdown
	}
}

// VerifyLeader confirms with a quorum that this node is still the leader. It
// resolves nil once a heartbeat round sent after the call is acknowledged by
// a quorum, or raft.ErrNotLeader.
func (r *Raft) VerifyLeader() Future {
	return r.verify(waiter{})
}

// VerifyLeaderContext is VerifyLeader bounded by ctx.
func (r *Raft) VerifyLeaderContext(ctx context.Context) Future {
	return r.verify(contextWaiter(ctx))
}

func (r *Raft) verify(w waiter) Future {
	r.metrics.IncrCounter(keyVerifyLeader, 1)
	ep := r.epoch.Load()
	if ep.ended() {
		return errorFuture{r.noEpochErr()}
	}
	f := newOpFuture(w, r.loopDone)
	f.lost = ep.lost
	if err := r.enqueueRead(readReq{kind: readVerify, future: f}, w); err != nil {
		return errorFuture{err}
	}
	return f
}

// State returns the node's role.
func (r *Raft) State() raft.RaftState { return raft.RaftState(r.state.Load()) }

// Leader returns the leader's address, "" if unknown. Deprecated: use
// LeaderWithID.
func (r *Raft) Leader() raft.ServerAddress {
	a, _ := r.LeaderWithID()
	return a
}

// LeaderWithID returns the leader's address and ID, empty if unknown.
func (r *Raft) LeaderWithID() (raft.ServerAddress, raft.ServerID) {
	r.pub.RLock()
	defer r.pub.RUnlock()
	return r.pub.leaderAddr, r.pub.leaderID
}

// LeaderCh returns a channel that receives true when this node becomes leader
// and false when it stops. It keeps only the latest value.
func (r *Raft) LeaderCh() <-chan bool { return r.leaderCh }

// CurrentTerm returns the current term.
func (r *Raft) CurrentTerm() uint64 { return r.currentTerm.Load() }

// LastIndex returns the last index in the log.
func (r *Raft) LastIndex() uint64 { return r.lastIndex.Load() }

// CommitIndex returns the commit index known to this node.
func (r *Raft) CommitIndex() uint64 { return r.commitIndex.Load() }

// AppliedIndex returns the last index applied to the FSM.
func (r *Raft) AppliedIndex() uint64 { return r.appliedIndex.Load() }

// LastContact returns when this node last heard from a leader (zero if
// never; now on the leader itself).
func (r *Raft) LastContact() time.Time {
	if r.State() == raft.Leader {
		return time.Now()
	}
	n := r.lastContact.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// GetConfiguration returns the latest configuration (possibly not yet
// committed) and the index of the entry that set it.
func (r *Raft) GetConfiguration() ConfigurationFuture {
	r.pub.RLock()
	defer r.pub.RUnlock()
	return &configurationFuture{configuration: r.pub.latest.Clone(), index: r.pub.latestIdx}
}

// String describes the node.
func (r *Raft) String() string {
	return fmt.Sprintf("Node at %s [%v]", r.localAddr, r.State())
}

// isShutdown reports whether Shutdown has been called.
// noEpochErr is the error of an operation that needs the leadership, made
// while no leadership epoch is live: raft.ErrRaftShutdown once the node shuts
// down or its loop has exited (which ends the last epoch), else
// raft.ErrNotLeader.
func (r *Raft) noEpochErr() error {
	select {
	case <-r.shutdownCh:
		return raft.ErrRaftShutdown
	case <-r.loopDone:
		return raft.ErrRaftShutdown
	default:
		return raft.ErrNotLeader
	}
}

func (r *Raft) isShutdown() bool {
	select {
	case <-r.shutdownCh:
		return true
	default:
		return false
	}
}

// Shutdown stops the node: its goroutines exit, pending operations fail with
// raft.ErrRaftShutdown, and the transport is closed if it implements
// transport.WithClose. It is idempotent; the future resolves when everything
// has stopped.
func (r *Raft) Shutdown() Future {
	f := newOpFuture(waiter{}, nil)
	go func() {
		r.shutdownOnce.Do(func() {
			close(r.shutdownCh)
		})
		r.wg.Wait()
		r.state.Store(uint32(raft.Shutdown))
		if c, ok := r.trans.(transport.WithClose); ok {
			c.Close()
		}
		f.respond(nil, 0, nil)
	}()
	return f
}

// checkEntrySize refuses an entry the engine could not replicate in one
// AppendEntries.
func (r *Raft) checkEntrySize(log raft.Log) error {
	if n := uint64(len(log.Data)) + uint64(len(log.Extensions)); n > r.maxEntrySize {
		return fmt.Errorf("%w: %d bytes of Data and Extensions, limit %d (Config.MaxEntrySize)", raft.ErrEntryTooLarge, n, r.maxEntrySize)
	}
	return nil
}
