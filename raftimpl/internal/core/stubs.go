package core

import raft "github.com/pontoon-raft/raft"

func (c *Core) tickLeader()   {}
func (c *Core) tickElection() {}

// Step feeds a message to the core.
func (c *Core) Step(m Message) error { return nil }

// Propose appends entries.
func (c *Core) Propose(entries []*raft.Log) (first, last uint64, err error) {
	return 0, 0, raft.ErrNotLeader
}

// VerifyLeader starts a leadership check.
func (c *Core) VerifyLeader(id uint64) {}

// HasReady reports pending work.
func (c *Core) HasReady() bool { return false }

// Ready returns pending work.
func (c *Core) Ready() Ready { return Ready{} }

// Advance acknowledges rd.
func (c *Core) Advance(rd Ready) {}

type raftLog struct {
	committed, applied uint64
}

func newRaftLog(s Storage) (*raftLog, error)       { return &raftLog{}, nil }
func (l *raftLog) lastIndex() uint64                { return 0 }
func (l *raftLog) term(i uint64) (uint64, error)    { return 0, nil }

type membership struct {
	committed      raft.Configuration
	committedIndex uint64
}

func (m *membership) init(cs ConfState)           {}
func (m *membership) latest() raft.Configuration  { return m.committed }
func (m *membership) latestIndex() uint64          { return 0 }
