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
	if c.role != roleLeader {
		c.readStates = append(c.readStates, ReadState{ID: id})
		return
	}
	if !c.committedInTerm() {
		c.queuedReads = append(c.queuedReads, id)
		return
	}
	c.startRead(id)
}

func (c *Core) startRead(id uint64) {
	// NB: requests made before the next Ready share one round: its
	// heartbeats have not left yet, so they were sent after every call.
	if !c.roundSent {
		c.bcastHeartbeat()
	}
	c.pendingReads = append(c.pendingReads, pendingRead{id: id, index: c.log.committed, round: c.round})
	c.maybeConfirmReads()
}

func (c *Core) releaseQueuedReads() {
	queued := c.queuedReads
	c.queuedReads = nil
	for _, id := range queued {
		c.startRead(id)
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
		r := c.pendingReads[n]
		c.readStates = append(c.readStates, ReadState{ID: r.id, Index: r.index, OK: true})
		n++
	}
	c.pendingReads = c.pendingReads[n:]
}
