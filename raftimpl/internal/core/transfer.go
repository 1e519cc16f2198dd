package core

import (
	"errors"
	"fmt"

	raft "github.com/pontoon-raft/raft"
)

// Leadership transfer, hashicorp/raft style: the leader stops taking
// proposals, brings the target's log up to its own, then sends it
// MsgTimeoutNow; the target campaigns at once (skipping pre-vote, its votes
// marked LeadershipTransfer so voters that know this leader still answer).
// The transfer succeeds when this leader sees a higher term. Like
// hashicorp/raft it has two budgets of ElectionTick ticks each: one to catch
// the target up and send MsgTimeoutNow, then a fresh one for the target's
// election (persisting its vote, the MsgVote reaching this leader); it is
// aborted when the running one runs out.

// transferState is a running leadership transfer. Invariant: non-nil only
// while role == roleLeader; target is a voter of the latest configuration.
type transferState struct {
	target raft.ServerID
	// elapsed counts the leader's ticks since the transfer started, and
	// again from 0 once MsgTimeoutNow went out.
	elapsed int
	// sent is set once MsgTimeoutNow went out: it is sent once.
	sent bool
}

// errTransferToSelf is returned for a transfer to the leader itself.
var errTransferToSelf = errors.New("cannot transfer leadership to itself")

// TransferLeadership starts handing leadership to target; "" picks the voter
// with the highest Match. It fails with raft.ErrNotLeader on a non-leader,
// raft.ErrLeadershipTransferInProgress during another transfer, an error
// wrapping raft.ErrUnknownServer for a target that is not a voter of the
// latest configuration, and "cannot transfer leadership to itself". While
// it runs, Propose, ProposeConfChange and RestoreLocal fail with
// raft.ErrLeadershipTransferInProgress. The outcome comes in Ready.Transfer.
func (c *Core) TransferLeadership(target raft.ServerID) error {
	if c.role != roleLeader {
		return raft.ErrNotLeader
	}
	if c.transfer != nil {
		return raft.ErrLeadershipTransferInProgress
	}
	if target == "" {
		var best uint64
		for _, id := range c.conf.voters {
			if pr := c.prs[id]; id != c.id && pr != nil && (target == "" || pr.Match > best) {
				target, best = id, pr.Match
			}
		}
		if target == "" {
			return fmt.Errorf("%w: no other voter to transfer leadership to", raft.ErrUnknownServer)
		}
	}
	if target == c.id {
		return errTransferToSelf
	}
	if !c.isVoter(target) || c.prs[target] == nil {
		return fmt.Errorf("%w: %s is not a voter", raft.ErrUnknownServer, target)
	}
	c.transfer = &transferState{target: target}
	c.maybeSendTimeoutNow()
	return nil
}

// maybeSendTimeoutNow sends MsgTimeoutNow to the transfer's target once its
// log matches the leader's to the end, and otherwise helps it catch up.
func (c *Core) maybeSendTimeoutNow() {
	t := c.transfer
	if t == nil || t.sent || c.role != roleLeader {
		return
	}
	pr := c.prs[t.target]
	if pr == nil {
		return
	}
	if pr.Match < c.log.lastIndex() {
		c.maybeSendAppend(t.target, true)
		return
	}
	t.sent = true
	// NB: the catch-up may have used most of the first budget; the
	// election gets a whole one (hashicorp/raft waits ElectionTimeout
	// again once its TimeoutNow RPC returned). Aborting early would leave
	// the target campaigning, and winning, after the caller was told the
	// transfer failed.
	t.elapsed = 0
	// NB: the target may now win an election while this leader's lease is
	// still running (its votes bypass stickiness), and its MsgTimeoutNow
	// may arrive late: no lease read in the rest of this term.
	c.leaseBroken = true
	c.send(Message{Type: MsgTimeoutNow, To: t.target})
}

// handleTimeoutNowResponse aborts the transfer if the target refused to
// campaign.
func (c *Core) handleTimeoutNowResponse(m Message) {
	if t := c.transfer; t != nil && t.sent && m.From == t.target && !m.Success {
		c.endTransfer(false)
	}
}

// tickTransfer aborts a transfer whose running budget of ElectionTick ticks
// ran out.
func (c *Core) tickTransfer() {
	if c.transfer == nil {
		return
	}
	c.transfer.elapsed++
	if c.transfer.elapsed >= c.cfg.ElectionTick {
		c.endTransfer(false)
	}
}

// endTransfer reports the running transfer's outcome in the next Ready.
func (c *Core) endTransfer(ok bool) {
	if c.transfer == nil {
		return
	}
	c.transferResult = &TransferResult{Target: c.transfer.target, OK: ok}
	c.transfer = nil
}

// StepDown makes a leader a follower in the same term, with no known leader
// (the driver calls it when the leader's disk stalls); a no-op otherwise.
// A running transfer is aborted, and the leader's requests not yet handed
// to the driver are dropped: a server that stepped down stops asserting its
// leadership at once (its heartbeats would keep the followers from electing
// another leader).
func (c *Core) StepDown() {
	if c.role != roleLeader {
		return
	}
	keep := c.msgs[:0]
	for _, m := range c.msgs {
		switch m.Type {
		case MsgApp, MsgHeartbeat, MsgSnap, MsgTimeoutNow:
			continue
		}
		keep = append(keep, m)
	}
	c.msgs = keep
	c.becomeFollower(c.term, "")
}
