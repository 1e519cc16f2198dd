package raftimpl

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
	"github.com/pontoon-raft/raft/transport"
)

// maxProposalBatch bounds the proposals taken into one Propose call (and so
// one StoreLogs transaction).
const maxProposalBatch = 1024

// driver owns the protocol core and runs the event loop. Every field is
// touched only by the loop goroutine.
type driver struct {
	r       *Raft
	core    *core.Core
	storage *logStorage
	ticker  *time.Ticker
	// sat measures the loop's busy share (raft.thread.main.saturation).
	sat *saturation

	// pending holds the futures of proposals not yet committed, by index.
	pending map[uint64]*logFuture
	// verifies holds read futures (VerifyLeader, ReadIndex, LeaseRead) by
	// request ID.
	verifies map[uint64]*opFuture
	// spareReads is the read inbox's other buffer (read.go), spareLate the
	// late heartbeat answers' (heartbeat.go).
	spareReads []readReq
	spareLate  []core.Message
	// readsAnswered is set when a pass answered reads (read.go).
	readsAnswered bool
	// confQueue holds membership changes the core could not take yet.
	confQueue []confChangeReq
	// transfer is the running leadership transfer's future, nil if none.
	transfer *opFuture
	// received maps the index of a snapshot received from a leader to its
	// ID in the SnapshotStore, until the core asks to install it.
	received map[uint64]string
	// holdingReceive is set while the incoming-snapshot semaphore is held
	// for a snapshot being handed to the core.
	holdingReceive bool
	nextID         uint64
	// gateHeld is set while the loop holds r.hbGate (heartbeat.go).
	gateHeld bool
	// rpcs holds requests from peers waiting for the core's response, by
	// the Context given to the core.
	rpcs map[uint64]pendingRPC
	// peers are the senders to the other servers, by ID.
	peers map[raft.ServerID]*peer
	// addrs maps server IDs to addresses: the configuration's, plus those
	// learned from request headers.
	addrs map[raft.ServerID]raft.ServerAddress

	// writer writes log entries while the loop goes on (writer.go,
	// driver_writes.go). writesSent counts the batches handed to it and
	// writesDone those it reported done; entriesInFlight counts the
	// entries between the two. persisted holds completed writes not yet
	// reported to the core (reports wait for the end of a Ready), and held
	// the responses that acknowledge entries, each waiting for the writes
	// sent before it.
	writer                 *logWriter
	writesSent, writesDone uint64
	entriesInFlight        int
	persisted              []*raft.Log
	held                   []heldResponse
	// stallEnded is set when a write completes after the watchdog reported
	// it stalled; reportPersisted then steps the core down.
	stallEnded bool
	// stallHandled is set once the loop stepped down for the stall the
	// watchdog reported (handleStall), until the stalled write completes.
	stallHandled bool

	soft    core.SoftState
	preVote bool
	// pubLatestIdx and pubCommittedIdx are the configuration indexes last
	// published; published is false until the first publish.
	pubLatestIdx, pubCommittedIdx uint64
	published                     bool
	// pubEver is set by the first publish (published is reset to force
	// one).
	pubEver bool
	// nextNotMemberWarn is when maybeWarnNotMember may warn again.
	nextNotMemberWarn time.Time
}

// pendingRPC is a request from a peer awaiting the core's answer.
type pendingRPC struct {
	rpc     transport.RPC
	req     core.Message
	started time.Time
}

func newDriver(r *Raft, snap snapshotInfo) (*driver, error) {
	storage, err := newLogStorage(commitStaging(r.logs, &r.commitIndex), r.stable, snap)
	if err != nil {
		return nil, err
	}
	d := &driver{
		r:        r,
		storage:  storage,
		pending:  make(map[uint64]*logFuture),
		verifies: make(map[uint64]*opFuture),
		received: make(map[uint64]string),
		rpcs:     make(map[uint64]pendingRPC),
		peers:    make(map[raft.ServerID]*peer),
		addrs:    make(map[raft.ServerID]raft.ServerAddress),
	}
	_, hasPreVote := r.trans.(transport.WithPreVote)
	d.preVote = hasPreVote && !r.conf.PreVoteDisabled
	if err := d.newCore(); err != nil {
		return nil, err
	}
	if err := d.checkIdentity(); err != nil {
		for _, p := range d.peers {
			p.stop()
		}
		return nil, err
	}
	// The start-up warning (if any) was just logged.
	d.nextNotMemberWarn = time.Now().Add(notMemberWarnEvery)
	return d, nil
}

// newCore (re)creates the core from what is stored.
func (d *driver) newCore() error {
	c := &d.r.conf
	seed := c.Seed
	if seed == 0 {
		seed = rand.Int63()
	}
	cfg := core.Config{
		ID:               c.LocalID,
		ElectionTick:     c.ticks(c.HeartbeatTimeout, 2),
		HeartbeatTick:    1,
		LeaseTick:        c.ticks(c.LeaderLeaseTimeout, 1),
		MaxAppendEntries: d.r.appendEntries,
		MaxInflight:      c.MaxInflightAppends,
		MaxSizePerMsg:    d.r.appendBytes,
		EntryOverhead:    entryOverhead,
		PreVote:          d.preVote,
		Seed:             seed,
		LeaseReads:       c.LeaseReads,
		LeaseDriftTicks:  c.leaseDriftTicks(),
	}
	if cfg.MaxInflight == 0 {
		cfg.MaxInflight = 16
	}
	co, err := core.New(cfg, d.storage)
	if err != nil {
		return fmt.Errorf("starting the protocol core: %w", err)
	}
	d.core = co
	d.publish()
	return nil
}

// run is the event loop.
func (d *driver) run() {
	r := d.r
	defer r.wg.Done()
	defer func() {
		close(r.loopDone)
		// NB: after loopDone is closed: a future bound to a leadership
		// waits on its epoch and not on loopDone (opFuture.Error), and
		// finds loopDone closed when the epoch ends here.
		r.epoch.Load().end()
	}()
	defer d.stop()
	d.ticker = time.NewTicker(r.conf.tickInterval())
	defer d.ticker.Stop()
	defer d.closeGate()
	trans := r.trans.Consumer()
	d.writer = newLogWriter(commitStaging(r.logs, &r.commitIndex), &r.writeStarted)
	d.storage.compactor = newCompactor(r.logs, r.logger, r.metrics)
	d.sat = newSaturation(keyMainSaturation, r.metrics)

	for {
		// Proposals (and, on a follower, AppendEntries) wait while the disk
		// is far behind.
		hot := hotChans{propose: r.proposeCh, consumer: trans, rpc: r.rpcCh}
		if d.entriesInFlight >= maxEntriesInFlight || d.writesInFlight() >= maxWritesInFlight {
			hot.propose, hot.consumer, hot.rpc = nil, nil, nil
		}
		// The transport answers routine heartbeats while the loop waits.
		d.parkReads()
		d.releaseGate()
		if stop := d.waitEvent(hot); stop {
			return
		}
		d.stepLateAnswers()
		d.takeReads()
		if len(d.confQueue) > 0 {
			d.proposeConfChanges()
		}
		if err := d.processReady(); err != nil {
			d.persistFailed(err)
			return
		}
		d.releaseReceive()
		d.sat.waiting()
	}
}

func (d *driver) step(m core.Message) {
	d.noteResponse(m)
	if err := d.core.Step(m); err != nil {
		d.r.logger.Debug("core rejected message", "type", m.Type, "from", m.From, "error", err)
	}
}

// drainRPCs steps the requests already waiting, so a follower persists the
// entries of several AppendEntries in one Ready (one StoreLogs, one fsync).
func (d *driver) drainRPCs(consumer <-chan transport.RPC) {
	for i := 0; i < 256; i++ {
		select {
		case rpc := <-consumer:
			d.handleRPC(rpc)
		case rpc := <-d.r.rpcCh:
			d.handleRPC(rpc)
		default:
			return
		}
	}
}

// drainPeerResponses steps every response already waiting, so one Ready
// covers them all.
func (d *driver) drainPeerResponses() {
	for i := 0; i < 256; i++ {
		select {
		case m := <-d.r.peerRespCh:
			d.step(m)
		default:
			return
		}
	}
}

// proposeBatch takes f and every proposal already queued (up to
// maxProposalBatch) into one Propose call.
func (d *driver) proposeBatch(first *logFuture) {
	lost := d.boundEpoch()
	batch := make([]*logFuture, 0, 1+min(len(d.r.proposeCh), maxProposalBatch-1))
	// NB: a proposal whose caller gave up before this point (a plain
	// ErrEnqueueTimeout or ErrNotLeader) is dropped: it must never run.
	if first.claim(lost) {
		batch = append(batch, first)
	}
	for len(batch) < maxProposalBatch {
		select {
		case f := <-d.r.proposeCh:
			if f.claim(lost) {
				batch = append(batch, f)
			}
			continue
		default:
		}
		break
	}
	if len(batch) == 0 {
		return
	}
	now := time.Now()
	logs := make([]*raft.Log, len(batch))
	for i, f := range batch {
		f.log.AppendedAt = now
		logs[i] = &f.log
	}
	d.r.noteProposed(batch, now)
	firstIdx, _, err := d.core.Propose(logs)
	if err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			err = raft.ErrNotLeader
		}
		for _, f := range batch {
			f.respond(err, 0, nil)
		}
		return
	}
	for i, f := range batch {
		d.pending[firstIdx+uint64(i)] = f
	}
}

// processReady does what the core asks, in the order the contract requires
// (see internal/core/api.go).
func (d *driver) processReady() error {
	for d.core.HasReady() {
		rd := d.core.Ready()
		if d.core.CanAdvanceAsync(rd) {
			if !d.readyAsync(rd) {
				return nil // shutting down
			}
			continue
		}
		// Done in place, after the writes in flight.
		if err := d.flushWrites(); err != nil {
			if errors.Is(err, raft.ErrRaftShutdown) {
				return nil
			}
			return err
		}
		d.r.writeStarted.Store(time.Now().UnixNano())
		if rd.HardState != nil {
			var voteAddr []byte
			if rd.HardState.Vote != "" {
				voteAddr = d.r.trans.EncodePeer(rd.HardState.Vote, d.addrOf(rd.HardState.Vote))
			}
			if err := d.storage.setHardState(*rd.HardState, voteAddr); err != nil {
				return err
			}
		}
		d.r.writeStarted.Store(0)
		if rd.Snapshot != nil {
			if err := d.installSnapshot(*rd.Snapshot); err != nil {
				return err
			}
		}
		// Requests go out now, in parallel with the local log write.
		for i := range rd.Messages {
			if !rd.Messages[i].IsResponse() {
				d.send(rd.Messages[i])
			}
		}
		committed := rd.CommittedEntries
		if len(rd.Entries) > 0 && len(committed) > 0 && committed[0].Index < rd.Entries[0].Index {
			// NB: committed entries that are not in this Ready's write
			// were stored before it (committed entries are never
			// replaced): the apply loop takes them now rather than after
			// the write. Those in the write wait for it (step 5).
			n := 0
			for n < len(committed) && committed[n].Index < rd.Entries[0].Index {
				n++
			}
			if !d.deliverCommitted(committed[:n]) {
				return nil // shutting down
			}
			committed = committed[n:]
		}
		if len(rd.Entries) > 0 {
			start := time.Now()
			d.r.writeStarted.Store(start.UnixNano())
			err := d.storage.append(rd.Entries)
			d.r.writeStarted.Store(0)
			if err != nil {
				return err
			}
			d.noteWrite(time.Since(start), len(rd.Entries))
		}
		if d.r.stalled.Load() {
			d.stallEnded = true // acted on after Advance (reportPersisted)
		}
		for i := range rd.Messages {
			if rd.Messages[i].IsResponse() {
				d.respond(rd.Messages[i])
			}
		}
		// Committed entries first: a leader that steps down in this same
		// Ready (e.g. it removed itself) still resolves what committed.
		if len(committed) > 0 {
			if !d.deliverCommitted(committed) {
				return nil // shutting down
			}
		}
		d.finishReady(rd)
		d.core.Advance(rd)
		d.reportPersisted()
		d.publish()
	}
	return nil
}

// finishReady publishes a Ready's role change and answers its transfer and
// reads (steps after the writes and committed entries).
func (d *driver) finishReady(rd core.Ready) {
	if rd.SoftState != nil {
		d.changeSoftState(*rd.SoftState)
	}
	if rd.Transfer != nil {
		d.finishTransfer(rd.Transfer.OK)
	}
	if len(rd.ReadStates) > 0 {
		d.readsAnswered = true
	}
	for _, rs := range rd.ReadStates {
		if f, ok := d.verifies[rs.ID]; ok {
			delete(d.verifies, rs.ID)
			if rs.OK {
				f.respond(nil, rs.Index, nil)
			} else {
				f.respond(raft.ErrNotLeader, 0, nil)
			}
		}
	}
}

// deliverCommitted hands committed entries with their futures to the apply
// loop. It blocks while the apply loop is behind (backpressure), but never
// past shutdown.
func (d *driver) deliverCommitted(entries []*raft.Log) bool {
	// NB: the core starts with its applied index at the snapshot the FSM
	// was restored from, so no entry it covers comes here again.
	d.r.commitIndex.Store(entries[len(entries)-1].Index)
	batch := make([]commitItem, len(entries))
	for i, e := range entries {
		batch[i].log = e
		if f, ok := d.pending[e.Index]; ok {
			delete(d.pending, e.Index)
			if &f.log == e || (f.log.Term == e.Term && f.log.Index == e.Index) {
				f.committed.Store(true)
				batch[i].future = f
			} else {
				f.respond(raft.ErrLeadershipLost, 0, nil)
			}
		}
	}
	start := d.r.noteCommitted(batch)
	select {
	case d.r.applyCh <- batch:
		d.noteEnqueued(start)
		return true
	case <-d.r.shutdownCh:
		return false
	}
}

// changeSoftState publishes a role or leader change and its effects.
func (d *driver) changeSoftState(ss core.SoftState) {
	r := d.r
	old := d.soft
	d.soft = ss
	if ss.Role != old.Role {
		if ss.Role == raft.Leader {
			// NB: before State reports it: an Apply that sees Leader is
			// bound to this leadership. It ends in leadershipLost.
			r.epoch.Store(newLeaderEpoch())
		}
		r.state.Store(uint32(ss.Role))
		r.metrics.IncrCounter(stateMetricKey(ss.Role), 1)
		r.logger.Info("entering state", "state", ss.Role, "term", d.core.Status().Term)
		r.observe(ss.Role)
		if old.Role == raft.Leader {
			d.writer.spaced.Store(false)
			d.leadershipLost()
			d.notifyLeader(false)
			d.maybeShutdownOnRemove()
		}
		if ss.Role == raft.Leader {
			d.notifyLeader(true)
		}
	}
	if ss.Leader != old.Leader {
		addr := d.addrOf(ss.Leader)
		if ss.Leader == "" {
			addr = ""
		}
		r.pub.Lock()
		r.pub.leaderID = ss.Leader
		r.pub.leaderAddr = addr
		r.pub.Unlock()
		r.observe(LeaderObservation{Leader: addr, LeaderAddr: addr, LeaderID: ss.Leader})
	}
	d.noteSoftState(old, ss)
}

func stateMetricKey(s raft.RaftState) []string {
	switch s {
	case raft.Leader:
		return keyStateLeader
	case raft.Candidate:
		return keyStateCand
	}
	return keyStateFollower
}

// leadershipLost fails every operation waiting on this node's leadership:
// what it appended (and VerifyLeader, as hashicorp/raft) with
// raft.ErrLeadershipLost, reads and membership changes not yet appended with
// raft.ErrNotLeader.
func (d *driver) leadershipLost() {
	// NB: the loop settles what it holds first, then ends the epoch, so
	// each of them gets the loop's answer, not the epoch's.
	d.failOps(raft.ErrLeadershipLost, raft.ErrNotLeader)
	d.r.epoch.Load().end()
}

// failOps fails every operation the loop holds: proposals awaiting commit
// (and VerifyLeader calls: they are bound to the leadership) with
// pendingErr, other reads and queued membership changes with otherErr.
func (d *driver) failOps(pendingErr, otherErr error) {
	d.failPending(pendingErr)
	for id, f := range d.verifies {
		f.mu.Lock()
		bound := f.lost != nil
		f.mu.Unlock()
		if bound {
			f.respond(pendingErr, 0, nil)
		} else {
			f.respond(otherErr, 0, nil)
		}
		delete(d.verifies, id)
	}
	for _, req := range d.confQueue {
		req.future.respond(otherErr, 0, nil)
	}
	d.confQueue = nil
}

// boundEpoch returns the lost channel of the leadership that operations the
// loop takes now are bound to: nil when the core does not lead. A stall the
// watchdog reported is acted on first.
func (d *driver) boundEpoch() <-chan struct{} {
	if d.r.stalled.Load() {
		d.handleStall()
	}
	if d.soft.Role != raft.Leader {
		return nil
	}
	return d.r.epoch.Load().lost
}

// failPending fails every proposal awaiting commit with err.
func (d *driver) failPending(err error) {
	for idx, f := range d.pending {
		f.respond(err, 0, nil)
		delete(d.pending, idx)
	}
}

func (d *driver) notifyLeader(isLeader bool) {
	r := d.r
	r.setLeaderCh(isLeader)
	if r.conf.NotifyCh != nil {
		select {
		case r.conf.NotifyCh <- isLeader:
		case <-r.shutdownCh:
		}
	}
}

// publish copies the core's status into the fields other goroutines read,
// and reconciles the peer senders with the latest configuration.
func (d *driver) publish() {
	r := d.r
	r.currentTerm.Store(d.core.Term())
	r.lastIndex.Store(d.core.LastIndex())
	r.lastTerm.Store(d.core.LastTerm())
	latestIdx, committedIdx := d.core.ConfigurationIndexes()
	if latestIdx == d.pubLatestIdx && committedIdx == d.pubCommittedIdx && d.published {
		return
	}
	// Membership changed: copy it out (Status clones) and reconcile peers.
	prevLatest, prevCommitted, wasPublished := d.pubLatestIdx, d.pubCommittedIdx, d.pubEver
	d.pubLatestIdx, d.pubCommittedIdx, d.published, d.pubEver = latestIdx, committedIdx, true, true
	st := d.core.Status()
	d.noteConfiguration(st, prevLatest, prevCommitted, !wasPublished)
	r.pub.Lock()
	r.pub.latest = st.Latest
	r.pub.latestIdx = st.LatestIndex
	r.pub.committed = st.Committed
	r.pub.Unlock()
	for _, s := range st.Latest.Servers {
		d.addrs[s.ID] = s.Address
	}
	d.reconcilePeers(st.Latest)
}

// addrOf returns the address of a server, "" if unknown.
func (d *driver) addrOf(id raft.ServerID) raft.ServerAddress {
	if id == d.r.localID {
		return d.r.localAddr
	}
	return d.addrs[id]
}

// expireRPCs answers requests the core has held too long (it ignored them,
// or their answer waits on a disk that does not complete) with an error, so
// the sender's transport call does not hang.
func (d *driver) expireRPCs() {
	limit := 2 * d.r.conf.ElectionTimeout
	now := time.Now()
	for id, p := range d.rpcs {
		if now.Sub(p.started) > limit {
			delete(d.rpcs, id)
			p.rpc.Respond(nil, fmt.Errorf("request not answered within %s", limit))
		}
	}
}

// stop releases everything when the loop exits.
func (d *driver) stop() {
	for _, p := range d.peers {
		p.stop()
	}
	if d.writer != nil {
		d.writer.stop()
	}
	if d.storage.compactor != nil {
		d.storage.compactor.stop()
	}
	d.closeReads()
	d.failOps(raft.ErrRaftShutdown, raft.ErrRaftShutdown)
	for id, p := range d.rpcs {
		p.rpc.Respond(nil, raft.ErrRaftShutdown)
		delete(d.rpcs, id)
	}
	if d.transfer != nil {
		d.transfer.respond(raft.ErrRaftShutdown, 0, nil)
	}
	// Fail proposals still queued.
	for {
		select {
		case f := <-d.r.proposeCh:
			f.respond(raft.ErrRaftShutdown, 0, nil)
		case req := <-d.r.readCh:
			if req.future != nil { // not a kick
				req.future.respond(raft.ErrRaftShutdown, 0, nil)
			}
		case req := <-d.r.ctrlCh:
			req.shutdown(d.r)
		default:
			return
		}
	}
}

// snapshotTaken records a durable snapshot, compacts the log behind it
// (keeping TrailingLogs entries for followers slightly behind) and tells the
// core.
func (d *driver) snapshotTaken(info snapshotInfo) {
	// The snapshot may cover entries still being written (a leader applies
	// what the followers committed): compaction waits for the writes.
	if err := d.flushWrites(); err != nil {
		d.r.logger.Error("log compaction skipped", "error", err)
		return
	}
	d.reportPersisted()
	start := time.Now()
	if err := d.storage.compact(info, d.r.reloadable().TrailingLogs); err != nil {
		d.r.logger.Error("log compaction failed", "error", err)
		return
	}
	d.core.ReportSnapshot(*toCoreSnapshot(info))
	d.r.metrics.MeasureSince(keyCompactLogs, start)
}

// startRead hands a read to the core; its ReadState resolves the future.
func (d *driver) startRead(req readReq) {
	if req.future == nil {
		return // a kick (read.go): the loop takes the inbox after this event
	}
	var lost <-chan struct{}
	if req.kind == readVerify {
		lost = d.boundEpoch()
	}
	if !req.future.claim(lost) {
		return // its caller gave up
	}
	d.nextID++
	d.verifies[d.nextID] = req.future
	switch req.kind {
	case readVerify:
		d.core.VerifyLeader(d.nextID)
	case readIndex:
		d.core.ReadIndex(d.nextID)
	case readLease:
		d.core.LeaseRead(d.nextID)
	}
}

// maybeShutdownOnRemove shuts down a leader that stepped down because the
// committed configuration no longer gives it a vote, if so configured.
func (d *driver) maybeShutdownOnRemove() {
	if !d.r.conf.ShutdownOnRemove {
		return
	}
	st := d.core.Status()
	if st.CommittedIndex == 0 || raft.HasVote(st.Committed, d.r.localID) {
		return
	}
	d.r.logger.Info("no longer a voter in the committed configuration: shutting down")
	// Let the apply loop resolve what committed (the removal among it)
	// before stopping, for at most an election timeout.
	r, through := d.r, d.r.commitIndex.Load()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), r.conf.ElectionTimeout)
		r.waitApplied(ctx, through)
		cancel()
		r.Shutdown()
	}()
}

// setLeaderCh publishes v on LeaderCh, replacing an unread value: the
// channel keeps only the latest.
func (r *Raft) setLeaderCh(v bool) {
	for {
		select {
		case r.leaderCh <- v:
			return
		default:
		}
		select {
		case <-r.leaderCh:
		default:
		}
	}
}
