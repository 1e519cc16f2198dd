package core

// maxCommittedBytesPerReady bounds the Data of Ready.CommittedEntries (at
// least one entry is always handed off).
const maxCommittedBytesPerReady = 4 << 20

// maxSpare bounds the capacity of a Messages or ReadStates buffer kept for
// reuse; a larger one (a burst) is left to the garbage collector.
const maxSpare = 256

func (c *Core) softState() SoftState { return SoftState{Role: c.role.raftState(), Leader: c.lead} }
func (c *Core) hardState() HardState { return HardState{Term: c.term, Vote: c.vote} }

// HasReady reports whether Ready has anything for the driver.
func (c *Core) HasReady() bool {
	return c.softState() != c.prevSoft ||
		c.hardState() != c.prevHard ||
		len(c.log.unstable.toWrite()) > 0 ||
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
	// NB: new() inside the branches: taking the address of a variable
	// declared in the if statement allocates on every call.
	if ss := c.softState(); ss != c.prevSoft {
		rd.SoftState = new(SoftState)
		*rd.SoftState = ss
	}
	if hs := c.hardState(); hs != c.prevHard {
		rd.HardState = new(HardState)
		*rd.HardState = hs
	}
	if w := c.log.unstable.toWrite(); len(w) > 0 {
		rd.Entries = append(rd.Entries, w...)
	}
	// NB: the buffers Advance gave back collect later Readys' output, so a
	// steady state of reads and heartbeats allocates none.
	rd.Messages, c.msgs = c.msgs, reuse(&c.spareMsgs)
	rd.CommittedEntries = c.log.nextCommitted(maxCommittedBytesPerReady)
	rd.ReadStates, c.readStates = c.readStates, reuse(&c.spareReads)
	if c.log.pendingSnap != nil {
		snap := *c.log.pendingSnap
		rd.Snapshot = &snap
	}
	rd.Transfer, c.transferResult = c.transferResult, nil
	c.roundSent, c.remoteFresh = false, false
	return rd
}

// Advance acknowledges rd: its hard state and Entries are durable (and
// visible through Storage), its messages handed to the transport and its
// CommittedEntries to the apply loop. Entries handed out earlier with
// AdvanceAsync count as durable too when rd.Entries is not empty: the driver
// wrote rd.Entries after those writes completed.
func (c *Core) Advance(rd Ready) {
	c.advance(rd)
	c.log.unstable.rewrite = false
	if n := len(rd.Entries); n > 0 {
		last := rd.Entries[n-1]
		c.log.unstable.handedOut(last.Index)
		if c.log.unstable.stableTo(last.Index, last.Term) {
			c.selfStable()
		}
	}
}

// CanAdvanceAsync reports whether rd may be acknowledged with AdvanceAsync:
// this node leads or follows, rd changes no hard state, installs no
// snapshot and at most appends to the log. Other Readys are done in place,
// after the writes in flight.
func (c *Core) CanAdvanceAsync(rd Ready) bool {
	return (c.role == roleLeader || c.role == roleFollower) &&
		rd.HardState == nil && rd.Snapshot == nil && !c.log.unstable.rewrite &&
		(len(rd.Entries) == 0 || rd.Entries[0].Index == c.log.unstable.inProgress)
}

// AdvanceAsync acknowledges rd like Advance, except that rd.Entries are not
// yet durable: the driver is writing them (after every write it was handed
// before) while the core goes on, and reports completion with
// EntriesPersisted. Only for a Ready for which CanAdvanceAsync holds. The
// driver sends rd's MsgAppResp and MsgSnapResp (which acknowledge entries
// as durable) only once every write handed out so far completed, in order;
// the other messages go at once. A leader counts itself towards commit only
// for entries reported durable. Committed entries may be applied before
// this node's own write completes: a majority holds them.
func (c *Core) AdvanceAsync(rd Ready) {
	c.advance(rd)
	if n := len(rd.Entries); n > 0 {
		c.log.unstable.handedOut(rd.Entries[n-1].Index)
	}
}

// EntriesPersisted reports that the entries handed out through index (whose
// term is term) are durable and visible through Storage. A report about
// entries replaced since (another term at index) is ignored. It may be
// called at any time but between Ready and Advance.
func (c *Core) EntriesPersisted(index, term uint64) {
	if index >= c.log.unstable.inProgress {
		return // never handed out: cannot have been written
	}
	if c.log.unstable.stableTo(index, term) {
		c.selfStable()
	}
}

// advance is what Advance and AdvanceAsync share: everything but Entries.
// It takes back rd's Messages and ReadStates buffers: the driver must not
// use them after it (api.go).
func (c *Core) advance(rd Ready) {
	giveBack(&c.spareMsgs, rd.Messages)
	giveBack(&c.spareReads, rd.ReadStates)
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
}

// selfStable moves a leader's own match index to its durable index, which
// may commit entries.
func (c *Core) selfStable() {
	if c.role != roleLeader {
		return
	}
	if self := c.prs[c.id]; self != nil && self.MaybeUpdate(c.log.stableIndex()) {
		if c.maybeCommit() {
			c.bcastAppend()
		}
	}
}

// giveBack keeps buf, a Ready's buffer the driver is done with, for reuse.
func giveBack[T any](spare *[][]T, buf []T) {
	if cap(buf) == 0 || cap(buf) > maxSpare || len(*spare) >= 2 {
		return
	}
	*spare = append(*spare, buf)
}

// reuse returns an empty buffer to collect the next Ready's output in: the
// older of two given back, so a Ready's arrays stay as they were until the
// Ready after it (tests read them after Advance); nil otherwise.
func reuse[T any](spare *[][]T) []T {
	s := *spare
	if len(s) < 2 {
		return nil
	}
	buf := s[0]
	s[0], s[1] = s[1], nil
	*spare = s[:1]
	clear(buf[:cap(buf)]) // drops the entries and snapshots it held
	return buf[:0]
}
