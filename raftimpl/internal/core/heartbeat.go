package core

import raft "github.com/pontoon-raft/raft"

// Heartbeats answered outside the core (the driver's fast path).
//
// A follower answers most heartbeats the same way: Success, its last index,
// and an election-timer reset. The driver may answer those itself, on the
// transport's goroutine, without a Ready cycle, provided the answer is
// exactly the one the core would have given at some point of its input
// sequence and the core then learns of it before its next input:
//
//  1. After an input, the driver asks QuietHeartbeat which heartbeat the core
//     would answer so, and publishes that to the fast path.
//  2. The fast path answers only heartbeats matching the published one, and
//     only while no input is being fed to the core (the driver excludes it
//     while it handles an event).
//  3. Before feeding the next input, the driver reports the answered
//     heartbeats with HeartbeatAnswered.
//
// Then every fast answer is the core's answer to a heartbeat stepped between
// two inputs, so the term, vote and election-timer rules (sticky leader,
// lease reads) hold as if the heartbeat had gone through Step.

// QuietHeartbeat returns the heartbeat this core would answer with Success
// and no effect but an election-timer reset: from lead, in term, answered
// with LastLog lastLog. ok is false when there is none (not a follower, or
// no leader known in this term).
func (c *Core) QuietHeartbeat() (lead raft.ServerID, term, lastLog uint64, ok bool) {
	if c.role != roleFollower || c.lead == "" {
		return "", 0, 0, false
	}
	return c.lead, c.term, c.log.lastIndex(), true
}

// HeartbeatAnswered reports that heartbeats from `from` in term were
// answered outside the core with the answer QuietHeartbeat gave, with no
// other input since that call. It has the effect of stepping one such
// heartbeat, minus the response. A report that does not match the core's
// state (a driver bug) is ignored.
func (c *Core) HeartbeatAnswered(from raft.ServerID, term uint64) {
	if c.role != roleFollower || c.lead == "" || c.lead != from || c.term != term {
		return
	}
	c.electionElapsed = 0
}
