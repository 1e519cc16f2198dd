package core

import (
	"errors"
	"fmt"

	raft "github.com/pontoon-raft/raft"
)

// The simulator's issue 5 workload (sim_test.go calls in): local snapshots
// and compaction, InstallSnapshot, user restores, membership changes through
// ProposeConfChange (with spare servers to add, staging, removing the
// leader), leadership transfers, StepDown, and reads of three kinds
// (VerifyLeader, LeaseRead, ReadIndex) checked against acknowledged writes.

// protoParams are the issue 5 parameters, drawn from the seed.
type protoParams struct {
	// snapshot is the per-tick chance that a node takes a snapshot.
	snapshot float64
	// spares are servers outside the bootstrap configuration, to be added.
	spares int
	// confChange is the per-tick chance of a ProposeConfChange.
	confChange float64
	// transfer, restore and stepDown are per-tick chances on the leader.
	transfer, restore, stepDown float64
	// isolate is the per-tick chance of cutting the leader off from
	// everyone (while no other partition runs): a new leader is elected
	// while the old one still believes it leads, until check-quorum.
	isolate float64
	// asyncWrites has the leader acknowledge appends with AdvanceAsync and
	// complete the writes later (sim_async_test.go).
	asyncWrites bool
}

func drawProtoParams(p *simParams, rng interface {
	Intn(int) int
	Float64() float64
}) {
	p.proto = protoParams{
		snapshot:   []float64{0, 0.01, 0.05}[rng.Intn(3)],
		spares:     rng.Intn(3),
		confChange: []float64{0, 0.01, 0.04}[rng.Intn(3)],
		transfer:   []float64{0, 0.005, 0.02}[rng.Intn(3)],
		restore:    []float64{0, 0, 0, 0, 0, 0.01}[rng.Intn(6)],
		stepDown:   []float64{0, 0.003}[rng.Intn(2)],
		isolate:    []float64{0, 0.01, 0.03}[rng.Intn(3)],
	}
	p.proto.asyncWrites = rng.Intn(3) != 0
	p.cfg.LeaseReads = rng.Intn(2) == 0
	p.cfg.LeaseDriftTicks = rng.Intn(3)
	if rng.Intn(3) == 0 {
		// A slow check-quorum keeps deposed leaders around longer: the
		// lease (bounded by ElectionTick) must not trust it.
		p.cfg.LeaseTick = p.cfg.ElectionTick + rng.Intn(p.cfg.ElectionTick+1)
	}
	// NB: a user restore is not fault-tolerant until the followers have
	// the snapshot (as with hashicorp/raft, see RestoreLocal): restores run
	// only where leadership cannot change under them.
	if p.proto.restore > 0 {
		p.crash, p.partition, p.loss = 0, 0, 0
		p.proto.isolate, p.proto.transfer, p.proto.stepDown = 0, 0, 0
	}
}

// simRead is a read a client made, until it returns.
type simRead struct {
	id   uint64
	kind string
	// maxCommit is the highest index known committed anywhere when the
	// read was called; acked the highest write acknowledged to its client
	// by then.
	maxCommit, acked uint64
	// index is the ReadState's, once OK.
	index uint64
}

// addSpares creates servers with empty storage (never bootstrapped), which
// configuration changes may add.
func (s *sim) addSpares() {
	base := len(s.nodes)
	for i := 0; i < s.p.proto.spares; i++ {
		id := raft.ServerID(fmt.Sprintf("n%d", base+i+1))
		s.nodes = append(s.nodes, &simNode{id: id, idx: base + i, store: &memStorage{}})
	}
}

// protoFaults runs the per-tick issue 5 events that are not client calls.
func (s *sim) protoFaults() {
	for _, n := range s.nodes {
		if n.core != nil && s.rng.Float64() < s.p.proto.snapshot {
			s.takeSnapshot(n)
		}
	}
	switch {
	case s.isolated && s.rng.Float64() < 0.03:
		s.group, s.isolated = nil, false
		s.tracef("HEAL isolation")
	case s.group == nil && s.rng.Float64() < s.p.proto.isolate:
		if l := s.leader(); l != nil {
			s.group, s.oneWay, s.isolated = map[raft.ServerID]int{l.id: 1}, false, true
			s.tracef("ISOLATE leader %s", l.id)
		}
	}
	switch {
	case s.cut != [2]raft.ServerID{} && s.rng.Float64() < 0.03:
		s.cut = [2]raft.ServerID{}
		s.tracef("HEAL link")
	case s.cut == [2]raft.ServerID{} && s.rng.Float64() < s.p.proto.isolate:
		// One broken link between the leader and a follower: the follower
		// times out and campaigns through the others, who still hear
		// from the leader.
		if l := s.leader(); l != nil {
			if f := s.nodes[s.rng.Intn(len(s.nodes))]; f != l {
				s.cut = [2]raft.ServerID{l.id, f.id}
				s.tracef("CUT link %s-%s", l.id, f.id)
			}
		}
	}
	if s.cut != [2]raft.ServerID{} && s.rng.Float64() < s.p.proto.isolate {
		// A quick restart: the server forgets the leader it acknowledged.
		if n := s.nodes[s.rng.Intn(len(s.nodes))]; n.core != nil && n.core.role != roleLeader {
			s.crash(n, "bounce")
			s.start(n)
			s.handleReady(n)
		}
	}
	if l := s.leader(); l != nil && s.rng.Float64() < s.p.proto.stepDown {
		s.tracef("%s STEP DOWN (stalled disk)", l.id)
		l.core.StepDown()
		s.handleReady(l)
	}
}

// takeSnapshot has n snapshot its FSM at a random applied index and compact
// its log, keeping a few trailing entries, as the driver does.
func (s *sim) takeSnapshot(n *simNode) {
	// The driver lets its log writes finish before it snapshots.
	s.completeWrites(n, len(n.writing))
	if n.core == nil {
		return // crashed meanwhile
	}
	st := n.store
	if n.lastApplied <= st.snap.Index {
		return
	}
	idx := st.snap.Index + 1 + uint64(s.rng.Intn(int(n.lastApplied-st.snap.Index)))
	term, err := st.Term(idx)
	if err != nil {
		s.failf("%s: snapshot at applied index %d: %v", n.id, idx, err)
		return
	}
	info := SnapshotInfo{Index: idx, Term: term, Configuration: st.snap.Configuration, ConfigurationIndex: st.snap.ConfigurationIndex}
	for i := idx; i >= st.firstLive() && i > st.snap.Index; i-- {
		if e := st.ents[i-1]; e.Type == raft.LogConfiguration {
			conf, err := raft.DecodeConfiguration(e.Data)
			if err == nil {
				info.Configuration, info.ConfigurationIndex = conf, i
				break
			}
		}
	}
	st.snap = info
	trailing := uint64(s.rng.Intn(5))
	if idx > trailing {
		st.compact(idx - trailing)
	}
	s.tracef("%s SNAPSHOT at %d/%d, log from %d", n.id, idx, term, st.firstLive())
	n.core.ReportSnapshot(info)
	s.handleReady(n)
}

// protoClients runs the per-tick issue 5 client calls.
func (s *sim) protoClients() {
	if l := s.leader(); l != nil && s.rng.Float64() < s.p.proto.confChange {
		s.proposeConfChange(l)
	}
	if l := s.leader(); l != nil && s.rng.Float64() < s.p.proto.transfer {
		s.transferLeadership(l)
	}
	if l := s.leader(); l != nil && s.rng.Float64() < s.p.proto.restore {
		s.restoreLocal(l)
	}
	if s.rng.Float64() < 0.1 || (s.isolated && s.rng.Float64() < 0.5) {
		// Reads that go to a node believing it leads, stale leaders
		// included: where leases could go wrong.
		var leaders []*simNode
		for _, n := range s.nodes {
			if n.core != nil && n.core.role == roleLeader {
				leaders = append(leaders, n)
			}
		}
		if len(leaders) > 0 {
			kind := -1
			if s.isolated {
				kind = 1
			}
			s.read(leaders[s.rng.Intn(len(leaders))], kind)
		}
	}
}

func (s *sim) proposeConfChange(l *simNode) {
	target := s.nodes[s.rng.Intn(len(s.nodes))]
	cc := ConfChange{
		Command: ConfChangeCommand(s.rng.Intn(int(Promote) + 1)),
		ID:      target.id,
		Address: raft.ServerAddress(target.id),
	}
	if s.rng.Intn(10) == 0 {
		cc.PrevIndex = l.core.conf.latestIndex() + 1 // stale
	}
	idx, err := l.core.ProposeConfChange(cc)
	switch {
	case err == nil:
		s.stats.confChanges++
		s.tracef("%s conf change %+v at %d -> %v", l.id, cc, idx, l.core.conf.latest().Servers)
		s.handleReady(l)
	case cc.PrevIndex != 0 && errors.Is(err, raft.ErrConfigurationChanged),
		errors.Is(err, ErrConfChangePending),
		errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrInvalidConfig),
		cc.Command == Promote && errors.Is(err, raft.ErrUnknownServer):
	default:
		s.failf("%s: ProposeConfChange(%+v): %v", l.id, cc, err)
	}
}

func (s *sim) transferLeadership(l *simNode) {
	var target raft.ServerID
	if s.rng.Intn(3) != 0 {
		target = s.nodes[s.rng.Intn(len(s.nodes))].id
	}
	err := l.core.TransferLeadership(target)
	switch {
	case err == nil:
		s.tracef("%s TRANSFER to %q", l.id, target)
		if s.group == nil && s.p.proto.isolate > 0 && s.rng.Intn(2) == 0 {
			// The old leader stops hearing from anyone (its messages still
			// go out): it must not trust its lease while the target takes
			// over.
			s.group, s.oneWay, s.isolated = map[raft.ServerID]int{l.id: 1}, true, true
			s.tracef("ISOLATE (one-way) leader %s", l.id)
		}
		s.handleReady(l)
	case errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrUnknownServer),
		errors.Is(err, errTransferToSelf):
	default:
		s.failf("%s: TransferLeadership(%q): %v", l.id, target, err)
	}
}

// restoreLocal plays the user's Restore on the leader: a snapshot of the
// current state made at a new index.
func (s *sim) restoreLocal(l *simNode) {
	s.completeWrites(l, len(l.writing))
	if l.core == nil || l.core.role != roleLeader {
		return // crashed or deposed meanwhile
	}
	c := l.core
	if err := c.CanRestore(); err != nil {
		return
	}
	info := SnapshotInfo{Index: c.LastIndex() + 1 + uint64(s.rng.Intn(3)), Term: c.term,
		Configuration: c.conf.committed.Clone(), ConfigurationIndex: c.conf.committedIndex}
	if err := c.RestoreLocal(info); err != nil {
		s.failf("%s: RestoreLocal after CanRestore: %v", l.id, err)
		return
	}
	l.store.installSnapshot(info)
	l.lastApplied = info.Index
	s.tracef("%s RESTORE at %d/%d", l.id, info.Index, info.Term)
	s.handleReady(l)
}

// read makes a read on n: 0 VerifyLeader, 1 LeaseRead, 2 ReadIndex, -1 any.
func (s *sim) read(n *simNode, kind int) {
	s.readID++
	r := simRead{id: s.readID, maxCommit: s.maxCommit, acked: s.ackedWrite}
	n.reads[r.id] = s.maxCommit
	n.readInfo[r.id] = r
	s.stats.reads++
	if kind < 0 {
		kind = s.rng.Intn(3)
	}
	switch kind {
	case 0:
		r.kind = "verify"
		n.readInfo[r.id] = r
		n.core.VerifyLeader(r.id)
	case 1:
		r.kind = "lease"
		n.readInfo[r.id] = r
		before := len(n.core.readStates)
		n.core.LeaseRead(r.id)
		if len(n.core.readStates) > before && n.core.readStates[before].OK {
			s.leaseHits++
		}
	default:
		r.kind = "readindex"
		n.readInfo[r.id] = r
		n.core.ReadIndex(r.id)
	}
	s.handleReady(n)
}

// readStatesDone records the OK reads of rd, to return once applied.
func (s *sim) readStatesDone(n *simNode, rd Ready) {
	for _, rs := range rd.ReadStates {
		r, ok := n.readInfo[rs.ID]
		delete(n.readInfo, rs.ID)
		if ok && rs.OK {
			r.index = rs.Index
			n.serving = append(n.serving, r)
		}
	}
}

// serveReads returns the reads whose index n has applied: the value read is
// the FSM's state, which covers every write up to n.lastApplied. No read may
// miss a write acknowledged before it began.
func (s *sim) serveReads(n *simNode) {
	keep := n.serving[:0]
	for _, r := range n.serving {
		if n.lastApplied < r.index {
			keep = append(keep, r)
			continue
		}
		if n.lastApplied < r.acked {
			s.failf("linearizable read: %s %s read %d returns the state at %d, but the write at %d was acknowledged before it began",
				n.id, r.kind, r.id, n.lastApplied, r.acked)
		}
	}
	n.serving = keep
}

// ackWrites acknowledges the commands n applies that n proposed (the
// leader's future resolves when its FSM applies the entry).
func (s *sim) ackWrites(n *simNode, e *raft.Log) {
	if e.Type == raft.LogCommand && s.proposer[string(e.Data)] == n.id {
		s.ackedWrite = max(s.ackedWrite, e.Index)
	}
}

// installSnapshot is the driver's handling of Ready.Snapshot (between steps
// 1 and 2): the FSM is restored from the snapshot and the log replaced.
func (s *sim) installSnapshot(n *simNode, info SnapshotInfo) {
	if info.Index < n.lastApplied {
		s.failf("%s installs a snapshot at %d after applying %d", n.id, info.Index, n.lastApplied)
		return
	}
	if ce, ok := s.committed[info.Index]; ok && ce.term != info.Term {
		s.failf("%s installs a snapshot at %d/%d, but term %d was committed there", n.id, info.Index, info.Term, ce.term)
		return
	}
	n.store.installSnapshot(info)
	n.lastApplied = info.Index
	if n.received != nil && n.received.Index <= info.Index {
		n.received = nil
	}
	s.tracef("%s INSTALL snapshot %d/%d", n.id, info.Index, info.Term)
}

// adoptReceived is the driver starting up with a snapshot it received but
// had not installed when it crashed: the newest snapshot in the store is
// restored, and a log that does not continue it is dropped.
func (s *sim) adoptReceived(n *simNode) {
	r := n.received
	n.received = nil
	if r == nil || r.Index <= n.store.snap.Index {
		return
	}
	if t, err := n.store.Term(r.Index); err == nil && t == r.Term {
		n.store.snap = *r
		return
	}
	n.store.installSnapshot(*r)
}

// isRPC reports whether m is carried by a driver RPC whose failure the
// driver reports with MsgUnreachable, and to whom (the requester) about
// whom.
func isRPC(m Message) (requester, peer raft.ServerID, ok bool) {
	switch m.Type {
	case MsgSnap, MsgReadIndex:
		return m.From, m.To, true
	case MsgSnapResp, MsgReadIndexResp:
		return m.To, m.From, true
	}
	return "", "", false
}

// lostRPC reports a lost snapshot or read-index message to its requester,
// as the driver would (the RPC failed).
func (s *sim) lostRPC(m Message) {
	requester, peer, ok := isRPC(m)
	if !ok {
		return
	}
	s.net = append(s.net, inflight{at: s.now + s.rng.Intn(s.p.maxDelay+1),
		m: Message{Type: MsgUnreachable, From: peer, To: requester}})
}

// deliverUnreachable hands a MsgUnreachable to its (local) node.
func (s *sim) deliverUnreachable(m Message) {
	to := s.nodeByID(m.To)
	if to == nil || to.core == nil {
		return
	}
	s.tracef("%s unreachable %s (rpc failed)", m.To, m.From)
	to.core.Step(m)
	s.handleReady(to)
}

// inLeaderConf reports whether n is a member of the current leader's latest
// configuration (liveness only waits for members).
func (s *sim) inLeaderConf(n *simNode) bool {
	l := s.leader()
	if l == nil {
		return true
	}
	for _, srv := range l.core.conf.latest().Servers {
		if srv.ID == n.id {
			return true
		}
	}
	return false
}

// readable reports whether entry i can be read from c's log (not compacted).
func readable(c *Core, i uint64) bool {
	return i >= c.log.first || i == c.log.snap.Index
}

// crashMidReady crashes n before it sent rd's responses: the requesters of
// the RPCs among them see them fail.
func (s *sim) crashMidReady(n *simNode, rd Ready, where string) {
	for _, m := range rd.Messages {
		if !isRequest(m) {
			s.lostRPC(m)
		}
	}
	s.crash(n, where)
}

// linkCut reports whether m crosses the broken link.
func (s *sim) linkCut(m Message) bool {
	c := s.cut
	return c != [2]raft.ServerID{} && (m.From == c[0] && m.To == c[1] || m.From == c[1] && m.To == c[0])
}
