package raftimpl

import (
	"sync"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
	"github.com/pontoon-raft/raft/transport"
)

// The heartbeat fast path.
//
// A follower answers a routine heartbeat (current term, from the leader it
// follows) with Success and an election-timer reset, nothing else. Sending
// it through the driver loop costs two goroutine hand-offs and a Ready
// cycle on the follower, which is most of a read round's latency: so the
// transport's goroutine answers it itself, as hashicorp/raft's does, but
// under the core's rules (internal/core/heartbeat.go):
//
//   - After every event it handled, the driver publishes in hbGate the
//     heartbeat the core would answer so (core.QuietHeartbeat), and opens
//     the gate.
//   - The driver holds hbGate.mu from the moment it takes an event until it
//     has handled it and published again. The fast path only TryLocks: if
//     the driver is busy it takes the slow path (rpcCh, as before), so it
//     never waits and never sees a state the core is leaving.
//   - Before handing the core its next input, the driver reports the
//     heartbeats answered meanwhile (core.HeartbeatAnswered).
//
// So every fast answer is the answer the core would have given to a
// heartbeat stepped between two of its inputs, and the core learns of it
// before the next one: a term change, a vote or an election timeout is
// never ordered after an answer that contradicts it. That is what the
// leader's read rounds and leases rely on.

// hbGate is the state shared by the driver and the fast path.
type hbGate struct {
	mu sync.Mutex
	// open is set while a heartbeat from lead in term may be answered with
	// Success and LastLog lastLog; closed for good when the loop exits.
	open    bool
	closed  bool
	lead    raft.ServerID
	term    uint64
	lastLog uint64
	// answered counts the heartbeats answered since the driver last
	// reported them to the core.
	answered uint64
	// fast counts every heartbeat answered here (tests read it).
	fast uint64
}

// handleHeartbeat is the transport's heartbeat handler: answered here when
// the gate allows, else queued for the driver on rpcCh, which skips the
// Consumer queue (it may hold AppendEntries behind the heartbeat).
func (r *Raft) handleHeartbeat(rpc transport.RPC) {
	if r.answerHeartbeat(rpc) {
		return
	}
	select {
	case r.rpcCh <- rpc:
	case <-r.shutdownCh:
		rpc.Respond(nil, raft.ErrRaftShutdown)
	}
}

// answerHeartbeat answers rpc if it is a heartbeat the gate allows; false
// leaves it to the driver.
func (r *Raft) answerHeartbeat(rpc transport.RPC) bool {
	req, ok := rpc.Command.(*transport.AppendEntriesRequest)
	if !ok || !transport.IsHeartbeat(req) || len(req.ID) == 0 {
		return false
	}
	if v := req.ProtocolVersion; v < r.conf.ProtocolVersion-1 || v > raft.ProtocolVersionMax {
		return false // the driver refuses it
	}
	if r.stalled.Load() {
		return false // the driver decides what a stalled node answers
	}
	start := r.metrics.now()
	g := &r.hbGate
	if !g.mu.TryLock() {
		return false // the driver is feeding the core
	}
	if !g.open || req.Term != g.term || raft.ServerID(req.ID) != g.lead {
		g.mu.Unlock()
		return false
	}
	g.answered++
	g.fast++
	term, lastLog := g.term, g.lastLog
	g.mu.Unlock()
	r.lastContact.Store(time.Now().UnixNano())
	rpc.Respond(&transport.AppendEntriesResponse{RPCHeader: r.header(), Term: term, LastLog: lastLog, Success: true}, nil)
	r.metrics.MeasureSince(keyRPCHeartbeat, start)
	return true
}

// holdGate takes the gate before the driver feeds the core an input and
// reports the heartbeats answered since it was last released.
func (d *driver) holdGate() {
	if d.gateHeld {
		return
	}
	g := &d.r.hbGate
	g.mu.Lock()
	d.gateHeld = true
	if g.answered > 0 {
		d.core.HeartbeatAnswered(g.lead, g.term)
		g.answered = 0
	}
}

// releaseGate publishes the heartbeat the core now answers routinely and
// lets the fast path answer it until the driver's next event.
func (d *driver) releaseGate() {
	if !d.gateHeld {
		return
	}
	g := &d.r.hbGate
	g.lead, g.term, g.lastLog, g.open = d.core.QuietHeartbeat()
	if g.closed {
		g.open = false
	}
	d.gateHeld = false
	g.mu.Unlock()
}

// closeGate shuts the fast path for good (the loop is exiting).
func (d *driver) closeGate() {
	d.holdGate()
	g := &d.r.hbGate
	g.closed, g.open = true, false
	d.gateHeld = false
	g.mu.Unlock()
}

// Late heartbeat answers (leader side).
//
// During reads, each round's heartbeats get two answers (three servers),
// and the first that makes a quorum confirms the round's reads; the other
// usually comes after the loop answered them or started the next round, and
// waking the loop for it is a large part of the CPU it spends per round. So
// while reads run, an answer that can confirm no read (Success in the
// heartbeat's term, for a round below the lowest one a read waits for, as
// the loop published in r.readRound) from a follower that has the leader's
// whole log (no catch-up to start) is left in r.late without waking the
// loop, unless leases serve reads; the loop steps those at the start of its
// next pass, whatever wakes it (at the latest its next tick). The core
// still sees every answer, only later, as if the network had delayed it:
// its leases count from a round's start, so they only get shorter. Any
// other answer, or any answer while no reads run, goes to the loop at once.

// maxLateAnswers bounds r.late; past it answers go to the loop at once.
const maxLateAnswers = 256

// lateResponses are heartbeat answers for the loop's next pass.
type lateResponses struct {
	mu   sync.Mutex
	msgs []core.Message
}

// deferHeartbeatAnswer keeps resp, the answer to heartbeat m, for the loop's
// next pass if no read waits for it; false leaves it to deliver.
func (r *Raft) deferHeartbeatAnswer(m, resp core.Message) bool {
	if m.Type != core.MsgHeartbeat || resp.Type != core.MsgHeartbeatResp || !resp.Success || resp.Term != m.Term {
		return false
	}
	if w := r.readRound.Load(); w == 0 || resp.Context >= w {
		return false
	}
	if resp.LastLog < r.lastIndex.Load() || r.conf.LeaseReads {
		return false
	}
	l := &r.late
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.msgs) >= maxLateAnswers {
		return false
	}
	l.msgs = append(l.msgs, resp)
	return true
}

// stepLateAnswers steps the answers deferHeartbeatAnswer kept (each pass of
// the loop, before its event).
func (d *driver) stepLateAnswers() {
	l := &d.r.late
	l.mu.Lock()
	if len(l.msgs) == 0 {
		l.mu.Unlock()
		return
	}
	msgs := takeBuffer(&l.msgs, &d.spareLate)
	l.mu.Unlock()
	for _, m := range msgs {
		d.step(m)
	}
	recycleBuffer(&d.spareLate, msgs)
}
