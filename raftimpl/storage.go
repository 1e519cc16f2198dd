package raftimpl

import (
	"errors"
	"fmt"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
)

// StableStore keys, as hashicorp/raft writes them.
var (
	keyCurrentTerm  = []byte("CurrentTerm")
	keyLastVoteTerm = []byte("LastVoteTerm")
	keyLastVoteCand = []byte("LastVoteCand")
	// keyLastVoteCandID is Pontoon's own: the ServerID voted for, so the vote
	// survives an address change. hashicorp/raft ignores it.
	keyLastVoteCandID = []byte("PontoonLastVoteCandID")
)

// logStorage is the core's view of the LogStore (core.Storage), plus the
// driver's writes. Only the driver goroutine uses it, except during NewRaft.
type logStorage struct {
	logs   logstore.LogStore
	stable logstore.StableStore
	// first and last cache the LogStore's bounds; 0, 0 when empty.
	first, last uint64
	// snap is the newest durable snapshot (zero if none): the log may start
	// after it, and Term(snap.index) is answered from it.
	snap snapshotInfo
	// cache holds the newest stored entries.
	cache entryCache
	// compactor, when set, deletes compacted entries in the background:
	// entries below first may then still be stored for a while.
	compactor *compactor
}

func newLogStorage(logs logstore.LogStore, stable logstore.StableStore, snap snapshotInfo) (*logStorage, error) {
	s := &logStorage{logs: logs, stable: stable, snap: snap}
	var err error
	if s.first, err = logs.FirstIndex(); err != nil {
		return nil, fmt.Errorf("reading first log index: %w", err)
	}
	if s.last, err = logs.LastIndex(); err != nil {
		return nil, fmt.Errorf("reading last log index: %w", err)
	}
	if err := s.dropLogBehindSnapshot(); err != nil {
		return nil, err
	}
	return s, nil
}

// dropLogBehindSnapshot deletes a stored log that cannot continue the
// snapshot: one that ends before it (a gap would follow), or one whose entry
// at the snapshot's index has another term (it was replaced by the leader
// that sent the snapshot).
func (s *logStorage) dropLogBehindSnapshot() error {
	if s.snap.index == 0 || s.last == 0 {
		return nil
	}
	drop := s.last < s.snap.index
	if !drop && s.first <= s.snap.index {
		var l raft.Log
		if err := s.logs.GetLog(s.snap.index, &l); err != nil {
			return fmt.Errorf("reading log %d: %w", s.snap.index, err)
		}
		drop = l.Term != s.snap.term
	}
	if !drop {
		return nil
	}
	return s.reset(s.snap)
}

func isNotFound(err error) bool {
	return err != nil && (errors.Is(err, raft.ErrKeyNotFound) || err.Error() == "not found")
}

func getUint64(s logstore.StableStore, key []byte) (uint64, error) {
	v, err := s.GetUint64(key)
	if isNotFound(err) {
		return 0, nil
	}
	return v, err
}

// InitialState implements core.Storage: the persisted term and vote, and the
// two newest configurations found in the log.
func (s *logStorage) InitialState() (core.HardState, core.ConfState, error) {
	var hs core.HardState
	var cs core.ConfState
	term, err := getUint64(s.stable, keyCurrentTerm)
	if err != nil {
		return hs, cs, fmt.Errorf("reading %s: %w", keyCurrentTerm, err)
	}
	hs.Term = term
	voteTerm, err := getUint64(s.stable, keyLastVoteTerm)
	if err != nil {
		return hs, cs, fmt.Errorf("reading %s: %w", keyLastVoteTerm, err)
	}

	// Configurations: the snapshot's, then the two newest in the log after
	// it.
	if s.snap.index > 0 {
		cs.Latest, cs.LatestIndex = s.snap.configuration, s.snap.configurationIndex
		cs.Committed, cs.CommittedIndex = s.snap.configuration, s.snap.configurationIndex
	}
	var found []*raft.Log
	for i := s.last; i >= s.first && i > s.snap.index && i > 0 && len(found) < 2; i-- {
		l := new(raft.Log)
		if err := s.logs.GetLog(i, l); err != nil {
			return hs, cs, fmt.Errorf("reading log %d: %w", i, err)
		}
		if l.Type == raft.LogConfiguration {
			found = append(found, l)
		}
	}
	for i := len(found) - 1; i >= 0; i-- {
		c, err := raft.DecodeConfiguration(found[i].Data)
		if err != nil {
			return hs, cs, fmt.Errorf("log %d: %w", found[i].Index, err)
		}
		cs.Committed, cs.CommittedIndex = cs.Latest, cs.LatestIndex
		cs.Latest, cs.LatestIndex = c, found[i].Index
	}

	if voteTerm == term && term != 0 {
		if id, err := s.stable.Get(keyLastVoteCandID); err == nil && len(id) > 0 {
			hs.Vote = raft.ServerID(id)
		} else if addr, err := s.stable.Get(keyLastVoteCand); err == nil && len(addr) > 0 {
			// Written by hashicorp/raft: map the address back to an ID.
			hs.Vote = raft.ServerID(addr)
			for _, srv := range cs.Latest.Servers {
				if string(srv.Address) == string(addr) {
					hs.Vote = srv.ID
				}
			}
		} else if err != nil && !isNotFound(err) {
			return hs, cs, fmt.Errorf("reading %s: %w", keyLastVoteCand, err)
		}
	}
	return hs, cs, nil
}

// FirstIndex implements core.Storage.
func (s *logStorage) FirstIndex() (uint64, error) { return s.first, nil }

// LastIndex implements core.Storage.
func (s *logStorage) LastIndex() (uint64, error) { return s.last, nil }

// Term implements core.Storage.
func (s *logStorage) Term(i uint64) (uint64, error) {
	if i == 0 {
		return 0, nil
	}
	if i == s.snap.index {
		return s.snap.term, nil
	}
	if i < s.first || i > s.last {
		return 0, core.ErrUnavailable
	}
	if e, ok := s.cache.get(i); ok {
		return e.Term, nil
	}
	var l raft.Log
	if err := s.logs.GetLog(i, &l); err != nil {
		if errors.Is(err, raft.ErrLogNotFound) {
			return 0, core.ErrUnavailable
		}
		return 0, err
	}
	return l.Term, nil
}

// Entries implements core.Storage.
func (s *logStorage) Entries(lo, hi, maxBytes uint64) ([]*raft.Log, error) {
	if lo < s.first || hi > s.last+1 || lo >= hi {
		return nil, core.ErrUnavailable
	}
	out := make([]*raft.Log, 0, min(hi-lo, 1024))
	var size uint64
	for i := lo; i < hi; i++ {
		l, ok := s.cache.get(i)
		if !ok {
			l = new(raft.Log)
			if err := s.logs.GetLog(i, l); err != nil {
				if errors.Is(err, raft.ErrLogNotFound) {
					return nil, core.ErrUnavailable
				}
				return nil, err
			}
		}
		out = append(out, l)
		size += uint64(len(l.Data))
		if maxBytes > 0 && size >= maxBytes {
			break
		}
	}
	return out, nil
}

// append makes entries durable, first deleting any stored suffix they
// replace.
func (s *logStorage) append(entries []*raft.Log) error {
	if len(entries) == 0 {
		return nil
	}
	first := entries[0].Index
	if s.last != 0 && first <= s.last {
		s.cache.truncateFrom(first)
		if err := s.logs.DeleteRange(first, s.last); err != nil {
			return fmt.Errorf("deleting conflicting logs %d-%d: %w", first, s.last, err)
		}
		s.last = first - 1
		if s.last < s.first {
			s.first, s.last = 0, 0
		}
	}
	if err := s.logs.StoreLogs(entries); err != nil {
		s.cache.truncateFrom(first)
		return fmt.Errorf("storing logs %d-%d: %w", first, entries[len(entries)-1].Index, err)
	}
	s.appended(entries)
	return nil
}

// appended records entries the log writer stored: they continue the log.
func (s *logStorage) appended(entries []*raft.Log) {
	s.cache.add(entries)
	if s.first == 0 {
		s.first = entries[0].Index
	}
	s.last = entries[len(entries)-1].Index
}

// setHardState persists term and vote. voteAddr is the encoded address of
// the candidate voted for (nil when hs.Vote is empty).
func (s *logStorage) setHardState(hs core.HardState, voteAddr []byte) error {
	if hs.Vote != "" {
		if err := s.stable.Set(keyLastVoteCand, voteAddr); err != nil {
			return fmt.Errorf("persisting vote: %w", err)
		}
		if err := s.stable.Set(keyLastVoteCandID, []byte(hs.Vote)); err != nil {
			return fmt.Errorf("persisting vote: %w", err)
		}
		if err := s.stable.SetUint64(keyLastVoteTerm, hs.Term); err != nil {
			return fmt.Errorf("persisting vote term: %w", err)
		}
	}
	if err := s.stable.SetUint64(keyCurrentTerm, hs.Term); err != nil {
		return fmt.Errorf("persisting term: %w", err)
	}
	return nil
}

// compact records a new snapshot and deletes the log entries it covers,
// keeping trailing entries so followers slightly behind can still be
// caught up from the log: entries up to min(snap.index, last-trailing) go.
func (s *logStorage) compact(snap snapshotInfo, trailing uint64) error {
	if snap.index <= s.snap.index {
		return nil
	}
	s.snap = snap
	if s.last <= trailing || s.first == 0 {
		return nil
	}
	upTo := min(snap.index, s.last-trailing)
	if upTo < s.first {
		return nil
	}
	s.cache.dropBefore(upTo + 1)
	if s.compactor != nil {
		// Deleted in chunks off the loop; nothing reads below first.
		s.compactor.deleteRange(s.first, upTo)
	} else if err := s.logs.DeleteRange(s.first, upTo); err != nil {
		return fmt.Errorf("compacting logs %d-%d: %w", s.first, upTo, err)
	}
	s.first = upTo + 1
	return nil
}

// reset replaces the whole log by a snapshot: every stored entry goes.
func (s *logStorage) reset(snap snapshotInfo) error {
	s.cache.clear()
	if s.first != 0 && s.last >= s.first {
		if err := s.logs.DeleteRange(s.first, s.last); err != nil {
			return fmt.Errorf("deleting logs %d-%d for snapshot %d: %w", s.first, s.last, snap.index, err)
		}
	}
	s.first, s.last = 0, 0
	s.snap = snap
	return nil
}

// SnapshotInfo implements core.Storage.
func (s *logStorage) SnapshotInfo() core.SnapshotInfo { return *toCoreSnapshot(s.snap) }
