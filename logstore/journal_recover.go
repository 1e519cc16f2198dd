package logstore

import (
	"fmt"
	"os"
	"slices"

	raft "github.com/pontoon-raft/raft"
)

// recoverJournal reads the journal files, checks them against what the
// bbolt file records (ost; see journal_state.go) and returns the entries
// they hold above bbolt's last index (contiguous, from lo), each checked to
// decode, the generations of the files' headers (0 where none), and
// whether any file exists. Anything that shows acknowledged entries may be
// missing, or that the journal does not extend this bbolt file, returns an
// error wrapping raft.ErrCorrupt that names the file and the problem.
func (s *BoltStore) recoverJournal(paths [2]string, ost openState) (lo uint64, ents [][]byte, gens [2]uint64, found bool, err error) {
	var data [2][]byte
	var exists [2]bool
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return 0, nil, gens, true, fmt.Errorf("log store %s: journal %s: %w", s.path, p, err)
		}
		data[i], exists[i], found = b, true, true
	}
	refuse := func(format string, args ...any) (uint64, [][]byte, [2]uint64, bool, error) {
		return 0, nil, gens, found, fmt.Errorf("%w: log store %s: %s", raft.ErrCorrupt, s.path, fmt.Sprintf(format, args...))
	}

	if !ost.has {
		// No journal in use: files left here hold nothing of this store
		// (see journal_state.go). Empty ones are reused; any holding
		// records is refused rather than replayed or deleted.
		for i, p := range paths {
			if !exists[i] {
				continue
			}
			sc, err := scanJournal(data[i])
			if err != nil || (sc.magic && !sc.valid) || len(sc.recs) > 0 {
				return refuse("journal %s holds records or a damaged header, but %s records no journal in use: "+
					"the journal does not belong to this file (raft.db replaced or restored, written by another "+
					"program, or a journal of an earlier format). Nothing is replayed onto a file the journal may "+
					"not extend. Restore the raft.db the journal belongs to; or move the journal files away to "+
					"keep raft.db as it is (the entries only they hold are then lost)", p, s.path)
			}
			gens[i] = sc.hdr.gen
		}
		return 0, nil, gens, found, nil
	}
	st := ost.st
	if !st.ready {
		// Being set up or taken down: nothing was acknowledged through
		// the files.
		return 0, nil, gens, found, nil
	}
	if ost.stamp.txid != ost.txid {
		return refuse("the file was changed by another program (its newest bbolt transaction is %d, Pontoon's last was %d) "+
			"while Pontoon's journal (%s, %s) was in use: the journal may hold acknowledged entries the file lacks, and "+
			"is never replayed onto a file another writer changed. Restore the raft.db Pontoon left; or keep the file "+
			"as it is and lose the journal's entries with logstore.DiscardJournal; or wipe the node's data and rejoin it. "+
			"(Hand a crashed node's directory to another reader only after opening it with logstore.BoltStore once and "+
			"closing it.)", ost.txid, ost.stamp.txid, paths[0], paths[1])
	}

	var maxGen uint64
	for i, p := range paths {
		if !exists[i] {
			return refuse("journal %s is missing, but the store records a journal in use (id %016x): "+
				"acknowledged entries only it held are lost", p, st.id)
		}
		if int64(len(data[i])) != st.size {
			return refuse("journal %s is %d bytes, but was created with %d: truncated or replaced", p, len(data[i]), st.size)
		}
		h, ok, _ := parseJournalHeader(data[i])
		switch {
		case !ok:
			return refuse("journal %s has no valid header (zeroed or damaged), but the store records it in use (id %016x)", p, st.id)
		case h.id != st.id:
			return refuse("journal %s belongs to another journal (id %016x; the store records %016x): copied from another store or another run", p, h.id, st.id)
		case h.size != st.size:
			return refuse("journal %s has a header for a file of %d bytes, but was created with %d", p, h.size, st.size)
		case h.minTx > ost.txid:
			return refuse("journal %s was activated after bbolt transaction %d committed, but the file's newest transaction is %d: "+
				"%s lost its latest transactions (a damaged or stale meta page, or an older copy of the file)", p, h.minTx, ost.txid, s.path)
		}
		gens[i] = h.gen
		maxGen = max(maxGen, h.gen)
	}
	if gens[0] == gens[1] {
		return refuse("journal files %s and %s both have generation %d", paths[0], paths[1], gens[0])
	}
	if ost.stamp.gen > maxGen {
		return refuse("the store records journal generation %d, but the newest journal file (%s, %s) has %d", ost.stamp.gen, paths[0], paths[1], maxGen)
	}

	type file struct {
		path string
		sc   journalScan
	}
	var files []file
	for i, p := range paths {
		if endMarkAt(data[i], journalKey{st.id, maxGen + 1}, journalDataStart) {
			// NB: the file was being activated: its end mark of the next
			// generation is written, its header not yet. It is reused
			// only once every entry it held is in bbolt.
			continue
		}
		sc, err := scanJournal(data[i])
		if err != nil {
			return refuse("journal %s: %v", p, err)
		}
		if sc.endKind == endNone {
			return refuse("journal %s: records are missing: at offset %d there is neither a record, nor the end mark of the last write, "+
				"nor a write torn by a crash (the file was zeroed, cut or damaged there)", p, sc.end)
		}
		if sc.hdr.gen == ost.stamp.gen && sc.end < ost.stamp.off {
			return refuse("journal %s: records are missing: the store recorded the journal reaching offset %d, but its records end at offset %d",
				p, ost.stamp.off, sc.end)
		}
		for _, r := range sc.recs {
			if int32(r.tx-uint32(ost.txid)) > 0 {
				return refuse("journal %s: the record at offset %d was written after bbolt transaction %d (low 32 bits) committed, "+
					"but the file's newest transaction is %d: %s lost its latest transactions (a damaged or stale meta page, "+
					"or an older copy of the file)", p, r.off, r.tx, ost.txid, s.path)
			}
		}
		files = append(files, file{p, sc})
	}
	slices.SortStableFunc(files, func(a, b file) int {
		switch {
		case a.sc.hdr.gen < b.sc.hdr.gen:
			return -1
		case a.sc.hdr.gen > b.sc.hdr.gen:
			return 1
		}
		return 0
	})

	last, err := s.boltLast()
	if err != nil {
		return 0, nil, gens, found, err
	}
	for _, f := range files {
		for _, r := range f.sc.recs {
			if len(ents) == 0 {
				if r.last() <= last {
					continue // in bbolt already: checkpointed before the crash
				}
				// NB: an empty bbolt may be followed by any index (the log
				// starts after a snapshot).
				if last != 0 && r.first > last+1 {
					return refuse("journal %s: record at offset %d starts at index %d, but the log ends at %d", f.path, r.off, r.first, last)
				}
				lo = max(r.first, last+1)
			} else if end := lo + uint64(len(ents)); r.first > end {
				return refuse("journal %s: record at offset %d starts at index %d, but the journal before it ends at %d", f.path, r.off, r.first, end-1)
			}
			for k, e := range r.ents {
				idx := r.first + uint64(k)
				if idx < lo {
					continue
				}
				var l raft.Log
				if err := decodeLog(e, &l); err != nil || l.Index != idx {
					return refuse("journal %s: record at offset %d: entry %d does not decode (index %d, %v)", f.path, r.off, idx, l.Index, err)
				}
				if p := idx - lo; p < uint64(len(ents)) {
					ents[p] = e // a later record overwrote the entry
				} else {
					ents = append(ents, e)
				}
			}
		}
	}
	return lo, ents, gens, found, nil
}
