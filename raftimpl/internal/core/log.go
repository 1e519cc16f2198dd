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
// no entry at or below committed is ever truncated; snap.Index <= committed;
// first-1 <= snap.Index when snap.Index > 0 (the log continues the snapshot);
// first <= unstable.offset.
type raftLog struct {
	storage  Storage
	unstable unstable
	// snap is the newest snapshot the log continues: the durable one
	// (Storage.SnapshotInfo) or one being installed (pendingSnap). Its
	// index's term is known even when no entry is stored there.
	snap SnapshotInfo
	// first is the first index whose entry can be read; entries below it
	// are compacted (ErrCompacted).
	first uint64
	// pendingSnap is a snapshot accepted from the leader and not yet
	// acknowledged by Advance: the next Ready carries it.
	pendingSnap *SnapshotInfo
	// committed is the highest index known to be committed.
	committed uint64
	// entryOverhead is Config.EntryOverhead (EntrySize).
	entryOverhead uint64
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
	snap := storage.SnapshotInfo()
	if last < snap.Index {
		// NB: an empty log after the snapshot (or a stale one below it:
		// those entries are older than the snapshot and never read).
		first, last = snap.Index+1, snap.Index
	}
	if first == 0 {
		first = last + 1
	}
	l := &raftLog{storage: storage, unstable: newUnstable(last + 1), snap: snap, first: first}
	// NB: the snapshot and the entries below the first stored index are
	// committed, and the driver has restored the FSM from the snapshot.
	l.committed = max(snap.Index, first-1)
	l.applied = l.committed
	return l, nil
}

// restore makes the log continue snapshot info, dropping every entry (the
// unstable tail included): committed and applied move to info.Index.
func (l *raftLog) restore(info SnapshotInfo) {
	l.snap = info
	l.first = info.Index + 1
	l.unstable = newUnstable(info.Index + 1)
	l.committed = info.Index
	l.applied = info.Index
}

// compacted records a local snapshot and compaction the driver reports
// (Storage shows both).
func (l *raftLog) compacted(info SnapshotInfo) {
	if info.Index > l.snap.Index {
		l.snap = info
	}
	first, err := l.storage.FirstIndex()
	if err != nil {
		return
	}
	if first == 0 {
		// The stored log is empty: nothing before the tail is readable.
		first = l.unstable.offset
	}
	first = min(first, l.unstable.offset)
	if first > l.first {
		l.first = first
	}
}

func (l *raftLog) lastIndex() uint64 { return l.unstable.lastIndex() }

// stableIndex returns the last index known durable and part of this log.
func (l *raftLog) stableIndex() uint64 { return l.unstable.offset - 1 }

func (l *raftLog) lastTerm() uint64 {
	t, _ := l.term(l.lastIndex())
	return t
}

// term returns the term of entry i; 0 for i == 0. It returns ErrUnavailable
// past the end and ErrCompacted below the first readable entry (but the
// snapshot's own index).
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
	if i == l.snap.Index {
		return l.snap.Term, nil
	}
	if i < l.first {
		return 0, ErrCompacted
	}
	return l.storage.Term(i)
}

// matchTerm reports whether entry i exists with term t.
func (l *raftLog) matchTerm(i, t uint64) bool {
	got, err := l.term(i)
	return err == nil && got == t
}

// isNewer reports whether a log ending at (lastIndex, lastTerm) is strictly
// more up to date than this one.
func (l *raftLog) isNewer(lastIndex, lastTerm uint64) bool {
	myTerm := l.lastTerm()
	return lastTerm > myTerm || (lastTerm == myTerm && lastIndex > l.lastIndex())
}

// isUpToDate reports whether a log ending at (lastIndex, lastTerm) is at
// least as up to date as this one (Raft §5.4.1).
func (l *raftLog) isUpToDate(lastIndex, lastTerm uint64) bool {
	myTerm := l.lastTerm()
	return lastTerm > myTerm || (lastTerm == myTerm && lastIndex >= l.lastIndex())
}

// entries returns entries [lo, hi), at most maxCount of them and stopping
// before their size (EntrySize) passes maxBytes (0: no byte bound); at least
// one entry is returned when lo < hi.
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
	if lo < l.first {
		return nil, fmt.Errorf("core: entries from %d, first is %d: %w", lo, l.first, ErrCompacted)
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
			return l.limitSize(out, maxBytes), nil
		}
	}
	if hi > l.unstable.offset {
		out = append(out, l.unstable.slice(max(lo, l.unstable.offset), hi)...)
	}
	return l.limitSize(out, maxBytes), nil
}

// limitSize cuts ents after the entry that makes their size (EntrySize)
// exceed maxBytes, keeping at least one; maxBytes == 0 means no bound.
func (l *raftLog) limitSize(ents []*raft.Log, maxBytes uint64) []*raft.Log {
	if maxBytes == 0 || len(ents) == 0 {
		return ents
	}
	size := EntrySize(ents[0], l.entryOverhead)
	for i := 1; i < len(ents); i++ {
		size += EntrySize(ents[i], l.entryOverhead)
		if size > maxBytes {
			return ents[:i]
		}
	}
	return ents
}

// EntrySize is what e counts for against a byte bound (Config.MaxSizePerMsg):
// its Data and Extensions plus overhead, the driver's allowance for the
// entry's encoding around them.
func EntrySize(e *raft.Log, overhead uint64) uint64 {
	return uint64(len(e.Data)) + uint64(len(e.Extensions)) + overhead
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
