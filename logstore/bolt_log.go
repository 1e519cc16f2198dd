package logstore

import (
	"bytes"
	"encoding/binary"
	"fmt"

	raft "github.com/pontoon-raft/raft"
	"go.etcd.io/bbolt"
)

// FirstIndex implements LogStore.
func (s *BoltStore) FirstIndex() (uint64, error) {
	return s.boundary("first index", (*bbolt.Cursor).First)
}

// LastIndex implements LogStore.
func (s *BoltStore) LastIndex() (uint64, error) {
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
	if err := decodeLog(v, log); err != nil {
		return fmt.Errorf("%w: log store %s: log %d does not decode: %v", raft.ErrCorrupt, s.path, index, err)
	}
	return nil
}

// StoreLog implements LogStore.
func (s *BoltStore) StoreLog(log *raft.Log) error {
	return s.StoreLogs([]*raft.Log{log})
}

// StoreLogs implements LogStore: the whole batch is one transaction and one
// commit. Entries are encoded into a buffer reused across calls, so a call
// allocates nothing per entry in the steady state.
func (s *BoltStore) StoreLogs(logs []*raft.Log) (err error) {
	if len(logs) == 0 {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	defer guardFor(s.path, "store logs", &err)()

	vals, ends, keys := s.wmu.vals[:0], s.wmu.ends[:0], s.wmu.keys[:0]
	// Only batches that append in increasing order may pack pages full.
	increasing := true
	for i, l := range logs {
		if l == nil {
			return fmt.Errorf("log store %s: store logs: nil entry at position %d", s.path, i)
		}
		if vals, err = appendLog(vals, l); err != nil {
			return fmt.Errorf("log store %s: store logs: %w", s.path, err)
		}
		ends = append(ends, len(vals))
		keys = binary.BigEndian.AppendUint64(keys, l.Index)
		if i > 0 && l.Index <= logs[i-1].Index {
			increasing = false
		}
	}
	defer func() {
		// Keep the buffers for the next batch unless a huge one grew them.
		if cap(vals) <= maxRetainedBuffer {
			s.wmu.vals, s.wmu.ends, s.wmu.keys = vals[:0], ends[:0], keys[:0]
		} else {
			s.wmu.vals, s.wmu.ends, s.wmu.keys = nil, nil, nil
		}
	}()

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
	start := 0
	for i := range logs {
		k := keys[i*8 : i*8+8 : i*8+8]
		v := vals[start:ends[i]:ends[i]]
		if err := b.Put(k, v); err != nil {
			return fmt.Errorf("log store %s: store log %d: %w", s.path, logs[i].Index, err)
		}
		start = ends[i]
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("log store %s: store logs %d-%d: commit: %w", s.path, logs[0].Index, logs[len(logs)-1].Index, err)
	}
	return nil
}

// DeleteRange implements LogStore: entries min through max, inclusive, in
// one transaction. Deleting every entry drops and recreates the bucket,
// which is much cheaper than deleting keys one by one.
func (s *BoltStore) DeleteRange(min, max uint64) (err error) {
	if min > max {
		return nil
	}
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
	if bytes.Compare(minKey[:], first) <= 0 && bytes.Compare(maxKey[:], last) >= 0 {
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
		k, _ := c.Seek(maxKey[:])
		if k == nil {
			k, _ = c.Last()
		} else if bytes.Compare(k, maxKey[:]) > 0 {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.Compare(k, minKey[:]) >= 0; k, _ = c.Prev() {
			if err := c.Delete(); err != nil {
				return fmt.Errorf("log store %s: delete range %d-%d: %w", s.path, min, max, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("log store %s: delete range %d-%d: commit: %w", s.path, min, max, err)
	}
	return nil
}
