package core

// maxCommittedBytesPerReady bounds the Data of Ready.CommittedEntries (at
// least one entry is always handed off).
const maxCommittedBytesPerReady = 4 << 20

func (c *Core) softState() SoftState { return SoftState{Role: c.role.raftState(), Leader: c.lead} }
func (c *Core) hardState() HardState { return HardState{Term: c.term, Vote: c.vote} }

// HasReady reports whether Ready has anything for the driver.
func (c *Core) HasReady() bool {
	return c.softState() != c.prevSoft ||
		c.hardState() != c.prevHard ||
		len(c.log.unstable.entries) > 0 ||
		len(c.msgs) > 0 ||
		len(c.readStates) > 0 ||
		c.log.pendingSnap != nil ||
		c.transferResult != nil ||
		c.log.hasNextCommitted()
}

// Ready returns what the driver must do next (see api.go and doc.go for the
// order). The driver must call Advance(rd) before any other method.
func (c *Core) Ready() Ready {
	var rd Ready
	if ss := c.softState(); ss != c.prevSoft {
		rd.SoftState = &ss
	}
	if hs := c.hardState(); hs != c.prevHard {
		rd.HardState = &hs
	}
	if n := len(c.log.unstable.entries); n > 0 {
		rd.Entries = append(rd.Entries, c.log.unstable.entries...)
	}
	rd.Messages, c.msgs = c.msgs, nil
	rd.CommittedEntries = c.log.nextCommitted(maxCommittedBytesPerReady)
	rd.ReadStates, c.readStates = c.readStates, nil
	if c.log.pendingSnap != nil {
		snap := *c.log.pendingSnap
		rd.Snapshot = &snap
	}
	rd.Transfer, c.transferResult = c.transferResult, nil
	c.roundSent = false
	return rd
}

// Advance acknowledges rd: its hard state and Entries are durable (and
// visible through Storage), its messages handed to the transport and its
// CommittedEntries to the apply loop.
func (c *Core) Advance(rd Ready) {
	if rd.SoftState != nil {
		c.prevSoft = *rd.SoftState
	}
	if rd.HardState != nil {
		c.prevHard = *rd.HardState
	}
	if rd.Snapshot != nil && c.log.pendingSnap != nil && c.log.pendingSnap.Index == rd.Snapshot.Index {
		// Installed: Storage now shows the snapshot and the log after it.
		c.log.pendingSnap = nil
	}
	if n := len(rd.CommittedEntries); n > 0 {
		if last := rd.CommittedEntries[n-1].Index; last > c.log.applied && last <= c.log.committed {
			c.log.applied = last
		}
	}
	if n := len(rd.Entries); n > 0 {
		last := rd.Entries[n-1]
		c.log.unstable.stableTo(last.Index, last.Term)
		if c.role == roleLeader {
			if self := c.prs[c.id]; self != nil && self.MaybeUpdate(c.log.stableIndex()) {
				if c.maybeCommit() {
					c.bcastAppend()
				}
			}
		}
	}
}
