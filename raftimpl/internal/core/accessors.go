package core

import "github.com/pontoon-raft/raft/raftimpl/internal/quorum"

// Cheap accessors for the driver's hot path: Status copies configurations
// and progress, which the driver needs only when they change.

// Term returns the current term.
func (c *Core) Term() uint64 { return c.term }

// LastTerm returns the term of the last entry (durable or not).
func (c *Core) LastTerm() uint64 {
	t, _ := c.log.term(c.log.lastIndex())
	return t
}

// ConfigurationIndexes returns the indexes of the latest and the committed
// configurations; Status has the configurations themselves.
func (c *Core) ConfigurationIndexes() (latest, committed uint64) {
	return c.conf.latestIndex(), c.conf.committedIndex
}

// FollowersFormQuorum reports whether this leader's followers alone form a
// quorum of voters that are replicating and answered in the current or the
// last check-quorum pass: commits then do not wait for the leader's own log
// writes, which the driver may then batch more (false when not leader).
func (c *Core) FollowersFormQuorum() bool {
	if c.role != roleLeader {
		return false
	}
	n := 0
	for _, id := range c.conf.voters {
		// NB: RecentActive alone is false for every follower right after
		// a check-quorum pass, for a whole tick: the driver, sampling
		// this at each tick, then stopped spacing the leader's writes
		// for one tick in LeaseTick (at one client, 74% of the leader's
		// writes went unspaced).
		if pr := c.prs[id]; id != c.id && pr != nil && pr.State == trackerReplicate && (pr.RecentActive || pr.ActiveLastPass) {
			n++
		}
	}
	return len(c.conf.voters) > 0 && n >= quorum.Majority(len(c.conf.voters))
}

// SoftState returns the current role and leader (what the next Ready's
// SoftState would report).
func (c *Core) SoftState() SoftState { return c.softState() }
