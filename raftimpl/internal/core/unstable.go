package core

import raft "github.com/pontoon-raft/raft"

// unstable is the tail of the log that is not yet known durable: appended by
// the leader (Propose) or accepted by a follower (MsgApp). Part of it may be
// in progress: handed to the driver in a Ready the driver acknowledged with
// AdvanceAsync, and being written while the core goes on.
//
// Invariants:
//   - entries[i].Index == offset+i.
//   - offset <= inProgress <= lastIndex()+1: entries below inProgress were
//     handed out (their write is in flight); the others go in the next Ready.
//   - Every log index >= offset is served from here, never from Storage, even
//     while Storage still holds an older suffix that a truncation replaced
//     (the driver deletes it when it persists the next Ready), or already
//     holds entries whose write completed but was not yet reported.
//   - After Advance, entries is empty and offset == inProgress.
type unstable struct {
	offset     uint64
	inProgress uint64
	entries    []*raft.Log
	// rewrite is set when a truncation replaced entries already handed out
	// (or stored): the next write is not a plain append and must be done in
	// place, after the writes in flight. Advance clears it.
	rewrite bool
}

func newUnstable(offset uint64) unstable { return unstable{offset: offset, inProgress: offset} }

// lastIndex returns the index of the last entry of the whole log.
func (u *unstable) lastIndex() uint64 {
	return u.offset + uint64(len(u.entries)) - 1
}

// maybeTerm returns the term of entry i if it is held here.
func (u *unstable) maybeTerm(i uint64) (uint64, bool) {
	if i < u.offset || i > u.lastIndex() {
		return 0, false
	}
	return u.entries[i-u.offset].Term, true
}

// toWrite returns the entries not yet handed to the driver.
func (u *unstable) toWrite() []*raft.Log { return u.entries[u.inProgress-u.offset:] }

// truncateAndAppend makes ents (consecutive, ents[0].Index <= lastIndex()+1)
// the end of the log, dropping whatever followed ents[0].Index-1.
func (u *unstable) truncateAndAppend(ents []*raft.Log) {
	after := ents[0].Index
	switch {
	case after == u.lastIndex()+1:
		u.entries = append(u.entries, ents...)
	case after <= u.offset:
		// NB: the new tail replaces stored entries too; Ready.Entries then
		// starts at or below the stored last index and the driver deletes
		// the stored suffix before writing.
		u.offset = after
		u.entries = append([]*raft.Log(nil), ents...)
	default:
		keep := u.entries[:after-u.offset]
		u.entries = append(append([]*raft.Log(nil), keep...), ents...)
	}
	// NB: replaced entries that were in progress are written again (in the
	// driver's order, after the write in flight); a late report of the old
	// write matches no entry (other term) and is ignored.
	if after < u.inProgress {
		u.rewrite = true
		u.inProgress = after
	}
}

// slice returns the held entries in [lo, hi); lo >= offset.
func (u *unstable) slice(lo, hi uint64) []*raft.Log {
	return u.entries[lo-u.offset : hi-u.offset]
}

// handedOut records that the entries up to index i went to the driver.
func (u *unstable) handedOut(i uint64) {
	if i+1 > u.inProgress && i <= u.lastIndex() {
		u.inProgress = i + 1
	}
}

// stableTo records that entries up to index i (of term t) are durable. It
// reports whether anything changed.
func (u *unstable) stableTo(i, t uint64) bool {
	got, ok := u.maybeTerm(i)
	if !ok || got != t {
		// The entry was replaced after the write was handed out (or was
		// already reported): the report is stale.
		return false
	}
	n := i + 1 - u.offset
	u.entries = append([]*raft.Log(nil), u.entries[n:]...)
	u.offset = i + 1
	u.inProgress = max(u.inProgress, u.offset)
	return true
}
