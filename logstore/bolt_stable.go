package logstore

import (
	"bytes"
	"encoding/binary"
	"fmt"

	raft "github.com/pontoon-raft/raft"
)

// Set implements StableStore: val is stored as is in bucket "conf", in its
// own transaction.
func (s *BoltStore) Set(key []byte, val []byte) (err error) {
	defer guardFor(s.path, "set", &err)()
	tx, err := s.db.Begin(true)
	if err != nil {
		return fmt.Errorf("log store %s: set %q: %w", s.path, key, err)
	}
	defer func() { _ = tx.Rollback() }()
	b := tx.Bucket(bucketConf)
	if b == nil {
		return fmt.Errorf("%w: log store %s: bucket %q missing", raft.ErrCorrupt, s.path, bucketConf)
	}
	if err := b.Put(key, val); err != nil {
		return fmt.Errorf("log store %s: set %q: %w", s.path, key, err)
	}
	if err := s.commitTx(tx); err != nil {
		return fmt.Errorf("log store %s: set %q: commit: %w", s.path, key, err)
	}
	return nil
}

// Get implements StableStore. A missing key returns raft.ErrKeyNotFound
// itself (text "not found"). The returned slice is a copy.
func (s *BoltStore) Get(key []byte) (val []byte, err error) {
	defer guardFor(s.path, "get", &err)()
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("log store %s: get %q: %w", s.path, key, err)
	}
	defer func() { _ = tx.Rollback() }()
	b := tx.Bucket(bucketConf)
	if b == nil {
		return nil, raft.ErrKeyNotFound
	}
	// NB: a cursor tells an empty value from a missing key; Get may not.
	k, v := b.Cursor().Seek(key)
	if k == nil || !bytes.Equal(k, key) {
		return nil, raft.ErrKeyNotFound
	}
	return append(make([]byte, 0, len(v)), v...), nil
}

// SetUint64 implements StableStore: val is stored as 8 big-endian bytes.
func (s *BoltStore) SetUint64(key []byte, val uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], val)
	return s.Set(key, b[:])
}

// GetUint64 implements StableStore. A missing key returns
// raft.ErrKeyNotFound; a value that is not 8 bytes long returns an error
// wrapping raft.ErrCorrupt.
func (s *BoltStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: log store %s: value of %q is %d bytes, want 8", raft.ErrCorrupt, s.path, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
