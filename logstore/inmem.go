package logstore

import (
	"sync"

	raft "github.com/pontoon-raft/raft"
)

// InmemStore is a LogStore and StableStore kept in memory. It is for tests:
// nothing survives the process. It is safe for concurrent use.
type InmemStore struct {
	mu struct {
		sync.RWMutex
		// lowIndex and highIndex bound the stored entries; both are 0 when
		// the log is empty.
		lowIndex  uint64
		highIndex uint64
		logs      map[uint64]*raft.Log
		kv        map[string][]byte
		kvInt     map[string]uint64
	}
}

// NewInmemStore returns an empty InmemStore.
func NewInmemStore() *InmemStore {
	s := &InmemStore{}
	s.mu.logs = make(map[uint64]*raft.Log)
	s.mu.kv = make(map[string][]byte)
	s.mu.kvInt = make(map[string]uint64)
	return s
}

// FirstIndex implements LogStore.
func (s *InmemStore) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.lowIndex, nil
}

// LastIndex implements LogStore.
func (s *InmemStore) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.highIndex, nil
}

// GetLog implements LogStore.
func (s *InmemStore) GetLog(index uint64, log *raft.Log) error {
	s.mu.RLock()
	l, ok := s.mu.logs[index]
	s.mu.RUnlock()
	if !ok {
		return raft.ErrLogNotFound
	}
	*log = *l
	return nil
}

// StoreLog implements LogStore.
func (s *InmemStore) StoreLog(log *raft.Log) error {
	return s.StoreLogs([]*raft.Log{log})
}

// StoreLogs implements LogStore.
func (s *InmemStore) StoreLogs(logs []*raft.Log) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range logs {
		c := copyLog(l)
		s.mu.logs[l.Index] = &c
		if s.mu.lowIndex == 0 || l.Index < s.mu.lowIndex {
			s.mu.lowIndex = l.Index
		}
		if l.Index > s.mu.highIndex {
			s.mu.highIndex = l.Index
		}
	}
	return nil
}

// DeleteRange implements LogStore.
func (s *InmemStore) DeleteRange(min, max uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if min > max || s.mu.highIndex == 0 || max < s.mu.lowIndex || min > s.mu.highIndex {
		return nil
	}
	if max-min >= uint64(len(s.mu.logs)) {
		for i := range s.mu.logs {
			if i >= min && i <= max {
				delete(s.mu.logs, i)
			}
		}
	} else {
		for i := min; ; i++ {
			delete(s.mu.logs, i)
			if i == max {
				break
			}
		}
	}
	s.recomputeBoundsLocked()
	return nil
}

// recomputeBoundsLocked sets lowIndex and highIndex from the stored keys.
// The log may have gaps, so the new bounds are searched, not derived.
func (s *InmemStore) recomputeBoundsLocked() {
	var low, high uint64
	for i := range s.mu.logs {
		if low == 0 || i < low {
			low = i
		}
		if i > high {
			high = i
		}
	}
	s.mu.lowIndex, s.mu.highIndex = low, high
}

// Set implements StableStore.
func (s *InmemStore) Set(key []byte, val []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.kv[string(key)] = append([]byte(nil), val...)
	return nil
}

// Get implements StableStore.
func (s *InmemStore) Get(key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.mu.kv[string(key)]
	if !ok {
		return nil, raft.ErrKeyNotFound
	}
	return append([]byte(nil), v...), nil
}

// SetUint64 implements StableStore.
func (s *InmemStore) SetUint64(key []byte, val uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.kvInt[string(key)] = val
	return nil
}

// GetUint64 implements StableStore. A missing key returns (0, nil).
func (s *InmemStore) GetUint64(key []byte) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.kvInt[string(key)], nil
}
