package core

import (
	"maps"
	"slices"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/quorum"
	"github.com/pontoon-raft/raft/raftimpl/internal/tracker"
)

const (
	trackerProbe     = tracker.StateProbe
	trackerReplicate = tracker.StateReplicate
)

// peers returns the servers the leader replicates to, sorted so that
// message order is deterministic.
func (c *Core) peers() []raft.ServerID { return c.peerIDs }

// reconcileProgress makes the leader track exactly the servers of the latest
// configuration (and itself): new ones are probed from next.
func (c *Core) reconcileProgress(next uint64) {
	if c.prs == nil {
		return
	}
	want := map[raft.ServerID]bool{c.id: true}
	for _, s := range c.conf.latest().Servers {
		want[s.ID] = true
	}
	for id := range c.prs {
		if !want[id] {
			delete(c.prs, id)
		}
	}
	for id := range want {
		if c.prs[id] == nil {
			c.prs[id] = tracker.NewProgress(next, c.cfg.MaxInflight)
		}
	}
	c.peerIDs = c.peerIDs[:0]
	for _, id := range slices.Sorted(maps.Keys(c.prs)) {
		if id != c.id {
			c.peerIDs = append(c.peerIDs, id)
		}
	}
	// NB: the leader's own progress only records its durable index; it is
	// in StateReplicate so observers do not read it as a lagging follower.
	self := c.prs[c.id]
	if self.State != trackerReplicate {
		self.BecomeReplicate()
	}
	self.Match = c.log.stableIndex()
	self.Next = c.log.lastIndex() + 1
}

// bcastAppend sends every follower what it is missing, commit index
// included.
func (c *Core) bcastAppend() {
	for _, id := range c.peers() {
		c.maybeSendAppend(id, false)
	}
}

// bcastHeartbeat starts a new heartbeat round: a heartbeat tagged with it
// goes to every follower. Rounds are never reused, so an answer to round r
// proves contact after round r was queued.
func (c *Core) bcastHeartbeat() {
	c.round++
	c.recordRound(c.round)
	for _, id := range c.peers() {
		c.send(Message{Type: MsgHeartbeat, To: id, Context: c.round})
	}
	c.roundSent = true
}

// maybeSendAppend sends MsgApp to a follower while its progress allows:
// one probe in StateProbe, up to the in-flight window in StateReplicate.
// Each message carries at most MaxAppendEntries entries and MaxSizePerMsg
// bytes. Without entries to send, a message goes out only if sendIfEmpty or
// the follower has not been told the current commit index. It reports
// whether anything was sent.
func (c *Core) maybeSendAppend(to raft.ServerID, sendIfEmpty bool) bool {
	pr := c.prs[to]
	if pr == nil || to == c.id {
		return false
	}
	sent := false
	for !pr.IsPaused() {
		prev := pr.Next - 1
		prevTerm, err := c.log.term(prev)
		if err != nil {
			// The entry was compacted: the follower needs a snapshot.
			return c.maybeSendSnapshot(to, pr, err) || sent
		}
		ents, err := c.log.entries(pr.Next, c.log.lastIndex()+1, c.cfg.MaxAppendEntries, c.cfg.MaxSizePerMsg)
		if err != nil {
			return c.maybeSendSnapshot(to, pr, err) || sent
		}
		last := prev + uint64(len(ents))
		commit := min(c.log.committed, last)
		if len(ents) == 0 && !sendIfEmpty && commit <= pr.SentCommit {
			return sent
		}
		c.send(Message{
			Type:         MsgApp,
			To:           to,
			PrevLogIndex: prev,
			PrevLogTerm:  prevTerm,
			Entries:      ents,
			Commit:       c.log.committed,
		})
		pr.SentAppend(last, commit)
		sent = true
		sendIfEmpty = false
		if len(ents) == 0 || pr.State != trackerReplicate {
			return sent
		}
	}
	return sent
}

// maybeCommit moves the commit index to the highest index a quorum of voters
// holds, provided that entry is of the current term (§5.4.2: earlier terms'
// entries commit only through it). It reports whether the index moved.
func (c *Core) maybeCommit() bool {
	idx := quorum.CommittedIndex(c.conf.voters, func(id raft.ServerID) (uint64, bool) {
		if pr := c.prs[id]; pr != nil {
			return pr.Match, true
		}
		return 0, false
	})
	if idx <= c.log.committed {
		return false
	}
	if t, err := c.log.term(idx); err != nil || t != c.term {
		return false
	}
	firstInTerm := !c.committedInTerm()
	c.log.commitTo(idx)
	c.conf.onCommit(c.log.committed)
	if firstInTerm {
		c.releaseQueuedReads()
	}
	if !c.maybeStepDownRemoved() {
		c.maybePromoteStaging()
	}
	return true
}

// committedInTerm reports whether the leader has committed an entry of its
// own term, after which its commit index is the cluster's.
func (c *Core) committedInTerm() bool {
	t, err := c.log.term(c.log.committed)
	return err == nil && t == c.term
}
