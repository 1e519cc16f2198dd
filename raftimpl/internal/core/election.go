package core

import (
	"github.com/pontoon-raft/raft/raftimpl/internal/quorum"
	"github.com/pontoon-raft/raft/raftimpl/internal/tracker"

	raft "github.com/pontoon-raft/raft"
)

// tickElection runs the election timer of a follower or (pre-)candidate.
func (c *Core) tickElection() {
	c.electionElapsed++
	if c.electionElapsed < c.electionTimeout {
		return
	}
	// NB: like hashicorp/raft, a follower that times out forgets its leader
	// even if it cannot campaign, so that it stops refusing votes on its
	// behalf.
	if !c.promotable() {
		c.becomeFollower(c.term, "")
		return
	}
	c.campaign(c.cfg.PreVote, false)
}

// promotable reports whether this server may start an election: it must be a
// voter of the latest configuration (which is then non-empty), or of the
// committed one while a newer one is not known committed.
//
// NB: the second case is Pontoon's (hashicorp/raft refuses it). An appended,
// uncommitted change that demotes this server could otherwise leave no
// server able to win: say voters {a, b}, and a, leading, appends "only b
// votes" while b is down; b restarts without the entry and needs a's vote,
// which a's longer log refuses, and a cannot campaign. Votes are still
// counted over the latest configuration, so a leader elected this way needs
// b's vote, commits the change with it, and steps down (confchange.go).
func (c *Core) promotable() bool {
	if c.isVoter(c.id) {
		return true
	}
	return c.conf.latestIndex() > c.log.committed && raft.HasVote(c.conf.committed, c.id)
}

// campaign starts a pre-vote (pre) or an election. transfer marks an
// election started by MsgTimeoutNow: its requests carry LeadershipTransfer so
// voters that know a leader still answer.
func (c *Core) campaign(pre, transfer bool) {
	if !c.promotable() {
		return
	}
	var term uint64
	var typ MsgType
	if pre {
		c.becomePreCandidate()
		term, typ = c.term+1, MsgPreVote
	} else {
		c.becomeCandidate(transfer)
		term, typ = c.term, MsgVote
	}
	// The server's own vote counts at once; for a real election it is
	// persisted (Ready.HardState) before any MsgVote leaves.
	if c.poll(c.id, true) == quorum.VoteWon {
		c.electionWon(pre)
		return
	}
	lastIndex, lastTerm := c.log.lastIndex(), c.log.lastTerm()
	for _, id := range c.conf.voters {
		if id == c.id {
			continue
		}
		c.send(Message{
			Type:               typ,
			To:                 id,
			Term:               term,
			LastLogIndex:       lastIndex,
			LastLogTerm:        lastTerm,
			LeadershipTransfer: transfer,
		})
	}
}

// poll records id's answer and returns the campaign's result so far.
func (c *Core) poll(id raft.ServerID, granted bool) quorum.VoteResult {
	if _, ok := c.votes[id]; !ok {
		c.votes[id] = granted
	}
	return quorum.Result(c.conf.voters, c.votes)
}

// electionWon moves a pre-candidate to the real election, a candidate to
// leadership.
func (c *Core) electionWon(pre bool) {
	if pre {
		c.campaign(false, false)
		return
	}
	c.becomeLeader()
}

// becomePreCandidate starts a pre-vote: no term change, no vote cast.
func (c *Core) becomePreCandidate() {
	c.resetTerm(c.term)
	c.role = rolePreCandidate
	c.votes = map[raft.ServerID]bool{}
}

// becomeCandidate starts an election at the next term, voting for itself.
func (c *Core) becomeCandidate(transfer bool) {
	c.resetTerm(c.term + 1)
	c.role = roleCandidate
	c.vote = c.id
	c.votes = map[raft.ServerID]bool{}
	c.transferCampaign = transfer
}

// becomeLeader takes leadership of the current term: every follower is
// probed from the end of the leader's log, and a LogNoop of the term is
// appended first so that earlier entries can commit (§5.4.2).
func (c *Core) becomeLeader() {
	c.resetTerm(c.term)
	c.role = roleLeader
	c.lead = c.id
	c.prs = map[raft.ServerID]*tracker.Progress{}
	c.reconcileProgress(c.log.lastIndex() + 1)
	for _, pr := range c.prs {
		// Check-quorum counts from now: every follower gets a full lease to
		// answer (hashicorp/raft starts lastContact at the election).
		pr.RecentActive = true
	}
	noop := &raft.Log{Type: raft.LogNoop}
	c.appendLeader([]*raft.Log{noop})
	c.bcastAppend()
}

// handleVoteRequest answers MsgVote and MsgPreVote. The checks run in
// hashicorp/raft's order (fact sheet §8); a pre-vote skips the one-vote rule,
// has no transfer exception and changes no state.
func (c *Core) handleVoteRequest(m Message) {
	pre := m.Type == MsgPreVote
	respType := MsgVoteResp
	if pre {
		respType = MsgPreVoteResp
	}
	refuse := func() {
		c.send(Message{Type: respType, To: m.From, Term: c.term, Context: m.Context})
	}
	// NB: rules 1 and 4 keep removed and demoted servers from disrupting
	// the cluster. Unlike hashicorp/raft, they apply only while the latest
	// configuration is known committed: a deposed leader's uncommitted
	// configuration, which the next leader will truncate, could otherwise
	// refuse every candidate able to win (found by the simulator: n1's stale
	// entry demotes n2, n2's newer one demotes n3, and no election succeeds).
	//
	// NB: nor do they apply to a candidate whose log is strictly more up to
	// date than this server's: its configuration is newer than the one
	// they would be judged by (found by the simulator: a server isolated
	// since bootstrap kept refusing the only voter able to win, which the
	// bootstrap configuration made a non-voter). A removed server's log
	// stops at its removal, so this does not let it disrupt a cluster that
	// has moved on.
	strict := c.log.committed >= c.conf.latestIndex() && !c.log.isNewer(m.LastLogIndex, m.LastLogTerm)
	// 1. The candidate must be in the latest configuration, when there is
	// one: a removed server cannot disrupt the cluster. This comes before
	// the term is looked at, so a refused candidate's term is not adopted.
	//
	// NB: only the first exception above applies here, and only to a
	// candidate that is in a configuration this server holds: a server in
	// none of them is refused whatever log it claims (a server outside the
	// cluster, or a misconfigured one, sending a high term with the
	// transfer flag must not depose the leader).
	if len(c.conf.latest().Servers) > 0 && !c.inLatest(m.From) &&
		(c.log.committed >= c.conf.latestIndex() || !c.conf.knows(m.From)) {
		refuse()
		return
	}
	// 2. Sticky leader: while a leader is known, refuse anyone else, unless
	// the leader itself asked for the transfer. A leader knows itself.
	if c.lead != "" && c.lead != m.From && (pre || !m.LeadershipTransfer) {
		refuse()
		return
	}
	// 3. Term.
	if m.Term < c.term {
		refuse()
		return
	}
	if !pre && m.Term > c.term {
		c.becomeFollower(m.Term, "")
	}
	// 4. The candidate must be a voter (of a non-empty configuration: a
	// node not yet bootstrapped votes for whoever asks, as hashicorp/raft).
	if strict && len(c.conf.latest().Servers) > 0 && !c.isVoter(m.From) {
		refuse()
		return
	}
	if pre {
		// 6. Log up to date. The grant echoes the proposed term.
		if !c.log.isUpToDate(m.LastLogIndex, m.LastLogTerm) {
			refuse()
			return
		}
		c.send(Message{Type: respType, To: m.From, Term: m.Term, Granted: true, Context: m.Context})
		return
	}
	// 5. One vote per term; a repeat from the same candidate is granted.
	if c.vote != "" && c.vote != m.From {
		refuse()
		return
	}
	// 6. Log up to date.
	if c.vote == "" && !c.log.isUpToDate(m.LastLogIndex, m.LastLogTerm) {
		refuse()
		return
	}
	c.vote = m.From
	// NB: granting a vote restarts the election timer, so the voter waits
	// for the candidate it just backed instead of competing with it.
	c.electionElapsed = 0
	c.send(Message{Type: respType, To: m.From, Term: c.term, Granted: true, Context: m.Context})
}
