package core

import (
	"fmt"

	raft "github.com/pontoon-raft/raft"
)

// memStorage is the fake durable storage of tests: what a Ready persisted
// survives a crash (New is called again over the same memStorage); nothing
// else does. ents[i].Index == i+1; entries below first were compacted and
// are nil. The log continues snap.
type memStorage struct {
	hs   HardState
	ents []*raft.Log
	// first is the first entry not compacted (0 or 1: none compacted).
	first uint64
	snap  SnapshotInfo
}

// bootstrapStorage returns storage as hashicorp's BootstrapCluster leaves it:
// term 1 and the configuration at index 1.
func bootstrapStorage(conf raft.Configuration) *memStorage {
	return &memStorage{
		hs: HardState{Term: 1},
		ents: []*raft.Log{{Index: 1, Term: 1, Type: raft.LogConfiguration,
			Data: raft.EncodeConfiguration(conf)}},
	}
}

// InitialState reports the newest configuration of the log as the latest
// and the one before it as committed, as the driver does (at most one
// configuration is uncommitted at a time).
func (s *memStorage) InitialState() (HardState, ConfState, error) {
	var cs ConfState
	if s.snap.Index > 0 {
		cs.Latest, cs.LatestIndex = s.snap.Configuration, s.snap.ConfigurationIndex
		cs.Committed, cs.CommittedIndex = cs.Latest, cs.LatestIndex
	}
	for _, e := range s.ents {
		if e == nil || e.Index <= s.snap.Index || e.Type != raft.LogConfiguration {
			continue
		}
		c, err := raft.DecodeConfiguration(e.Data)
		if err != nil {
			return HardState{}, ConfState{}, err
		}
		cs.Committed, cs.CommittedIndex = cs.Latest, cs.LatestIndex
		cs.Latest, cs.LatestIndex = c, e.Index
	}
	return s.hs, cs, nil
}

func (s *memStorage) firstLive() uint64 { return max(s.first, 1) }

func (s *memStorage) FirstIndex() (uint64, error) {
	if s.firstLive() > uint64(len(s.ents)) {
		return 0, nil
	}
	return s.firstLive(), nil
}

func (s *memStorage) LastIndex() (uint64, error) {
	if s.firstLive() > uint64(len(s.ents)) {
		return 0, nil
	}
	return uint64(len(s.ents)), nil
}

func (s *memStorage) Term(i uint64) (uint64, error) {
	if i > 0 && i == s.snap.Index {
		return s.snap.Term, nil
	}
	if i < s.firstLive() {
		return 0, ErrCompacted
	}
	if i > uint64(len(s.ents)) {
		return 0, ErrUnavailable
	}
	return s.ents[i-1].Term, nil
}

// SnapshotInfo implements Storage.
func (s *memStorage) SnapshotInfo() SnapshotInfo { return s.snap }

// installSnapshot makes the log an empty one after info (a driver's
// handling of Ready.Snapshot, or of a user's restore).
func (s *memStorage) installSnapshot(info SnapshotInfo) {
	s.snap = info
	s.ents = make([]*raft.Log, info.Index)
	s.first = info.Index + 1
}

// compact drops the entries up to upTo (at most the snapshot's index).
func (s *memStorage) compact(upTo uint64) {
	upTo = min(upTo, s.snap.Index, uint64(len(s.ents)))
	for i := s.firstLive(); i <= upTo; i++ {
		s.ents[i-1] = nil
	}
	if upTo+1 > s.firstLive() {
		s.first = upTo + 1
	}
}

func (s *memStorage) Entries(lo, hi, maxBytes uint64) ([]*raft.Log, error) {
	if lo < s.firstLive() {
		return nil, fmt.Errorf("memStorage: Entries(%d, %d) from %d: %w", lo, hi, s.firstLive(), ErrCompacted)
	}
	if lo == 0 || lo >= hi || hi > uint64(len(s.ents))+1 {
		return nil, fmt.Errorf("memStorage: Entries(%d, %d) with %d stored: %w", lo, hi, len(s.ents), ErrUnavailable)
	}
	var out []*raft.Log
	var size uint64
	for i := lo; i < hi; i++ {
		e := s.ents[i-1]
		out = append(out, e)
		size += uint64(len(e.Data))
		if size >= maxBytes {
			break
		}
	}
	return out, nil
}

// persistHard is step 1 of the Ready contract.
func (s *memStorage) persistHard(rd Ready) {
	if rd.HardState != nil {
		s.hs = *rd.HardState
	}
}

// persistEntries is step 3: delete the stored suffix the Ready replaces,
// then append. It returns how many stored entries were deleted.
func (s *memStorage) persistEntries(rd Ready) (deleted int, err error) {
	if len(rd.Entries) == 0 {
		return 0, nil
	}
	first := rd.Entries[0].Index
	if first == 0 || first > uint64(len(s.ents))+1 {
		return 0, fmt.Errorf("Ready.Entries start at %d, storage ends at %d", first, len(s.ents))
	}
	deleted = len(s.ents) - int(first-1)
	s.ents = s.ents[:first-1]
	for _, e := range rd.Entries {
		cp := *e
		s.ents = append(s.ents, &cp)
	}
	return deleted, nil
}

// isRequest reports whether m may be sent before the Ready's entries are
// durable (step 2 of the contract).
func isRequest(m Message) bool {
	switch m.Type {
	case MsgApp, MsgHeartbeat, MsgVote, MsgPreVote, MsgTimeoutNow, MsgSnap, MsgReadIndex:
		return true
	}
	return false
}

// wire keeps only what survives hashicorp's wire format and the driver's
// reconstruction (api.go), so tests never rely on more. conflictTerm keeps
// MsgAppResp.LastLogTerm, which hashicorp's wire format cannot carry.
func wire(m Message, conflictTerm bool) Message {
	out := Message{Type: m.Type, From: m.From, To: m.To, Term: m.Term, Context: m.Context}
	switch m.Type {
	case MsgApp:
		out.PrevLogIndex, out.PrevLogTerm, out.Commit = m.PrevLogIndex, m.PrevLogTerm, m.Commit
		for _, e := range m.Entries {
			cp := *e
			out.Entries = append(out.Entries, &cp)
		}
	case MsgAppResp:
		out.Success, out.LastLog, out.NoRetryBackoff, out.Index = m.Success, m.LastLog, m.NoRetryBackoff, m.Index
		if conflictTerm {
			out.LastLogTerm = m.LastLogTerm
		}
	case MsgHeartbeatResp:
		out.Success = m.Success
	case MsgVote:
		out.LastLogIndex, out.LastLogTerm, out.LeadershipTransfer = m.LastLogIndex, m.LastLogTerm, m.LeadershipTransfer
	case MsgPreVote:
		out.LastLogIndex, out.LastLogTerm = m.LastLogIndex, m.LastLogTerm
	case MsgVoteResp, MsgPreVoteResp:
		out.Granted = m.Granted
	case MsgTimeoutNowResp:
		out.Success = m.Success
	case MsgSnap:
		info := *m.Snapshot
		info.Configuration = info.Configuration.Clone()
		out.Snapshot = &info
	case MsgSnapResp, MsgReadIndexResp:
		out.Success, out.Index = m.Success, m.Index
	}
	return out
}
