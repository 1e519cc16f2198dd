package core

import "github.com/pontoon-raft/raft/raftimpl/internal/quorum"

// stepCandidate handles a message of the current term (or a pre-vote grant
// echoing the proposed one) in a pre-candidate or candidate.
func (c *Core) stepCandidate(m Message) error {
	switch m.Type {
	case MsgApp, MsgHeartbeat, MsgSnap:
		// A leader exists in this term: follow it.
		c.becomeFollower(c.term, m.From)
		return c.stepFollower(m)
	case MsgReadIndex:
		// Not the leader: the follower's read fails.
		c.send(Message{Type: MsgReadIndexResp, To: m.From, Context: m.Context})
	case MsgVoteResp:
		if c.role != roleCandidate || m.Term != c.term {
			return nil
		}
		c.tally(c.poll(m.From, m.Granted), false)
	case MsgPreVoteResp:
		if c.role != rolePreCandidate {
			return nil
		}
		switch {
		case m.Granted && m.Term == c.term+1:
			c.tally(c.poll(m.From, true), true)
		case !m.Granted && m.Term == c.term:
			c.tally(c.poll(m.From, false), true)
		}
	}
	return nil
}

func (c *Core) tally(r quorum.VoteResult, pre bool) {
	switch r {
	case quorum.VoteWon:
		c.electionWon(pre)
	case quorum.VoteLost:
		// Wait out a fresh election timeout as a follower, with no leader:
		// the server can then back another candidate.
		c.becomeFollower(c.term, "")
	}
}
