package core

// stepFollower handles a message of the current term in a follower.
func (c *Core) stepFollower(m Message) error {
	switch m.Type {
	case MsgApp:
		c.electionElapsed = 0
		c.lead = m.From
		return c.handleAppend(m)
	case MsgHeartbeat:
		c.electionElapsed = 0
		c.lead = m.From
		c.send(Message{Type: MsgHeartbeatResp, To: m.From, Success: true,
			LastLog: c.log.lastIndex(), Context: m.Context})
	case MsgSnap:
		c.electionElapsed = 0
		c.lead = m.From
		return c.handleSnapshot(m)
	case MsgReadIndex:
		// Not the leader: the follower's read fails.
		c.send(Message{Type: MsgReadIndexResp, To: m.From, Context: m.Context})
	case MsgReadIndexResp:
		c.handleReadIndexResponse(m)
	}
	return nil
}

// handleAppend is the follower's AppendEntries (fact sheet §8). The response
// goes out in Ready.Messages, which the driver sends only after persisting
// the Ready's Entries: a Success acknowledges durable entries.
func (c *Core) handleAppend(m Message) error {
	if m.PrevLogIndex < c.log.committed {
		// NB: entries up to the commit index agree with every leader's
		// log, and may be compacted here: skip them, and check agreement
		// at the commit index instead.
		skip := c.log.committed - m.PrevLogIndex
		if uint64(len(m.Entries)) <= skip {
			c.send(Message{Type: MsgAppResp, To: m.From, Index: m.PrevLogIndex + uint64(len(m.Entries)),
				Success: true, LastLog: c.log.lastIndex(), Context: m.Context})
			return nil
		}
		if m.Entries[skip-1] == nil {
			return errCorrupt(m, errMalformed)
		}
		m.PrevLogIndex, m.PrevLogTerm = c.log.committed, m.Entries[skip-1].Term
		m.Entries = m.Entries[skip:]
	}
	if !c.log.matchTerm(m.PrevLogIndex, m.PrevLogTerm) {
		// Tell the leader where to look: the last index whose entry might
		// still agree. Past our end, that is at most our last index; and
		// no entry whose term exceeds the leader's prev term can agree,
		// since the leader's entries before PrevLogIndex have terms <= it.
		probe := min(c.log.lastIndex(), m.PrevLogIndex-1)
		if m.PrevLogIndex > c.log.lastIndex() {
			probe = c.log.lastIndex()
		}
		hint := c.log.findConflictByTerm(probe, m.PrevLogTerm)
		// NB: LastLogTerm lets a leader that receives it skip a whole run
		// of this follower's terms too (see handleAppendResponse); the
		// hashicorp wire format cannot carry it, and then LastLog alone
		// still works.
		hintTerm, _ := c.log.term(hint)
		c.send(Message{Type: MsgAppResp, To: m.From, Index: m.PrevLogIndex,
			LastLog: hint, LastLogTerm: hintTerm, NoRetryBackoff: true, Context: m.Context})
		return nil
	}
	lastNew, truncatedAt, err := c.log.maybeAppend(m.PrevLogIndex, m.Entries)
	if err != nil {
		// NB: errTruncateCommitted means the message conflicts with a
		// committed entry, which a correct leader never sends: drop it
		// rather than lose committed state.
		return errCorrupt(m, err)
	}
	if truncatedAt != 0 {
		c.conf.onTruncate(truncatedAt)
		c.maybeRecoverConf(truncatedAt)
	}
	c.conf.onAppend(m.Entries)
	if c.log.commitTo(min(m.Commit, lastNew)) {
		c.conf.onCommit(c.log.committed)
	}
	c.send(Message{Type: MsgAppResp, To: m.From, Index: lastNew, Success: true,
		LastLog: c.log.lastIndex(), Context: m.Context})
	return nil
}
