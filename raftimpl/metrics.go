package raftimpl

import (
	"sync"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
)

// This file is where the engine's metrics go and what they are called. The
// keys are hashicorp/raft v1.8.0's where Pontoon measures the same thing
// (same name, kind and labels, so dashboards and alerts keep working), and
// raft.pontoon.* for the stages hashicorp/raft does not measure. Every key
// is listed in docs/metrics.md; TestMetricsDocumented checks the two agree.

// Metric keys. Package variables, not literals at the call sites: go-metrics
// takes the key as a slice, and a literal would be allocated on every call.
// go-metrics copies a key before changing it, so sharing them is safe.
var (
	keyApply         = []string{"raft", "apply"}
	keyBarrier       = []string{"raft", "barrier"}
	keyVerifyLeader  = []string{"raft", "verify_leader"}
	keyRestore       = []string{"raft", "restore"}
	keyStateFollower = []string{"raft", "state", "follower"}
	keyStateCand     = []string{"raft", "state", "candidate"}
	keyStateLeader   = []string{"raft", "state", "leader"}
	keyHBTimeout     = []string{"raft", "transition", "heartbeat_timeout"}
	keyLeaseTimeout  = []string{"raft", "transition", "leader_lease_timeout"}
	keyDiskStall     = []string{"raft", "transition", "disk_stall"}
	keyPeers         = []string{"raft", "peers"}
	keyCommitTime    = []string{"raft", "commitTime"}
	keyCommitNumLogs = []string{"raft", "commitNumLogs"}
	keyDispatchLog   = []string{"raft", "leader", "dispatchLog"}
	keyDispatchNum   = []string{"raft", "leader", "dispatchNumLogs"}
	keyLastContact   = []string{"raft", "leader", "lastContact"}
	keyOldestLogAge  = []string{"raft", "leader", "oldestLogAge"}

	keyFSMApply        = []string{"raft", "fsm", "apply"}
	keyFSMStoreConfig  = []string{"raft", "fsm", "store_config"}
	keyFSMApplyBatch   = []string{"raft", "fsm", "applyBatch"}
	keyFSMApplyBatchN  = []string{"raft", "fsm", "applyBatchNum"}
	keyFSMSnapshot     = []string{"raft", "fsm", "snapshot"}
	keyFSMRestore      = []string{"raft", "fsm", "restore"}
	keyFSMEnqueue      = []string{"raft", "fsm", "enqueue"}
	keyFSMLastRestore  = []string{"raft", "fsm", "lastRestoreDuration"}
	keyFSMApplied      = []string{"raft", "fsm", "applied"}
	keyRPCAppend       = []string{"raft", "rpc", "appendEntries"}
	keyRPCStoreLogs    = []string{"raft", "rpc", "appendEntries", "storeLogs"}
	keyRPCProcessLogs  = []string{"raft", "rpc", "appendEntries", "processLogs"}
	keyRPCHeartbeat    = []string{"raft", "rpc", "processHeartbeat"}
	keyRPCVote         = []string{"raft", "rpc", "requestVote"}
	keyRPCPreVote      = []string{"raft", "rpc", "requestPreVote"}
	keyRPCSnapshot     = []string{"raft", "rpc", "installSnapshot"}
	keyElectSelf       = []string{"raft", "candidate", "electSelf"}
	keyPreElectSelf    = []string{"raft", "candidate", "preElectSelf"}
	keySnapTake        = []string{"raft", "snapshot", "takeSnapshot"}
	keySnapCreate      = []string{"raft", "snapshot", "create"}
	keySnapPersist     = []string{"raft", "snapshot", "persist"}
	keyCompactLogs     = []string{"raft", "compactLogs"}
	keyRemoveOldLogs   = []string{"raft", "removeOldLogs"}
	keyRestoreUserSnap = []string{"raft", "restoreUserSnapshot"}

	// Pontoon's own stages.
	keyApplyQueued = []string{"raft", "pontoon", "apply", "queued"}
	keyFSMQueued   = []string{"raft", "pontoon", "fsm", "queued"}
)

// Per-peer replication keys (label peer_id, plus the legacy key with the
// peer's ID appended unless Config.NoLegacyTelemetry).
const (
	replAppendRPC = iota
	replAppendLogs
	replHeartbeat
	replSnapshot
	numReplKeys
)

var replKeys = [numReplKeys][]string{
	{"raft", "replication", "appendEntries", "rpc"},
	{"raft", "replication", "appendEntries", "logs"},
	{"raft", "replication", "heartbeat"},
	{"raft", "replication", "installSnapshot"},
}

// metricSink is where a node's metrics go: Config.Metrics, or when that is
// nil go-metrics' global instance, looked up at every call as hashicorp/raft
// does (so a sink installed with metrics.NewGlobal after NewRaft is used).
// While the global instance is still go-metrics' initial one (a black
// hole), nothing is emitted at all: the hot paths then cost an atomic load.
type metricSink struct{ m *metrics.Metrics }

// initialGlobal is go-metrics' global instance before any NewGlobal: its
// sink is a black hole (unless a NewGlobal ran in an init before this
// package's, which the FilterDefault check catches: go-metrics' initial
// instance has a zero Config, DefaultConfig sets FilterDefault).
var initialGlobal = metrics.Default()

// get returns the instance to emit to, nil if emitting is pointless.
func (s metricSink) get() *metrics.Metrics {
	if s.m != nil {
		return s.m
	}
	if g := metrics.Default(); g != initialGlobal || g.FilterDefault {
		return g
	}
	return nil
}

// enabled reports whether metrics go anywhere (a caller can skip the work
// of measuring).
func (s metricSink) enabled() bool { return s.get() != nil }

func (s metricSink) IncrCounter(key []string, v float32) {
	if m := s.get(); m != nil {
		m.IncrCounter(key, v)
	}
}

func (s metricSink) IncrCounterWithLabels(key []string, v float32, l []metrics.Label) {
	if m := s.get(); m != nil {
		m.IncrCounterWithLabels(key, v, l)
	}
}

func (s metricSink) SetGauge(key []string, v float32) {
	if m := s.get(); m != nil {
		m.SetGauge(key, v)
	}
}

func (s metricSink) AddSample(key []string, v float32) {
	if m := s.get(); m != nil {
		m.AddSample(key, v)
	}
}

// MeasureSince records the time since start; a zero start (from now while
// disabled) records nothing.
func (s metricSink) MeasureSince(key []string, start time.Time) {
	if start.IsZero() {
		return
	}
	if m := s.get(); m != nil {
		m.MeasureSince(key, start)
	}
}

// now returns the time to measure from: zero while metrics go nowhere, so
// hot paths skip reading the clock.
func (s metricSink) now() time.Time {
	if s.enabled() {
		return time.Now()
	}
	return time.Time{}
}

// measure records d as a timer, like MeasureSince of a start d ago.
func (s metricSink) measure(key []string, d time.Duration) {
	m := s.get()
	if m == nil {
		return
	}
	g := m.TimerGranularity
	if g <= 0 {
		g = time.Millisecond
	}
	m.AddSample(key, float32(d.Nanoseconds())/float32(g))
}

// measureLabels is measure with labels.
func (s metricSink) measureLabels(key []string, d time.Duration, l []metrics.Label) {
	m := s.get()
	if m == nil {
		return
	}
	g := m.TimerGranularity
	if g <= 0 {
		g = time.Millisecond
	}
	m.AddSampleWithLabels(key, float32(d.Nanoseconds())/float32(g), l)
}

// peerKeys are one peer's label and legacy keys, built once.
type peerKeys struct {
	labels []metrics.Label
	legacy [numReplKeys][]string
}

// metricState is the engine's bookkeeping for metrics and operator logs.
// peerKeys is safe for concurrent use; the other fields belong to the
// driver's loop.
type metricState struct {
	peerKeys sync.Map // raft.ServerID -> *peerKeys

	// ticks counts the driver's ticks (lease-check cadence, catch-up polls).
	ticks int
	// contact is when each peer last answered (any response), for
	// raft.leader.lastContact.
	contact map[raft.ServerID]time.Time
	// catchingUp holds the servers a leader watches until their log
	// reaches the leader's commit index, with when watching started.
	catchingUp map[raft.ServerID]catchUp
	// snapStarted is when the InstallSnapshot now with the core began
	// arriving, by the request's Context.
	snapStarted map[uint64]time.Time
}

type catchUp struct {
	since time.Time
	match uint64
}

// keysFor returns id's replication labels and legacy keys.
func (r *Raft) keysFor(id raft.ServerID) *peerKeys {
	if k, ok := r.mx.peerKeys.Load(id); ok {
		return k.(*peerKeys)
	}
	k := &peerKeys{labels: []metrics.Label{{Name: "peer_id", Value: string(id)}}}
	for i, base := range replKeys {
		k.legacy[i] = append(append([]string(nil), base...), string(id))
	}
	v, _ := r.mx.peerKeys.LoadOrStore(id, k)
	return v.(*peerKeys)
}

// replMeasure records a per-peer replication timer since start, and its
// legacy key.
func (r *Raft) replMeasure(id raft.ServerID, which int, start time.Time) {
	if start.IsZero() || !r.metrics.enabled() {
		return
	}
	d := time.Since(start)
	k := r.keysFor(id)
	r.metrics.measureLabels(replKeys[which], d, k.labels)
	if !r.conf.NoLegacyTelemetry {
		r.metrics.measure(k.legacy[which], d)
	}
}

// replCount adds n to a per-peer replication counter, and its legacy key.
func (r *Raft) replCount(id raft.ServerID, which int, n float32) {
	if !r.metrics.enabled() {
		return
	}
	k := r.keysFor(id)
	r.metrics.IncrCounterWithLabels(replKeys[which], n, k.labels)
	if !r.conf.NoLegacyTelemetry {
		r.metrics.IncrCounter(k.legacy[which], n)
	}
}

// noteAppend records one AppendEntries round trip to a peer that carried n
// entries and took d.
func (p *peer) noteAppend(start time.Time, n int) {
	p.r.replMeasure(p.id, replAppendRPC, start)
	p.r.replCount(p.id, replAppendLogs, float32(n))
}

// proposeKey is the counter an Apply or Barrier call increments.
func proposeKey(t raft.LogType) []string {
	if t == raft.LogBarrier {
		return keyBarrier
	}
	return keyApply
}

// noteProposed records how long each proposal of a batch waited before the
// driver dispatched it at now.
func (r *Raft) noteProposed(batch []*logFuture, now time.Time) {
	if !r.metrics.enabled() {
		return
	}
	for _, f := range batch {
		if !f.created.IsZero() {
			r.metrics.measure(keyApplyQueued, now.Sub(f.created))
		}
	}
}

// noteCommitted records the commit of a batch on its way to the apply loop
// (per entry with a local future: the time since its dispatch) and stamps
// the batch for the FSM queue wait. It returns now (zero while metrics go
// nowhere).
func (r *Raft) noteCommitted(batch []commitItem) time.Time {
	now := r.metrics.now()
	batch[0].queuedAt = now
	if now.IsZero() {
		return now
	}
	r.metrics.SetGauge(keyCommitNumLogs, float32(len(batch)))
	for _, it := range batch {
		if it.future != nil && !it.log.AppendedAt.IsZero() {
			r.metrics.measure(keyCommitTime, now.Sub(it.log.AppendedAt))
		}
	}
	return now
}

// noteWrite records a completed log write of n entries (merged from batches
// Readys) that took: the leader's dispatchLog, a follower's storeLogs.
func (d *driver) noteWrite(took time.Duration, n int) {
	r := d.r
	if d.soft.Role == raft.Leader {
		r.metrics.measure(keyDispatchLog, took)
		r.metrics.SetGauge(keyDispatchNum, float32(n))
	} else {
		r.metrics.measure(keyRPCStoreLogs, took)
	}
}

// noteRPC records the handling of a request from a peer, from its arrival
// to its response.
func (d *driver) noteRPC(req core.Message, started time.Time) {
	r := d.r
	switch req.Type {
	case core.MsgApp:
		r.metrics.MeasureSince(keyRPCAppend, started)
	case core.MsgHeartbeat:
		r.metrics.MeasureSince(keyRPCHeartbeat, started)
	case core.MsgVote:
		r.metrics.MeasureSince(keyRPCVote, started)
	case core.MsgPreVote:
		r.metrics.MeasureSince(keyRPCPreVote, started)
	case core.MsgSnap:
		if s, ok := r.mx.snapStarted[req.Context]; ok {
			started = s
			delete(r.mx.snapStarted, req.Context)
		}
		r.metrics.MeasureSince(keyRPCSnapshot, started)
	}
}

// noteSnapshotArrival remembers when the InstallSnapshot now pending under
// context began arriving, for raft.rpc.installSnapshot.
func (d *driver) noteSnapshotArrival(context uint64, started time.Time) {
	r := d.r
	if !r.metrics.enabled() {
		return
	}
	if r.mx.snapStarted == nil {
		r.mx.snapStarted = make(map[uint64]time.Time)
	}
	// NB: an entry whose request expired (expireRPCs) is never looked up:
	// drop those, so the map holds the pending one at most.
	clear(r.mx.snapStarted)
	r.mx.snapStarted[context] = started
}

// noteResponse records that a peer answered (raft.leader.lastContact).
func (d *driver) noteResponse(m core.Message) {
	if !m.IsResponse() || !d.r.metrics.enabled() {
		return
	}
	if d.r.mx.contact == nil {
		d.r.mx.contact = make(map[raft.ServerID]time.Time)
	}
	d.r.mx.contact[m.From] = time.Now()
}

// tick advances the core's clock and records what the tick caused: a
// follower's heartbeat timeout, a leader's lease timeout; on a leader, at
// each lease check, the time since each voter last answered.
func (d *driver) tick() {
	r := d.r
	before := d.core.SoftState()
	d.core.Tick()
	after := d.core.SoftState()
	r.mx.ticks++
	switch {
	case before.Role == raft.Follower && (after.Role != raft.Follower || (before.Leader != "" && after.Leader == "")):
		r.metrics.IncrCounter(keyHBTimeout, 1)
		if before.Leader != "" {
			r.logger.Warn("heartbeat timeout reached, no contact with the leader",
				"last-leader-id", before.Leader, "last-leader-addr", d.addrOf(before.Leader))
		}
	case before.Role == raft.Leader && after.Role != raft.Leader:
		r.metrics.IncrCounter(keyLeaseTimeout, 1)
		r.logger.Warn("failed to contact a quorum of voters within the leader lease: stepping down",
			"lease", r.conf.LeaderLeaseTimeout)
	}
	if after.Role != raft.Leader {
		return
	}
	c := &r.conf
	if r.mx.ticks%c.ticks(c.LeaderLeaseTimeout, 1) == 0 {
		d.sampleLastContact()
	}
	if len(r.mx.catchingUp) > 0 && r.mx.ticks%c.ticks(time.Second, 1) == 0 {
		d.checkCatchUp()
	}
}

// sampleLastContact adds one raft.leader.lastContact sample per voter.
func (d *driver) sampleLastContact() {
	r := d.r
	r.pub.RLock()
	servers := r.pub.latest.Servers
	r.pub.RUnlock()
	now := time.Now()
	for _, s := range servers {
		if s.ID == r.localID || s.Suffrage != raft.Voter {
			continue
		}
		if t, ok := r.mx.contact[s.ID]; ok {
			r.metrics.AddSample(keyLastContact, float32(now.Sub(t)/time.Millisecond))
		}
	}
}

// runMetrics emits the periodic metrics: raft.leader.oldestLogAge every 10s
// while this node leads. It first counts the start as a follower, as
// hashicorp/raft counts raft.state.follower when its loop starts.
func (r *Raft) runMetrics() {
	defer r.wg.Done()
	r.metrics.IncrCounter(keyStateFollower, 1)
	t := time.NewTicker(oldestLogAgeInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if r.State() != raft.Leader {
				continue
			}
			// As hashicorp/raft: 0 when the age is unknown.
			age := float32(0)
			var l raft.Log
			if first, err := r.logs.FirstIndex(); err == nil && first > 0 {
				if err := r.logs.GetLog(first, &l); err == nil && !l.AppendedAt.IsZero() {
					age = float32(time.Since(l.AppendedAt).Milliseconds())
				}
			}
			r.metrics.SetGauge(keyOldestLogAge, age)
		case <-r.shutdownCh:
			return
		}
	}
}

// oldestLogAgeInterval is how often raft.leader.oldestLogAge is emitted.
var oldestLogAgeInterval = 10 * time.Second

// noteEnqueued records the hand-off of committed entries to the apply loop
// that started at start: raft.fsm.enqueue, and on a follower
// raft.rpc.appendEntries.processLogs.
func (d *driver) noteEnqueued(start time.Time) {
	d.r.metrics.MeasureSince(keyFSMEnqueue, start)
	if d.soft.Role != raft.Leader {
		d.r.metrics.MeasureSince(keyRPCProcessLogs, start)
	}
}

// noteApplyBatch records one BatchingFSM.ApplyBatch call of n entries.
func (r *Raft) noteApplyBatch(start time.Time, n int) {
	r.metrics.MeasureSince(keyFSMApplyBatch, start)
	r.metrics.AddSample(keyFSMApplyBatchN, float32(n))
}
