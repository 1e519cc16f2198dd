package tracker

import "fmt"

// State is the replication state of a follower.
type State uint8

const (
	// StateProbe: one message at a time until the agreement point is found.
	StateProbe State = iota
	// StateReplicate: stream entries, bounded by Inflights.
	StateReplicate
	// StateSnapshot: the follower needs entries the leader has compacted;
	// one snapshot is in flight (PendingSnapshot) and nothing else is sent
	// until it is answered.
	StateSnapshot
)

// String returns "probe", "replicate" or "snapshot".
func (s State) String() string {
	switch s {
	case StateProbe:
		return "probe"
	case StateReplicate:
		return "replicate"
	case StateSnapshot:
		return "snapshot"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Progress is the leader's view of one server (itself included, where only
// Match is meaningful: the last index the leader made durable).
type Progress struct {
	// Match is the highest index known to be in the follower's log and to
	// agree with the leader's. Invariant: Match < Next, and Match never
	// decreases while the leader stays leader.
	Match uint64
	// Next is the index of the next entry to send. Invariant: Next >= 1.
	Next uint64
	// State is probe or replicate; see the package doc.
	State State
	// ProbeSent is set in StateProbe once a message is out and cleared when
	// an answer (or a heartbeat response) arrives: at most one probe at a
	// time.
	ProbeSent bool
	// Inflights bounds unacknowledged messages in StateReplicate.
	Inflights *Inflights
	// RecentActive is set by any response from the follower and cleared by
	// the leader's check-quorum pass.
	RecentActive bool
	// ActiveLastPass is RecentActive as the last check-quorum pass found
	// it: with RecentActive it tells "answered within the last pass or
	// two" at any tick, not only just before a pass clears the flags.
	ActiveLastPass bool
	// SentCommit is the highest commit index sent to the follower in a
	// MsgApp, so the leader knows when it must tell it a newer one.
	SentCommit uint64
	// AckedRound is the highest heartbeat round (Message.Context) the
	// follower has answered in the leader's term; see VerifyLeader.
	AckedRound uint64
	// PendingSnapshot is the index of the snapshot in flight in
	// StateSnapshot; 0 in the other states.
	PendingSnapshot uint64
}

// NewProgress returns the progress of a follower the leader has just started
// talking to: probe at next, nothing known to match.
func NewProgress(next uint64, maxInflight int) *Progress {
	if next < 1 {
		next = 1
	}
	return &Progress{Next: next, State: StateProbe, Inflights: NewInflights(maxInflight)}
}

func (pr *Progress) resetState(s State) {
	pr.State = s
	pr.ProbeSent = false
	pr.PendingSnapshot = 0
	pr.Inflights.Reset()
}

// BecomeSnapshot records that a snapshot ending at index was sent: nothing
// more goes to the follower until SnapshotDone or SnapshotFailed.
func (pr *Progress) BecomeSnapshot(index uint64) {
	pr.resetState(StateSnapshot)
	pr.PendingSnapshot = index
}

// SnapshotDone records that the follower holds everything up to index (the
// snapshot it installed, or its commit index if it had that already) and
// goes back to probing after it. It reports whether Match moved.
func (pr *Progress) SnapshotDone(index uint64) bool {
	moved := pr.MaybeUpdate(index)
	pr.BecomeProbe()
	return moved
}

// SnapshotFailed goes back to probing, paused: the next probe (and so the
// next snapshot) waits for a sign of life from the follower, so a follower
// that cannot take a snapshot is not sent one in a tight loop.
func (pr *Progress) SnapshotFailed() {
	pr.BecomeProbe()
	pr.ProbeSent = true
}

// BecomeProbe goes back to probing right after Match.
func (pr *Progress) BecomeProbe() {
	pr.resetState(StateProbe)
	pr.Next = pr.Match + 1
}

// BecomeReplicate starts streaming right after Match.
func (pr *Progress) BecomeReplicate() {
	pr.resetState(StateReplicate)
	pr.Next = pr.Match + 1
}

// IsPaused reports whether the leader must not send another MsgApp now.
func (pr *Progress) IsPaused() bool {
	switch pr.State {
	case StateProbe:
		return pr.ProbeSent
	case StateReplicate:
		return pr.Inflights.Full()
	default:
		return true
	}
}

// SentAppend records a MsgApp that carried entries (prev, last]; last == prev
// for a message without entries.
func (pr *Progress) SentAppend(last, commit uint64) {
	switch pr.State {
	case StateReplicate:
		if last+1 > pr.Next {
			pr.Next = last + 1
		}
		pr.Inflights.Add(last)
	case StateProbe:
		pr.ProbeSent = true
	}
	if commit > pr.SentCommit {
		pr.SentCommit = commit
	}
}

// MaybeUpdate records that the follower holds everything up to n. It reports
// whether Match moved (a stale acknowledgement returns false).
func (pr *Progress) MaybeUpdate(n uint64) bool {
	updated := false
	if n > pr.Match {
		pr.Match = n
		updated = true
		pr.ProbeSent = false
	}
	if n+1 > pr.Next {
		pr.Next = n + 1
	}
	pr.Inflights.FreeLE(n)
	return updated
}

// MaybeDecrTo handles a rejection of the MsgApp whose PrevLogIndex was
// rejected, with the follower's hint (the index below which its log may still
// agree: its last index, or better). It reports whether the rejection was
// current, in which case Next moved back; a stale rejection changes nothing.
//
// In StateReplicate a current rejection drops to StateProbe.
func (pr *Progress) MaybeDecrTo(rejected, hint uint64) bool {
	if pr.State == StateReplicate {
		// Anything at or below Match is known to agree: the rejection is
		// from an older, reordered message.
		if rejected <= pr.Match {
			return false
		}
		pr.BecomeProbe()
		pr.Next = max(pr.Match+1, min(rejected, hint+1))
		return true
	}
	// In probe only the answer to the probe that is out counts.
	if pr.Next-1 != rejected {
		return false
	}
	pr.Next = max(pr.Match+1, min(rejected, hint+1), 1)
	pr.ProbeSent = false
	return true
}

// String is for logs and scenario output.
func (pr *Progress) String() string {
	s := fmt.Sprintf("%s match=%d next=%d", pr.State, pr.Match, pr.Next)
	if pr.State == StateReplicate {
		s += fmt.Sprintf(" inflight=%d", pr.Inflights.Count())
	}
	if pr.State == StateSnapshot {
		s += fmt.Sprintf(" pending=%d", pr.PendingSnapshot)
	}
	if pr.ProbeSent {
		s += " paused"
	}
	return s
}
