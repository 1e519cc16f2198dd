package core

import (
	"fmt"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/quorum"
)

// tickLeader runs the leader's heartbeat and check-quorum timers.
func (c *Core) tickLeader() {
	c.leaderTicks++
	c.tickTransfer()
	c.heartbeatElapsed++
	c.leaseElapsed++
	if c.leaseElapsed >= c.cfg.LeaseTick {
		c.leaseElapsed = 0
		if !c.checkQuorum() {
			// Check-quorum: a leader cut off from a quorum stops serving
			// (it could not commit anyway, and another may be elected).
			c.becomeFollower(c.term, "")
			return
		}
	}
	if c.heartbeatElapsed >= c.cfg.HeartbeatTick {
		c.heartbeatElapsed = 0
		c.bcastHeartbeat()
	}
}

// checkQuorum reports whether a quorum of voters (the leader included) was
// heard from since the last pass, and starts a new pass.
func (c *Core) checkQuorum() bool {
	active := 0
	for _, id := range c.conf.voters {
		if pr := c.prs[id]; id == c.id || (pr != nil && pr.RecentActive) {
			active++
		}
	}
	for _, pr := range c.prs {
		pr.ActiveLastPass = pr.RecentActive
		pr.RecentActive = false
	}
	return len(c.conf.voters) > 0 && active >= quorum.Majority(len(c.conf.voters))
}

// stepLeader handles a message of the current term in the leader.
func (c *Core) stepLeader(m Message) error {
	switch m.Type {
	case MsgReadIndex:
		c.handleReadIndex(m)
		return nil
	case MsgSnap:
		// From a leader of this term, which this node is: refuse.
		c.send(Message{Type: MsgSnapResp, To: m.From, Context: m.Context})
		return nil
	}
	pr := c.prs[m.From]
	if pr == nil {
		// Not a member of the latest configuration: nothing to track.
		return nil
	}
	switch m.Type {
	case MsgAppResp:
		pr.RecentActive = true
		c.handleAppendResponse(m)
	case MsgHeartbeatResp:
		pr.RecentActive = true
		c.handleHeartbeatResponse(m)
	case MsgTimeoutNowResp:
		pr.RecentActive = true
		c.handleTimeoutNowResponse(m)
	case MsgSnapResp:
		pr.RecentActive = true
		c.handleSnapshotResponse(m)
	}
	switch m.Type {
	case MsgAppResp, MsgSnapResp, MsgHeartbeatResp:
		// The follower's Match may have moved.
		c.maybePromoteStaging()
		c.maybeSendTimeoutNow()
	}
	return nil
}

func (c *Core) handleAppendResponse(m Message) {
	pr := c.prs[m.From]
	if !m.Success {
		hint := m.LastLog
		if m.LastLogTerm != 0 && hint < m.Index {
			// The follower's entry at hint has term LastLogTerm, and its
			// earlier entries lower ones: no entry of ours after our last
			// one of term <= LastLogTerm can match it.
			hint = c.log.findConflictByTerm(min(hint, c.log.lastIndex()), m.LastLogTerm)
		}
		if pr.MaybeDecrTo(m.Index, hint) {
			c.maybeSendAppend(m.From, true)
		}
		return
	}
	if m.Index > c.log.lastIndex() {
		// Acknowledges entries this leader never sent: not from this term's
		// exchange. Ignore rather than corrupt Match.
		return
	}
	moved := pr.MaybeUpdate(m.Index)
	if pr.State == trackerProbe {
		pr.BecomeReplicate()
	}
	if moved && c.maybeCommit() {
		c.bcastAppend()
		return
	}
	c.maybeSendAppend(m.From, false)
}

func (c *Core) handleHeartbeatResponse(m Message) {
	pr := c.prs[m.From]
	c.ackRound(m.From, m.Context)
	// The follower is alive: a lost probe may be retried, and a window
	// clogged by lost messages opened by one.
	pr.ProbeSent = false
	if pr.State == trackerReplicate && pr.Inflights.Full() {
		pr.Inflights.FreeFirst()
	}
	if pr.Match < c.log.lastIndex() || pr.SentCommit < c.log.committed {
		c.maybeSendAppend(m.From, true)
	}
}

// Propose appends entries to the leader's log, assigning Index and Term, and
// starts replicating them. The driver has set Type, Data, Extensions and
// AppendedAt. It returns the indexes of the first and last entry.
func (c *Core) Propose(entries []*raft.Log) (first, last uint64, err error) {
	if c.role != roleLeader {
		return 0, 0, raft.ErrNotLeader
	}
	if c.transfer != nil {
		return 0, 0, raft.ErrLeadershipTransferInProgress
	}
	if len(entries) == 0 {
		return 0, 0, nil
	}
	for _, e := range entries {
		if e == nil {
			return 0, 0, fmt.Errorf("core: propose: nil entry")
		}
	}
	first = c.log.lastIndex() + 1
	c.appendLeader(entries)
	c.bcastAppend()
	return first, c.log.lastIndex(), nil
}

// appendLeader numbers entries after the last one, with the current term,
// and appends them to the unstable tail. Configuration entries take effect
// at once.
func (c *Core) appendLeader(entries []*raft.Log) {
	next := c.log.lastIndex() + 1
	for i, e := range entries {
		e.Index = next + uint64(i)
		e.Term = c.term
	}
	c.log.unstable.truncateAndAppend(entries)
	if c.conf.onAppend(entries) {
		// NB: a server added by these entries is probed from the first of
		// them, so its first MsgApp carries the configuration.
		c.reconcileProgress(next)
	}
}
