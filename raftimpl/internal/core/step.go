package core

import (
	"fmt"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/tracker"
)

// Step feeds the core one message that arrived for it (or, for
// MsgUnreachable, a transport failure the driver observed).
//
// Step never panics. Stale messages (lower term, old responses) and messages
// of unknown type are ignored. It returns an error, wrapping raft.ErrCorrupt,
// only for a malformed message, which it drops; the core stays usable.
func (c *Core) Step(m Message) error {
	if m.Type == MsgUnreachable {
		c.handleUnreachable(m)
		return nil
	}
	if m.Type < MsgApp || m.Type > maxMsgType || m.From == "" || m.From == c.id {
		return nil
	}
	if m.Term == 0 {
		// Every protocol message carries a term; 0 is never valid.
		return nil
	}
	switch {
	case m.Term > c.term:
		switch m.Type {
		case MsgVote:
			// NB: the vote rules decide whether the term is adopted: a
			// sticky refusal leaves the term alone (hashicorp/raft order).
		case MsgPreVote:
			// A proposed term, adopted by nobody.
		case MsgPreVoteResp:
			if m.Granted {
				// NB: a grant echoes a proposed term, which nobody
				// adopted: not evidence of a newer term. Only the
				// pre-campaign it answers may use it; adopting it would
				// make a follower forget its leader (breaking leases).
				if c.role != rolePreCandidate || m.Term != c.term+1 {
					return nil
				}
			} else {
				c.becomeFollower(m.Term, "")
			}
		case MsgApp, MsgHeartbeat, MsgTimeoutNow, MsgSnap:
			c.becomeFollower(m.Term, m.From)
		default:
			c.becomeFollower(m.Term, "")
		}
	case m.Term < c.term:
		c.answerStale(m)
		return nil
	}

	switch m.Type {
	case MsgVote, MsgPreVote:
		if !c.refuseQuiet(m) {
			c.handleVoteRequest(m)
		}
		return nil
	case MsgTimeoutNow:
		c.handleTimeoutNow(m)
		return nil
	}
	switch c.role {
	case roleLeader:
		return c.stepLeader(m)
	case rolePreCandidate, roleCandidate:
		return c.stepCandidate(m)
	default:
		return c.stepFollower(m)
	}
}

// answerStale refuses a request of an older term, telling its sender the
// current term so a deposed leader or stale candidate steps down. Stale
// responses are dropped.
func (c *Core) answerStale(m Message) {
	switch m.Type {
	case MsgApp:
		c.send(Message{Type: MsgAppResp, To: m.From, Index: m.PrevLogIndex,
			LastLog: c.log.lastIndex(), Context: m.Context})
	case MsgHeartbeat:
		c.send(Message{Type: MsgHeartbeatResp, To: m.From, Context: m.Context})
	case MsgVote, MsgPreVote:
		c.handleVoteRequest(m) // refuses on the term rule (or earlier)
	case MsgTimeoutNow:
		c.send(Message{Type: MsgTimeoutNowResp, To: m.From, Context: m.Context})
	case MsgSnap:
		c.send(Message{Type: MsgSnapResp, To: m.From, Context: m.Context})
	case MsgReadIndex:
		c.send(Message{Type: MsgReadIndexResp, To: m.From, Context: m.Context})
	}
}

// handleTimeoutNow starts an election at once, skipping pre-vote, on the
// leader's request (leadership transfer).
//
// Every request gets an answer, so the driver's pending RPC completes;
// Success says whether an election started.
func (c *Core) handleTimeoutNow(m Message) {
	start := c.role != roleLeader && c.promotable()
	c.send(Message{Type: MsgTimeoutNowResp, To: m.From, Success: start, Context: m.Context})
	if start {
		c.campaign(false, true)
	}
}

// handleUnreachable stops assuming anything sent to m.From arrived.
func (c *Core) handleUnreachable(m Message) {
	if c.role != roleLeader {
		c.failRemoteReads(m.From)
		return
	}
	if pr := c.prs[m.From]; pr != nil && m.From != c.id {
		if pr.State == tracker.StateSnapshot {
			// The snapshot did not arrive: retry after the follower
			// answers a heartbeat.
			pr.SnapshotFailed()
			return
		}
		pr.BecomeProbe()
	}
}

// errCorrupt wraps a malformed message's problem.
func errCorrupt(m Message, err error) error {
	return fmt.Errorf("%w: %v from %s: %v", raft.ErrCorrupt, m.Type, m.From, err)
}

// String names a message type.
func (t MsgType) String() string {
	switch t {
	case MsgApp:
		return "MsgApp"
	case MsgAppResp:
		return "MsgAppResp"
	case MsgHeartbeat:
		return "MsgHeartbeat"
	case MsgHeartbeatResp:
		return "MsgHeartbeatResp"
	case MsgVote:
		return "MsgVote"
	case MsgVoteResp:
		return "MsgVoteResp"
	case MsgPreVote:
		return "MsgPreVote"
	case MsgPreVoteResp:
		return "MsgPreVoteResp"
	case MsgTimeoutNow:
		return "MsgTimeoutNow"
	case MsgTimeoutNowResp:
		return "MsgTimeoutNowResp"
	case MsgUnreachable:
		return "MsgUnreachable"
	case MsgSnap:
		return "MsgSnap"
	case MsgSnapResp:
		return "MsgSnapResp"
	case MsgReadIndex:
		return "MsgReadIndex"
	case MsgReadIndexResp:
		return "MsgReadIndexResp"
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}
