package core

// The simulator's safety checks of a Ready and of a node's state after
// every event (sim_test.go calls them).

// checkReady checks what must hold of a Ready before the driver acts on it.
func (s *sim) checkReady(n *simNode, rd Ready) {
	if rd.HardState != nil && rd.HardState.Term < n.store.hs.Term {
		s.failf("%s: term goes back from %d to %d", n.id, n.store.hs.Term, rd.HardState.Term)
	}
	if rd.HardState != nil && rd.HardState.Term == n.store.hs.Term && n.store.hs.Vote != "" && rd.HardState.Vote != n.store.hs.Vote {
		s.failf("%s: second vote in term %d: %s then %s", n.id, rd.HardState.Term, n.store.hs.Vote, rd.HardState.Vote)
	}
	for _, m := range rd.Messages {
		if m.From != n.id || m.To == n.id || m.Term == 0 {
			s.failf("%s: bad message %s", n.id, fmtMsg(m))
		}
	}
}

// checkCore checks the node's state after every event.
func (s *sim) checkCore(n *simNode) {
	c := n.core
	l := c.log
	if !(l.applied <= l.committed && l.committed <= l.lastIndex()) {
		s.failf("%s: applied %d, committed %d, last %d", n.id, l.applied, l.committed, l.lastIndex())
		return
	}
	// Election safety.
	if c.role == roleLeader {
		if other, ok := s.leaders[c.term]; ok && other != n.id {
			s.failf("election safety: %s and %s both lead term %d", other, n.id, c.term)
			return
		}
		if _, ok := s.leaders[c.term]; !ok {
			s.leaders[c.term] = n.id
			s.stats.elections++
			s.tracef("%s LEADER term=%d last=%d commit=%d", n.id, c.term, l.lastIndex(), l.committed)
		}
		// Leader completeness: entries committed in earlier terms are here.
		if n.leaderChecked != c.term {
			n.leaderChecked = c.term
			for i := uint64(1); i <= s.maxCommit; i++ {
				ce, ok := s.committed[i]
				if !ok || ce.inTerm >= c.term {
					continue
				}
				if !readable(c, i) && i <= l.snap.Index {
					continue // in the leader's snapshot
				}
				if t, err := l.term(i); err != nil || t != ce.term {
					s.failf("leader completeness: leader %s of term %d has term %d (%v) at %d, committed with term %d in term <= %d",
						n.id, c.term, t, err, i, ce.term, ce.inTerm)
					return
				}
			}
		}
	}
	// Commit tracking: what this node knows committed, and the term (an
	// upper bound) it was committed in.
	for i := n.prevCommit + 1; i <= l.committed; i++ {
		if !readable(c, i) && i <= l.snap.Index {
			continue // committed as part of a snapshot
		}
		t, err := l.term(i)
		if err != nil {
			s.failf("%s: committed entry %d unreadable: %v", n.id, i, err)
			return
		}
		if ce, ok := s.committed[i]; ok {
			if ce.term != t {
				s.failf("%s: commits term %d at %d, already committed with term %d", n.id, t, i, ce.term)
				return
			}
			if c.term < ce.inTerm {
				ce.inTerm = c.term
				s.committed[i] = ce
			}
		} else {
			s.committed[i] = committedEntry{term: t, inTerm: c.term}
		}
	}
	if l.committed > n.prevCommit {
		n.prevCommit = l.committed
	}
	s.maxCommit = max(s.maxCommit, l.committed)
}
