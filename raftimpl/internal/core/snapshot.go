package core

import (
	"errors"
	"fmt"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/tracker"
)

// Snapshots, hashicorp/raft style: the driver takes local snapshots and
// compacts the log on its own schedule, then tells the core (ReportSnapshot).
// A leader that needs an entry it has compacted sends the follower its newest
// snapshot instead (MsgSnap); the follower installs it (Ready.Snapshot) and
// its log continues after it. RestoreLocal is the user's Restore: the leader
// replaces the state with a snapshot of its own making, and followers catch
// up from it the same way.

// ReportSnapshot tells the core that a local snapshot described by info
// became durable and that the stored log was compacted (Storage already
// shows both). The core forgets what it knew about compacted entries.
func (c *Core) ReportSnapshot(info SnapshotInfo) {
	c.log.compacted(info)
}

// LastIndex returns the index of the last entry of the log (the snapshot's
// index if the log after it is empty), durable or not.
func (c *Core) LastIndex() uint64 { return c.log.lastIndex() }

// CanRestore reports whether RestoreLocal would be accepted now, with no
// effect: the driver checks it before restoring the FSM from a user's
// snapshot, and nothing can change in between since it calls the core from
// one goroutine.
func (c *Core) CanRestore() error {
	switch {
	case c.role != roleLeader:
		return raft.ErrNotLeader
	case c.transfer != nil:
		return raft.ErrLeadershipTransferInProgress
	case c.conf.latestIndex() > c.log.committed:
		// hashicorp/raft: wait until the latest configuration is applied.
		return ErrConfChangePending
	}
	return nil
}

// RestoreLocal installs a user-supplied snapshot on the leader (the user's
// Restore). The driver has first checked CanRestore, then stored the
// snapshot durably at info.Index = max(LastIndex(), the user's meta.Index)+1
// with info.Term = the current term and info.Configuration (and
// ConfigurationIndex) the latest committed configuration, and restored the
// FSM from it. After RestoreLocal returns nil, the driver must delete its
// whole stored log before it persists the next Ready's Entries, which start
// at info.Index+1 (the core reads no stored entry at or below info.Index
// again).
//
// The log then continues after info.Index, which is committed and applied;
// followers, whose next entries are now compacted, get the snapshot through
// MsgSnap.
//
// NB: as with hashicorp/raft's Restore, the restore is applied here before
// any other server has it, so it is not fault-tolerant until a quorum has
// installed the snapshot: if this leader loses leadership first, the
// restore is lost and this node's state diverges from the cluster's. The
// driver learns it is safe once an entry proposed after it commits
// (hashicorp/raft waits for a no-op), and must otherwise report the restore
// as failed and rebuild the node.
func (c *Core) RestoreLocal(info SnapshotInfo) error {
	if err := c.CanRestore(); err != nil {
		return err
	}
	if info.Index <= c.log.lastIndex() || info.Term != c.term {
		return fmt.Errorf("%w: restore at %d/%d, last index %d, term %d",
			raft.ErrInvalidConfig, info.Index, info.Term, c.log.lastIndex(), c.term)
	}
	c.log.restore(info)
	c.conf.reset(info.Configuration, info.ConfigurationIndex)
	c.reconcileProgress(info.Index + 1)
	for _, id := range c.peers() {
		pr := c.prs[id]
		// NB: messages in flight carry entries that no longer exist;
		// probing again from Match finds the compacted gap and sends the
		// snapshot.
		pr.BecomeProbe()
	}
	c.prs[c.id].MaybeUpdate(info.Index)
	c.bcastAppend()
	return nil
}

// maybeSendSnapshot is called when building a MsgApp for to failed with err.
// If the entries it needs were compacted, it sends the newest snapshot
// instead (one at a time: the progress enters StateSnapshot) and reports
// whether it did.
func (c *Core) maybeSendSnapshot(to raft.ServerID, pr *tracker.Progress, err error) bool {
	if !errors.Is(err, ErrCompacted) && pr.Next >= c.log.first {
		return false
	}
	info := c.log.storage.SnapshotInfo()
	if info.Index == 0 || info.Index+1 < c.log.first {
		// NB: no snapshot covers the gap, which the Storage contract rules
		// out; the follower waits rather than get a useless snapshot.
		return false
	}
	pr.BecomeSnapshot(info.Index)
	c.send(Message{Type: MsgSnap, To: to, Snapshot: &info})
	return true
}

// handleSnapshotResponse is the leader's handling of MsgSnapResp.
func (c *Core) handleSnapshotResponse(m Message) {
	pr := c.prs[m.From]
	if pr.State != tracker.StateSnapshot {
		// An answer to a snapshot of an earlier state: still true news of
		// the follower's log, if it succeeded.
		if m.Success && m.Index <= c.log.lastIndex() && pr.MaybeUpdate(m.Index) && c.maybeCommit() {
			c.bcastAppend()
		}
		return
	}
	if !m.Success || m.Index > c.log.lastIndex() {
		pr.SnapshotFailed()
		return
	}
	if pr.SnapshotDone(m.Index) && c.maybeCommit() {
		c.bcastAppend()
		return
	}
	c.maybeSendAppend(m.From, true)
}

// handleSnapshot is a follower's MsgSnap: the driver has written the
// snapshot durably. A snapshot the log already covers (up to the commit
// index) is acknowledged without a restore; otherwise the log is reset to
// continue it, and the next Ready carries it for the driver to install. The
// answer goes out in that Ready's Messages, which the driver sends only
// after installing.
func (c *Core) handleSnapshot(m Message) error {
	if m.Snapshot == nil {
		return errCorrupt(m, errors.New("MsgSnap without a snapshot"))
	}
	info := *m.Snapshot
	if info.Index <= c.log.committed {
		c.send(Message{Type: MsgSnapResp, To: m.From, Success: true, Index: c.log.committed, Context: m.Context})
		return nil
	}
	if c.log.matchTerm(info.Index, info.Term) {
		// NB: the log already holds the snapshot's last entry, so it
		// holds everything the snapshot covers: commit instead of
		// restoring, and keep the entries after it, which this node may
		// have acknowledged to a leader.
		c.log.commitTo(info.Index)
		c.conf.onCommit(c.log.committed)
		c.send(Message{Type: MsgSnapResp, To: m.From, Success: true, Index: info.Index, Context: m.Context})
		return nil
	}
	info.Configuration = info.Configuration.Clone()
	c.log.restore(info)
	c.log.pendingSnap = &info
	c.conf.reset(info.Configuration, info.ConfigurationIndex)
	c.send(Message{Type: MsgSnapResp, To: m.From, Success: true, Index: info.Index, Context: m.Context})
	return nil
}
