package logstore

import "os"

// JournalSyncs returns how many fdatasyncs s made on journal files, -1
// without a journal.
func JournalSyncs(s *BoltStore) int64 {
	if s.j == nil {
		return -1
	}
	return s.j.syncs.Load()
}

// WaitCheckpoint waits for the checkpoint in flight, if any, so the bbolt
// file is not being written (until the next StoreLogs).
func WaitCheckpoint(s *BoltStore) error {
	if s.j == nil {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.waitCheckpointLocked()
}

// JournalTail returns the active journal file and the offset of its next
// record.
func JournalTail(s *BoltStore) (string, int64) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.j.paths[s.j.active], s.j.tail
}

// BoltTxID returns the id of bbolt's last committed transaction.
func BoltTxID(s *BoltStore) int {
	tx, err := s.db.Begin(false)
	if err != nil {
		return -1
	}
	defer func() { _ = tx.Rollback() }()
	return tx.ID()
}

// BreakJournal closes the journal files under the store, so the next
// journal write fails.
func BreakJournal(s *BoltStore) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for _, f := range s.j.files {
		_ = f.Close()
	}
}

// PendingLen returns how many entries are only in the journal.
func PendingLen(s *BoltStore) int {
	s.pmu.RLock()
	defer s.pmu.RUnlock()
	return len(s.pmu.ents)
}

// HoldBoltWriter opens a bbolt write transaction, so every other bbolt
// write waits, until the returned function is called.
func HoldBoltWriter(s *BoltStore) (release func(), err error) {
	tx, err := s.db.Begin(true)
	if err != nil {
		return nil, err
	}
	return func() { _ = tx.Rollback() }, nil
}

// JournalRecordOffsets returns the offsets of the valid records of the
// journal file at path, followed by the offset just past the last one.
func JournalRecordOffsets(path string) ([]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sc, err := scanJournal(b)
	if err != nil {
		return nil, err
	}
	var offs []int64
	for _, r := range sc.recs {
		offs = append(offs, r.off)
	}
	return append(offs, sc.end), nil
}

// MarkNextActivation writes, into the copy at path of s's inactive journal
// file, the end mark that activating it next would write first: the state
// a crash leaves in the middle of a rotation.
func MarkNextActivation(s *BoltStore, path string) error {
	s.wmu.Lock()
	i, k := 1-s.j.active, journalKey{s.j.id, max(s.j.gens[0], s.j.gens[1]) + 1}
	s.wmu.Unlock()
	f, err := os.OpenFile(journalPaths(path)[i], os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt(appendEndMark(nil, k, journalDataStart), journalDataStart)
	return err
}

// BeginClose does what Close does before it removes the journal files:
// every pending entry into bbolt, and the journal recorded not ready.
func BeginClose(s *BoltStore) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.flushLocked(); err != nil {
		return err
	}
	return s.writeJournalState(&journalState{id: s.j.id, size: s.j.size})
}

// ResidentTrims returns how many times s released its mapping's resident
// pages, and how many attempts failed.
func ResidentTrims(s *BoltStore) (done, failed int64) {
	return s.rt.trims.Load(), s.rt.failed.Load()
}

// CheckpointMaxEntries is how many appended entries start a checkpoint.
const CheckpointMaxEntries = ckptMaxEntries

// FlushPending writes every pending entry into bbolt (the journal files are
// unchanged), as a checkpoint does.
func FlushPending(s *BoltStore) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.flushLocked()
}
