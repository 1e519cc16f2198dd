package core

import (
	"errors"
	"fmt"

	raft "github.com/pontoon-raft/raft"
)

// raftLog is the core's view of the log: durable entries through Storage,
// the unstable tail in memory, and the commit and apply marks.
//
// Invariants: applied <= committed <= lastIndex(); committed never decreases;
// no entry at or below committed is ever truncated.
type raftLog struct {
	storage  Storage
	unstable unstable
	// committed is the highest index known to be committed.
	committed uint64
	// applied is the highest index handed to the driver in
	// Ready.CommittedEntries and acknowledged by Advance.
	applied uint64
}

func newRaftLog(storage Storage) (*raftLog, error) {
	first, err := storage.FirstIndex()
	if err != nil {
		return nil, fmt.Errorf("core: reading first index: %w", err)
	}
	last, err := storage.LastIndex()
	if err != nil {
		return nil, fmt.Errorf("core: reading last index: %w", err)
	}
	l := &raftLog{storage: storage, unstable: unstable{offset: last + 1}}
	// NB: entries below the first stored index were compacted into a
	// snapshot, so they are committed and applied (issue 5 will take the
	// snapshot's index from Storage instead).
	if first > 1 {
		l.committed = first - 1
		l.applied = first - 1
	}
	return l, nil
}

func (l *raftLog) lastIndex() uint64 { return l.unstable.lastIndex() }

// stableIndex returns the last index known durable and part of this log.
func (l *raftLog) stableIndex() uint64 { return l.unstable.offset - 1 }

func (l *raftLog) lastTerm() uint64 {
	t, _ := l.term(l.lastIndex())
	return t
}

// term returns the term of entry i; 0 for i == 0. It wraps ErrUnavailable for
// entries neither held nor stored (past the end, or compacted).
func (l *raftLog) term(i uint64) (uint64, error) {
	if i == 0 {
		return 0, nil
	}
	if t, ok := l.unstable.maybeTerm(i); ok {
		return t, nil
	}
	if i >= l.unstable.offset {
		return 0, ErrUnavailable
	}
	return l.storage.Term(i)
}

// matchTerm reports whether entry i exists with term t.
func (l *raftLog) matchTerm(i, t uint64) bool {
	got, err := l.term(i)
	return err == nil && got == t
}

// isUpToDate reports whether a log ending at (lastIndex, lastTerm) is at
// least as up to date as this one (Raft §5.4.1).
func (l *raftLog) isUpToDate(lastIndex, lastTerm uint64) bool {
	myTerm := l.lastTerm()
	return lastTerm > myTerm || (lastTerm == myTerm && lastIndex >= l.lastIndex())
}

// entries returns entries [lo, hi), at most maxCount of them and stopping
// once their Data reaches maxBytes (0: no byte bound); at least one entry is
// returned when lo < hi.
func (l *raftLog) entries(lo, hi uint64, maxCount int, maxBytes uint64) ([]*raft.Log, error) {
	if lo >= hi {
		return nil, nil
	}
	if maxCount > 0 && hi-lo > uint64(maxCount) {
		hi = lo + uint64(maxCount)
	}
	if hi > l.lastIndex()+1 {
		return nil, fmt.Errorf("core: entries [%d, %d) past last index %d: %w", lo, hi, l.lastIndex(), ErrUnavailable)
	}
	var out []*raft.Log
	if lo < l.unstable.offset {
		storedHi := min(hi, l.unstable.offset)
		budget := maxBytes
		if budget == 0 {
			budget = ^uint64(0)
		}
		ents, err := l.storage.Entries(lo, storedHi, budget)
		if err != nil {
			return nil, err
		}
		if len(ents) == 0 || ents[0].Index != lo {
			return nil, fmt.Errorf("core: storage returned no entry at %d: %w", lo, ErrUnavailable)
		}
		out = ents
		if uint64(len(ents)) < storedHi-lo {
			return limitSize(out, maxBytes), nil
		}
	}
	if hi > l.unstable.offset {
		out = append(out, l.unstable.slice(max(lo, l.unstable.offset), hi)...)
	}
	return limitSize(out, maxBytes), nil
}

// limitSize cuts ents after the entry that makes their Data exceed maxBytes,
// keeping at least one; maxBytes == 0 means no bound.
func limitSize(ents []*raft.Log, maxBytes uint64) []*raft.Log {
	if maxBytes == 0 || len(ents) == 0 {
		return ents
	}
	size := uint64(len(ents[0].Data))
	for i := 1; i < len(ents); i++ {
		size += uint64(len(ents[i].Data))
		if size > maxBytes {
			return ents[:i]
		}
	}
	return ents
}

// findConflictByTerm returns the largest index <= i whose term is <= t,
// stopping early at an index whose term cannot be read (compacted). Entries
// after it have terms above t, so none of them can match a log whose entries
// up to there have terms <= t: a follower uses it to answer a rejected
// MsgApp, a leader to interpret the follower's answer.
func (l *raftLog) findConflictByTerm(i, t uint64) uint64 {
	for ; i > 0; i-- {
		got, err := l.term(i)
		if err != nil || got <= t {
			return i
		}
	}
	return 0
}

// maybeAppend handles the entries of an accepted MsgApp whose prev entry
// matched: entries already present with the same term are skipped, the
// first conflicting entry truncates the log from there, and the rest is
// appended. It returns the index of the last entry of the message (prev +
// len(ents)), and errTruncateCommitted if a conflict lies at or below the
// commit index (a leader bug or a forged message: nothing is changed).
func (l *raftLog) maybeAppend(prev uint64, ents []*raft.Log) (lastNew uint64, truncatedAt uint64, err error) {
	lastNew = prev + uint64(len(ents))
	for i, e := range ents {
		if e == nil || e.Index != prev+1+uint64(i) {
			return 0, 0, errMalformed
		}
	}
	for i, e := range ents {
		if l.matchTerm(e.Index, e.Term) {
			continue
		}
		if e.Index <= l.lastIndex() {
			if e.Index <= l.committed {
				return 0, 0, errTruncateCommitted
			}
			truncatedAt = e.Index
		}
		l.unstable.truncateAndAppend(ents[i:])
		return lastNew, truncatedAt, nil
	}
	return lastNew, 0, nil
}

var (
	errTruncateCommitted = errors.New("core: conflicting entry at or below the commit index")
	errMalformed         = errors.New("core: malformed message")
)

// commitTo raises the commit index to i (never lowers it, never past the
// last index).
func (l *raftLog) commitTo(i uint64) bool {
	i = min(i, l.lastIndex())
	if i > l.committed {
		l.committed = i
		return true
	}
	return false
}

// hasNextCommitted reports whether committed entries await hand-off.
func (l *raftLog) hasNextCommitted() bool { return l.committed > l.applied }

// nextCommitted returns committed entries after applied, bounded by maxBytes.
func (l *raftLog) nextCommitted(maxBytes uint64) []*raft.Log {
	if !l.hasNextCommitted() {
		return nil
	}
	ents, err := l.entries(l.applied+1, l.committed+1, 0, maxBytes)
	if err != nil {
		return nil
	}
	return ents
}
