package core

import (
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/quorum"
)

// VerifyLeader asks the core to confirm it is still the leader. The answer
// comes in Ready.ReadStates: OK=false at once if not leader; otherwise OK=true
// once a quorum of voters has answered a heartbeat round that started after
// the call (at once with a single voter), or OK=false if leadership is lost
// first.
//
// Index is the commit index when the round started. A leader that has not
// yet committed an entry of its own term holds the request until it has, so
// that Index covers every entry committed before the call.
func (c *Core) VerifyLeader(id uint64) {
	c.verifyLeader(pendingRead{id: id})
}

// verifyLeader starts confirming leadership for r, a local read or a
// follower's MsgReadIndex (r.from).
func (c *Core) verifyLeader(r pendingRead) {
	if c.role != roleLeader {
		c.answerRead(r, false)
		return
	}
	if !c.committedInTerm() {
		c.queuedReads = append(c.queuedReads, r)
		return
	}
	c.startRead(r)
}

func (c *Core) startRead(r pendingRead) {
	// NB: requests made before the next Ready share one round: its
	// heartbeats have not left yet, so they were sent after every call.
	if !c.roundSent {
		c.bcastHeartbeat()
	}
	r.index, r.round = c.log.committed, c.round
	c.pendingReads = append(c.pendingReads, r)
	c.maybeConfirmReads()
}

// ReadRoundInFlight reports whether this leader has reads waiting for a
// quorum to acknowledge a heartbeat round already started: the answers to
// that round are on their way, so the driver may leave new reads until they
// (or its next tick) wake it. False on a follower or candidate.
func (c *Core) ReadRoundInFlight() bool {
	return c.role == roleLeader && len(c.pendingReads) > 0
}

// OldestReadRound returns the lowest heartbeat round a pending read waits
// for, or the next round if none waits: an answer to an earlier round
// confirms no read. 0 if not leader.
func (c *Core) OldestReadRound() uint64 {
	if c.role != roleLeader {
		return 0
	}
	if len(c.pendingReads) == 0 {
		return c.round + 1
	}
	return c.pendingReads[0].round
}

// answerRead answers r: a ReadState for a local read, a MsgReadIndexResp
// for a follower's.
func (c *Core) answerRead(r pendingRead, ok bool) {
	if !ok {
		r.index = 0
	}
	if r.from == "" {
		c.readStates = append(c.readStates, ReadState{ID: r.id, Index: r.index, OK: ok})
		return
	}
	c.send(Message{Type: MsgReadIndexResp, To: r.from, Context: r.id, Index: r.index, Success: ok})
}

func (c *Core) releaseQueuedReads() {
	queued := c.queuedReads
	c.queuedReads = nil
	for _, r := range queued {
		c.startRead(r)
	}
}

// ackRound records that from answered heartbeat round r.
func (c *Core) ackRound(from raft.ServerID, r uint64) {
	pr := c.prs[from]
	if pr == nil || r <= pr.AckedRound || r > c.round {
		return
	}
	pr.AckedRound = r
	c.maybeConfirmReads()
}

// maybeConfirmReads answers the pending reads whose round a quorum of voters
// acknowledged.
func (c *Core) maybeConfirmReads() {
	if len(c.pendingReads) == 0 {
		return
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
	n := 0
	for n < len(c.pendingReads) && c.pendingReads[n].round <= confirmed {
		c.answerRead(c.pendingReads[n], true)
		n++
	}
	c.pendingReads = c.pendingReads[n:]
}
