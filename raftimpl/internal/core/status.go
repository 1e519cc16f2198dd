package core

import (
	"maps"
	"slices"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/tracker"
)

// Status is a snapshot of the core's state for Stats, observers and tests.
// It shares no memory with the core.
type Status struct {
	ID   raft.ServerID
	Term uint64
	// Vote is the candidate voted for in Term, "" if none.
	Vote raft.ServerID
	// Role is Follower, Candidate (also during pre-vote) or Leader.
	Role raft.RaftState
	// PreCandidate is true while a pre-vote is running (Role is Candidate).
	PreCandidate bool
	Leader       raft.ServerID
	// Commit is the commit index; Applied the last index handed off to the
	// apply loop (through Ready.CommittedEntries and Advance).
	Commit  uint64
	Applied uint64
	// LastIndex and LastTerm describe the last entry of the log, durable or
	// not.
	LastIndex uint64
	LastTerm  uint64

	Latest         raft.Configuration
	LatestIndex    uint64
	Committed      raft.Configuration
	CommittedIndex uint64

	// Progress is the leader's view of each server of the latest
	// configuration, itself included (Match = its durable last index). Nil
	// unless Role is Leader.
	Progress map[raft.ServerID]PeerStatus
}

// PeerStatus is the leader's view of one server.
type PeerStatus struct {
	Match uint64
	Next  uint64
	// State is probe, replicate or snapshot.
	State tracker.State
	// Inflight is the number of unacknowledged MsgApp.
	Inflight int
	// RecentActive is true if the server answered since the last
	// check-quorum pass.
	RecentActive bool
}

// Status returns a copy of the core's state.
func (c *Core) Status() Status {
	lastIndex := c.log.lastIndex()
	lastTerm, _ := c.log.term(lastIndex)
	st := Status{
		ID:             c.id,
		Term:           c.term,
		Vote:           c.vote,
		Role:           c.role.raftState(),
		PreCandidate:   c.role == rolePreCandidate,
		Leader:         c.lead,
		Commit:         c.log.committed,
		Applied:        c.log.applied,
		LastIndex:      lastIndex,
		LastTerm:       lastTerm,
		Latest:         c.conf.latest().Clone(),
		LatestIndex:    c.conf.latestIndex(),
		Committed:      c.conf.committed.Clone(),
		CommittedIndex: c.conf.committedIndex,
	}
	if c.role == roleLeader {
		st.Progress = make(map[raft.ServerID]PeerStatus, len(c.prs))
		for _, id := range slices.Sorted(maps.Keys(c.prs)) {
			pr := c.prs[id]
			st.Progress[id] = PeerStatus{
				Match:        pr.Match,
				Next:         pr.Next,
				State:        pr.State,
				Inflight:     pr.Inflights.Count(),
				RecentActive: pr.RecentActive,
			}
		}
	}
	return st
}
