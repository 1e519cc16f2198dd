package logstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	raft "github.com/pontoon-raft/raft"
	"go.etcd.io/bbolt"
)

// FirstIndex implements LogStore. Pending journal entries (not yet in
// bbolt) count.
func (s *BoltStore) FirstIndex() (uint64, error) {
	// NB: the read lock is held across the bbolt read: a checkpoint drops
	// entries from pending only after its commit, so an empty bbolt seen
	// here means the pending entries are still there.
	s.pmu.RLock()
	defer s.pmu.RUnlock()
	first, err := s.boltFirst()
	if err != nil {
		return 0, err
	}
	if len(s.pmu.ents) > 0 && (first == 0 || s.pmu.lo < first) {
		return s.pmu.lo, nil
	}
	return first, nil
}

// LastIndex implements LogStore. Pending journal entries (not yet in
// bbolt) count.
func (s *BoltStore) LastIndex() (uint64, error) {
	s.pmu.RLock()
	if n := len(s.pmu.ents); n > 0 {
		// Pending entries always follow bbolt's last entry.
		last := s.pmu.lo + uint64(n) - 1
		s.pmu.RUnlock()
		return last, nil
	}
	s.pmu.RUnlock()
	return s.boltLast()
}

// boltFirst and boltLast return bbolt's first and last log index, 0 if its
// bucket is empty.
func (s *BoltStore) boltFirst() (uint64, error) {
	return s.boundary("first index", (*bbolt.Cursor).First)
}

func (s *BoltStore) boltLast() (uint64, error) {
	return s.boundary("last index", (*bbolt.Cursor).Last)
}

// boundary returns the index of the key the cursor move finds, 0 if none.
func (s *BoltStore) boundary(op string, move func(*bbolt.Cursor) ([]byte, []byte)) (idx uint64, err error) {
	defer guardFor(s.path, op, &err)()
	tx, err := s.db.Begin(false)
	if err != nil {
		return 0, fmt.Errorf("log store %s: %s: %w", s.path, op, err)
	}
	defer func() { _ = tx.Rollback() }()
	b := tx.Bucket(bucketLogs)
	if b == nil {
		return 0, nil
	}
	k, _ := move(b.Cursor())
	if k == nil {
		return 0, nil
	}
	if len(k) != 8 {
		return 0, fmt.Errorf("%w: log store %s: %s: key of %d bytes", raft.ErrCorrupt, s.path, op, len(k))
	}
	return binary.BigEndian.Uint64(k), nil
}

// GetLog implements LogStore. A missing index returns raft.ErrLogNotFound
// itself; a value that does not decode returns an error wrapping
// raft.ErrCorrupt. log is written only on success and never aliases the
// file.
func (s *BoltStore) GetLog(index uint64, log *raft.Log) (err error) {
	defer s.noteGetLog(time.Now())
	// Pending first: an entry leaves pending only after the checkpoint
	// that put it in bbolt committed, so it is always in one or the other.
	if enc := s.pendingEntry(index); enc != nil {
		if err := decodeLog(enc, log); err != nil {
			return fmt.Errorf("%w: log store %s: journal entry %d does not decode: %v", raft.ErrCorrupt, s.path, index, err)
		}
		return nil
	}
	defer guardFor(s.path, "get log", &err)()
	tx, err := s.db.Begin(false)
	if err != nil {
		return fmt.Errorf("log store %s: get log %d: %w", s.path, index, err)
	}
	defer func() { _ = tx.Rollback() }()
	b := tx.Bucket(bucketLogs)
	if b == nil {
		return raft.ErrLogNotFound
	}
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], index)
	v := b.Get(key[:])
	if v == nil {
		return raft.ErrLogNotFound
	}
	s.noteRead(len(v))
	var l raft.Log
	if err := decodeLog(v, &l); err != nil {
		return fmt.Errorf("%w: log store %s: log %d does not decode: %v", raft.ErrCorrupt, s.path, index, err)
	}
	if l.Index != index {
		return fmt.Errorf("%w: log store %s: log %d holds entry %d", raft.ErrCorrupt, s.path, index, l.Index)
	}
	*log = l
	return nil
}

// StoreLog implements LogStore.
func (s *BoltStore) StoreLog(log *raft.Log) error {
	return s.StoreLogs([]*raft.Log{log})
}

// StoreLogs implements LogStore. With the journal (the default) a batch
// that appends right after the last entry is one record in the journal:
// one write and one fdatasync; see bolt_journal.go. Any other batch (a gap,
// an overwrite, one larger than a journal file), and every batch with
// Options.NoJournal, is one bbolt transaction and one commit. Entries are
// encoded into buffers reused across calls, so a call allocates nothing per
// entry in the steady state.
func (s *BoltStore) StoreLogs(logs []*raft.Log) (err error) {
	if len(logs) == 0 {
		return nil
	}
	for i, l := range logs {
		if l == nil {
			return fmt.Errorf("log store %s: store logs: nil entry at position %d", s.path, i)
		}
	}
	defer s.afterStoreLogs(logs, time.Now(), &err)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	defer guardFor(s.path, "store logs", &err)()
	if s.j != nil {
		done, err := s.journalStoreLogsLocked(logs)
		if done {
			return err
		}
		// NB: the batch goes straight to bbolt. Pending entries go first,
		// so that bbolt's last index covers every journal entry and the
		// replay after a crash (which skips what bbolt has) stays right.
		if err := s.flushLocked(); err != nil {
			return err
		}
	}
	return s.boltStoreLogsLocked(logs)
}

// boltStoreLogsLocked writes logs in one bbolt transaction. s.wmu is held.
func (s *BoltStore) boltStoreLogsLocked(logs []*raft.Log) (err error) {
	vals, ends, keys, valv := s.wmu.vals[:0], s.wmu.ends[:0], s.wmu.keys[:0], s.wmu.valv[:0]
	for _, l := range logs {
		if vals, err = appendLog(vals, l); err != nil {
			return fmt.Errorf("log store %s: store logs: %w", s.path, err)
		}
		ends = append(ends, len(vals))
		keys = binary.BigEndian.AppendUint64(keys, l.Index)
	}
	defer func() {
		// Keep the buffers for the next batch unless a huge one grew them.
		clear(valv)
		if cap(vals) <= maxRetainedBuffer {
			s.wmu.vals, s.wmu.ends, s.wmu.keys, s.wmu.valv = vals[:0], ends[:0], keys[:0], valv[:0]
		} else {
			s.wmu.vals, s.wmu.ends, s.wmu.keys, s.wmu.valv = nil, nil, nil, nil
		}
	}()
	start := 0
	for i := range logs {
		valv = append(valv, vals[start:ends[i]:ends[i]])
		start = ends[i]
	}
	return s.putEncoded(keys, valv)
}

// putEncoded writes encoded entries in one bbolt transaction and commits:
// vals[i] under the 8-byte key keys[8i:8i+8]. It is the one write path into
// bucket "logs", used by StoreLogs and by journal checkpoints, and is safe
// to call from any goroutine (bbolt serializes write transactions).
func (s *BoltStore) putEncoded(keys []byte, vals [][]byte) (err error) {
	defer guardFor(s.path, "store logs", &err)()
	n := len(vals)
	if n == 0 {
		return nil
	}
	index := func(i int) uint64 { return binary.BigEndian.Uint64(keys[i*8:]) }
	// Only batches that append in increasing order may pack pages full.
	increasing := true
	for i := 1; i < n && increasing; i++ {
		increasing = index(i) > index(i-1)
	}
	tx, err := s.db.Begin(true)
	if err != nil {
		return fmt.Errorf("log store %s: store logs: %w", s.path, err)
	}
	defer func() { _ = tx.Rollback() }()
	b := tx.Bucket(bucketLogs)
	if b == nil {
		return fmt.Errorf("%w: log store %s: bucket %q missing", raft.ErrCorrupt, s.path, bucketLogs)
	}
	if increasing {
		// NB: bbolt splits pages at FillPercent of a page (half, by
		// default). Raft appends keys in order, so pages left behind are
		// not written again; packing them full writes (and fsyncs) fewer
		// pages per batch and keeps the file smaller. The setting lasts for
		// this transaction only and changes nothing in the file format.
		if last, _ := b.Cursor().Last(); last == nil || bytes.Compare(last, keys[:8]) < 0 {
			b.FillPercent = appendFillPercent
		}
	}
	for i := 0; i < n; i++ {
		k := keys[i*8 : i*8+8 : i*8+8]
		if err := b.Put(k, vals[i]); err != nil {
			return fmt.Errorf("log store %s: store log %d: %w", s.path, index(i), err)
		}
	}
	if err := s.commitTx(tx); err != nil {
		return fmt.Errorf("log store %s: store logs %d-%d: commit: %w", s.path, index(0), index(n-1), err)
	}
	size := 0
	for _, v := range vals {
		size += len(v)
	}
	s.noteWritten(size)
	return nil
}

// DeleteRange implements LogStore: entries min through max, inclusive, in
// one transaction. Deleting every entry drops and recreates the bucket,
// which is much cheaper than deleting keys one by one.
//
// With the journal, a range that reaches the end of the log (a suffix
// truncation, or deleting everything) first checkpoints the pending entries
// and resets the journal, so that no journal record can bring deleted
// entries back after a crash; a range that only touches pending entries
// checkpoints them first. Other ranges (log compaction) go straight to
// bbolt, without holding up concurrent appends to the journal.
func (s *BoltStore) DeleteRange(min, max uint64) (err error) {
	if min > max {
		return nil
	}
	s.wmu.Lock()
	if s.j != nil {
		acted, err := s.journalBeforeDeleteLocked(min, max)
		if err != nil {
			s.wmu.Unlock()
			return err
		}
		if acted {
			defer s.wmu.Unlock()
			return s.boltDeleteRange(min, max)
		}
	}
	// NB: a delete that concerns bbolt alone (log compaction, the common
	// case) runs without wmu, so appends to the journal go on during its
	// transaction rather than wait for it; bbolt orders it with the
	// checkpoints.
	s.wmu.Unlock()
	return s.boltDeleteRange(min, max)
}

// boltDeleteRange deletes min through max from bbolt in one transaction.
func (s *BoltStore) boltDeleteRange(min, max uint64) (err error) {
	defer guardFor(s.path, "delete range", &err)()
	tx, err := s.db.Begin(true)
	if err != nil {
		return fmt.Errorf("log store %s: delete range: %w", s.path, err)
	}
	defer func() { _ = tx.Rollback() }()
	b := tx.Bucket(bucketLogs)
	if b == nil {
		return fmt.Errorf("%w: log store %s: bucket %q missing", raft.ErrCorrupt, s.path, bucketLogs)
	}
	var minKey, maxKey [8]byte
	binary.BigEndian.PutUint64(minKey[:], min)
	binary.BigEndian.PutUint64(maxKey[:], max)

	c := b.Cursor()
	first, _ := c.First()
	if first == nil {
		return nil
	}
	last, _ := c.Last()
	// deleted is the bytes of the deleted records, which the walk touched
	// in the mapping (noteWritten).
	deleted := 0
	if bytes.Compare(minKey[:], first) <= 0 && bytes.Compare(maxKey[:], last) >= 0 {
		// NB: DeleteBucket visits every page of the bucket.
		deleted = int(s.rt.every)
		if err := tx.DeleteBucket(bucketLogs); err != nil {
			return fmt.Errorf("log store %s: delete range: %w", s.path, err)
		}
		if _, err := tx.CreateBucket(bucketLogs); err != nil {
			return fmt.Errorf("log store %s: delete range: %w", s.path, err)
		}
	} else {
		// NB: deleting walks the range backwards. bbolt removes a key by
		// shifting the rest of its leaf down, so deleting each leaf from
		// its end moves nothing, where a forward walk moves the whole leaf
		// for every key. The cursor walks the pages as they were when the
		// transaction began and Delete edits an in-memory copy of the leaf,
		// so Prev after Delete does not skip keys.
		k, v := c.Seek(maxKey[:])
		if k == nil {
			k, v = c.Last()
		} else if bytes.Compare(k, maxKey[:]) > 0 {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.Compare(k, minKey[:]) >= 0; k, v = c.Prev() {
			deleted += len(k) + len(v)
			if err := c.Delete(); err != nil {
				return fmt.Errorf("log store %s: delete range %d-%d: %w", s.path, min, max, err)
			}
		}
	}
	if err := s.commitTx(tx); err != nil {
		return fmt.Errorf("log store %s: delete range %d-%d: commit: %w", s.path, min, max, err)
	}
	s.noteWritten(deleted)
	return nil
}
