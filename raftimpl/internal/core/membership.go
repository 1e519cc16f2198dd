package core

import (
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/quorum"
)

// membership tracks the configurations in the log, hashicorp/raft style: a
// LogConfiguration entry takes effect as soon as it is appended (on the
// leader and on followers), and quorums are counted over the latest one.
//
// Invariants:
//   - committedIndex < pending[0].index < pending[1].index < ...
//   - every pending entry is in the log; truncating the log at i drops the
//     pending configurations at or above i, reverting latest to the one
//     before them.
//   - once the commit index reaches a pending configuration, it (and any
//     before it) becomes committed.
type membership struct {
	committed      raft.Configuration
	committedIndex uint64
	pending        []confEntry
	// voters caches the sorted voter IDs of latest().
	voters []raft.ServerID
}

type confEntry struct {
	index uint64
	conf  raft.Configuration
}

func (m *membership) init(cs ConfState) {
	m.committed = cs.Committed.Clone()
	m.committedIndex = cs.CommittedIndex
	if cs.LatestIndex > cs.CommittedIndex {
		m.pending = []confEntry{{index: cs.LatestIndex, conf: cs.Latest.Clone()}}
	}
	m.refresh()
}

// reset makes conf, at index, the committed and latest configuration (a
// snapshot was installed or restored).
func (m *membership) reset(conf raft.Configuration, index uint64) {
	m.committed = conf.Clone()
	m.committedIndex = index
	m.pending = nil
	m.refresh()
}

// knows reports whether id is in the committed configuration or in one of
// the pending ones.
func (m *membership) knows(id raft.ServerID) bool {
	if inConfiguration(m.committed, id) {
		return true
	}
	for _, e := range m.pending {
		if inConfiguration(e.conf, id) {
			return true
		}
	}
	return false
}

func inConfiguration(c raft.Configuration, id raft.ServerID) bool {
	for _, s := range c.Servers {
		if s.ID == id {
			return true
		}
	}
	return false
}

func (m *membership) refresh() { m.voters = quorum.Voters(m.latest()) }

func (m *membership) latest() raft.Configuration {
	if n := len(m.pending); n > 0 {
		return m.pending[n-1].conf
	}
	return m.committed
}

func (m *membership) latestIndex() uint64 {
	if n := len(m.pending); n > 0 {
		return m.pending[n-1].index
	}
	return m.committedIndex
}

// onAppend takes the configuration entries of ents into effect. It reports
// whether the latest configuration changed. An entry that does not decode is
// ignored as a configuration (the log keeps it; the apply loop reports it).
func (m *membership) onAppend(ents []*raft.Log) bool {
	changed := false
	for _, e := range ents {
		if e.Type != raft.LogConfiguration {
			continue
		}
		conf, err := raft.DecodeConfiguration(e.Data)
		if err != nil {
			continue
		}
		if e.Index <= m.latestIndex() {
			continue
		}
		m.pending = append(m.pending, confEntry{index: e.Index, conf: conf})
		changed = true
	}
	if changed {
		m.refresh()
	}
	return changed
}

// onTruncate drops the configurations at or above index i. It reports
// whether the latest configuration changed.
func (m *membership) onTruncate(i uint64) bool {
	n := len(m.pending)
	for n > 0 && m.pending[n-1].index >= i {
		n--
	}
	if n == len(m.pending) {
		return false
	}
	m.pending = m.pending[:n]
	m.refresh()
	return true
}

// onCommit promotes the pending configurations at or below commit.
func (m *membership) onCommit(commit uint64) {
	n := 0
	for n < len(m.pending) && m.pending[n].index <= commit {
		m.committed = m.pending[n].conf
		m.committedIndex = m.pending[n].index
		n++
	}
	if n > 0 {
		m.pending = append([]confEntry(nil), m.pending[n:]...)
	}
}

// maybeRecoverConf handles a truncation at index i that removed the
// committed configuration itself. That configuration was then never
// committed: a driver that restarts reports the last configuration of its log
// as committed (as hashicorp/raft does), not knowing the commit index. The
// configuration in effect is the last one before i, found by reading the log
// backwards. This is rare and bounded by the log's length.
func (c *Core) maybeRecoverConf(i uint64) {
	if i > c.conf.committedIndex {
		return
	}
	const chunk = 64
	first, err := c.log.storage.FirstIndex()
	if err != nil || first == 0 {
		first = 1
	}
	first = max(first, c.log.first)
	for hi := i; hi > first; {
		lo := max(first, hi-min(hi, chunk))
		ents, err := c.log.entries(lo, hi, 0, 0)
		if err != nil || len(ents) != int(hi-lo) {
			break
		}
		for j := len(ents) - 1; j >= 0; j-- {
			e := ents[j]
			if e.Type != raft.LogConfiguration {
				continue
			}
			conf, err := raft.DecodeConfiguration(e.Data)
			if err != nil {
				continue
			}
			c.conf.committed, c.conf.committedIndex, c.conf.pending = conf, e.Index, nil
			c.conf.refresh()
			return
		}
		hi = lo
	}
	// NB: no earlier configuration in the log: the snapshot's is the one
	// in effect. Without a snapshot, keep the one we have but stop
	// claiming an index for it.
	if s := c.log.snap; s.Index > 0 {
		c.conf.reset(s.Configuration, s.ConfigurationIndex)
		return
	}
	c.conf.committedIndex = 0
}
