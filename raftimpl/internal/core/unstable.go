package core

import raft "github.com/pontoon-raft/raft"

// unstable is the tail of the log that is not yet durable: appended by the
// leader (Propose) or accepted by a follower (MsgApp) since the last Ready.
//
// Invariants:
//   - entries[i].Index == offset+i.
//   - Every log index >= offset is served from here, never from Storage, even
//     while Storage still holds an older suffix that a truncation replaced:
//     the driver deletes it when it persists the next Ready.
//   - After Advance, entries is empty and offset == Storage.LastIndex()+1.
type unstable struct {
	offset  uint64
	entries []*raft.Log
}

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
}

// slice returns the held entries in [lo, hi); lo >= offset.
func (u *unstable) slice(lo, hi uint64) []*raft.Log {
	return u.entries[lo-u.offset : hi-u.offset]
}

// stableTo records that entries up to index i (of term t) are durable.
func (u *unstable) stableTo(i, t uint64) {
	got, ok := u.maybeTerm(i)
	if !ok || got != t {
		// The entry was replaced after the Ready was taken: impossible under
		// the Ready/Advance contract, and harmless to ignore.
		return
	}
	n := i + 1 - u.offset
	u.entries = append([]*raft.Log(nil), u.entries[n:]...)
	u.offset = i + 1
}
