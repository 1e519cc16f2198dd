package core

import (
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/quorum"
)

// Lease reads and follower reads, beyond VerifyLeader (read.go).
//
// A lease read skips the heartbeat round when a recent one already proved
// leadership. The argument: a follower that receives a heartbeat resets its
// election timer and refuses every other candidate (sticky leader) until at
// least ElectionTick ticks later, so once a quorum of voters has answered a
// heartbeat sent at leader tick t, no other leader can exist before about
// t+ElectionTick. Three things could break it and are ruled out: a
// leadership transfer (votes bypass stickiness: no lease in a term once
// MsgTimeoutNow went out), a voter that restarts and forgets its leader
// (Config.LeaseReads makes a starting server refuse votes for ElectionTick
// ticks), and clock drift (Config.LeaseDriftTicks is the margin).
//
// A follower read (ReadIndex on a follower) asks the leader, which confirms
// its leadership with a heartbeat round started after the request arrived
// and answers with its commit index then.

// roundTick records the leader tick at which heartbeat round started.
type roundTick struct {
	round uint64
	tick  int
}

// maxRoundTicks bounds roundTicks; older rounds are too old for a lease
// anyway.
const maxRoundTicks = 256

// remoteRead is a follower's ReadIndex waiting for the leader's answer.
type remoteRead struct {
	id     uint64
	leader raft.ServerID
	// batch is the MsgReadIndex (its Context) that asks for this read.
	batch uint64
	// elapsed counts ticks since the request; the read fails after
	// ElectionTick ticks without an answer.
	elapsed int
}

// LeaseRead answers a read at once (ReadState OK, Index = commit index) if
// this node is the leader, has committed an entry of its term, and holds a
// lease: a quorum of voters answered a heartbeat round that started within
// the last min(LeaseTick, ElectionTick)-LeaseDriftTicks ticks, with
// Config.LeaseReads on and no leadership transfer this term. Otherwise it is
// VerifyLeader.
func (c *Core) LeaseRead(id uint64) {
	if c.role == roleLeader && c.leaseValid() {
		c.readStates = append(c.readStates, ReadState{ID: id, Index: c.log.committed, OK: true})
		return
	}
	c.VerifyLeader(id)
}

// leaseValid reports whether the leader's lease holds now.
func (c *Core) leaseValid() bool {
	if !c.cfg.LeaseReads || c.leaseBroken || c.transfer != nil || !c.committedInTerm() {
		return false
	}
	window := min(c.cfg.LeaseTick, c.cfg.ElectionTick) - c.cfg.LeaseDriftTicks
	if window <= 0 {
		return false
	}
	confirmed := quorum.CommittedIndex(c.conf.voters, func(id raft.ServerID) (uint64, bool) {
		if id == c.id {
			return c.round, true
		}
		if pr := c.prs[id]; pr != nil {
			return pr.AckedRound, true
		}
		return 0, false
	})
	for i := len(c.roundTicks) - 1; i >= 0; i-- {
		rt := c.roundTicks[i]
		if rt.round == confirmed {
			return c.leaderTicks-rt.tick < window
		}
		if rt.round < confirmed {
			break
		}
	}
	return false
}

// recordRound notes that heartbeat round started now.
func (c *Core) recordRound(round uint64) {
	if len(c.roundTicks) >= maxRoundTicks {
		c.roundTicks = append(c.roundTicks[:0], c.roundTicks[len(c.roundTicks)/2:]...)
	}
	c.roundTicks = append(c.roundTicks, roundTick{round: round, tick: c.leaderTicks})
}

// ReadIndex is a linearizable read that also works on a follower. On the
// leader it is VerifyLeader. On a follower that knows a leader it sends
// MsgReadIndex to the leader and answers with the leader's commit index once
// the leader confirms its leadership; the read fails (OK=false) if no
// leader is known, if the term or leader changes first, if the leader
// refuses or is unreachable, or after ElectionTick ticks without an answer.
func (c *Core) ReadIndex(id uint64) {
	if c.role == roleLeader {
		c.VerifyLeader(id)
		return
	}
	if c.role != roleFollower || c.lead == "" {
		c.readStates = append(c.readStates, ReadState{ID: id})
		return
	}
	// NB: reads share one MsgReadIndex per batch: it leaves after every
	// read of its batch was called, so the leader's round, started when it
	// arrives, covers them all. One batch is in flight at a time; reads
	// made meanwhile form the next, sent when the answer comes (as a
	// leader's heartbeat rounds).
	if c.remoteFresh {
		// The batch in flight has not left yet (no Ready since): join it.
		c.remoteReads = append(c.remoteReads, remoteRead{id: id, leader: c.lead, batch: c.remoteInflight})
		return
	}
	if !c.remoteUnsent {
		c.remoteBatch++
		c.remoteUnsent = true
	}
	c.remoteReads = append(c.remoteReads, remoteRead{id: id, leader: c.lead, batch: c.remoteBatch})
	c.maybeSendRemoteBatch()
}

// maybeSendRemoteBatch sends the batch of follower reads waiting to go, if
// none is in flight.
func (c *Core) maybeSendRemoteBatch() {
	if !c.remoteUnsent || c.remoteInflight != 0 {
		return
	}
	n := len(c.remoteReads)
	if n == 0 || c.remoteReads[n-1].batch != c.remoteBatch {
		c.remoteUnsent = false // its reads failed meanwhile
		return
	}
	c.remoteUnsent, c.remoteFresh = false, true
	c.remoteInflight = c.remoteBatch
	c.send(Message{Type: MsgReadIndex, To: c.remoteReads[n-1].leader, Context: c.remoteBatch})
}

// remoteReadsSettled notes that reads left remoteReads (answered or
// failed): the batch in flight is over once none of its reads is left, and
// the next may go.
func (c *Core) remoteReadsSettled() {
	if c.remoteInflight != 0 {
		for _, r := range c.remoteReads {
			if r.batch == c.remoteInflight {
				return
			}
		}
		c.remoteInflight = 0
	}
	c.maybeSendRemoteBatch()
}

// handleReadIndex is the leader's MsgReadIndex.
func (c *Core) handleReadIndex(m Message) {
	c.verifyLeader(pendingRead{id: m.Context, from: m.From})
}

// handleReadIndexResponse answers the follower's reads of the batch m
// responds to.
func (c *Core) handleReadIndexResponse(m Message) {
	keep := c.remoteReads[:0]
	for _, r := range c.remoteReads {
		if r.batch == m.Context && r.leader == m.From {
			c.readStates = append(c.readStates, ReadState{ID: r.id, Index: m.Index, OK: m.Success})
			continue
		}
		keep = append(keep, r)
	}
	c.remoteReads = keep
	c.remoteReadsSettled()
}

// failRemoteReads fails the follower reads sent to leader (unreachable).
func (c *Core) failRemoteReads(leader raft.ServerID) {
	keep := c.remoteReads[:0]
	for _, r := range c.remoteReads {
		if r.leader == leader {
			c.readStates = append(c.readStates, ReadState{ID: r.id})
			continue
		}
		keep = append(keep, r)
	}
	c.remoteReads = keep
	c.remoteReadsSettled()
}

// tickReads ages the follower reads and the start-up quiet period.
func (c *Core) tickReads() {
	if c.quietTicks > 0 {
		c.quietTicks--
	}
	if len(c.remoteReads) == 0 {
		return
	}
	keep := c.remoteReads[:0]
	for _, r := range c.remoteReads {
		r.elapsed++
		if r.elapsed >= c.cfg.ElectionTick {
			c.readStates = append(c.readStates, ReadState{ID: r.id})
			continue
		}
		keep = append(keep, r)
	}
	c.remoteReads = keep
	c.remoteReadsSettled()
}

// refuseQuiet refuses a vote request during the start-up quiet period
// (Config.LeaseReads): this server may have acknowledged a leader's
// heartbeat just before it restarted. Transfers still get votes, and so
// does anyone asking a server that never had a term (it acknowledged
// nobody). It reports whether it refused.
func (c *Core) refuseQuiet(m Message) bool {
	if c.quietTicks <= 0 || c.term == 0 || (m.Type == MsgVote && m.LeadershipTransfer) {
		return false
	}
	typ := MsgVoteResp
	if m.Type == MsgPreVote {
		typ = MsgPreVoteResp
	}
	c.send(Message{Type: typ, To: m.From, Term: c.term, Context: m.Context})
	return true
}
