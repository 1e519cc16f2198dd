package raft

import (
	"io"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/pontoon-raft/raft/logstore"
)

// Test doubles that hashicorp/raft exports for middleware tests. Like
// hashicorp's, they are not a stable API.

// MockFSM is an FSM that keeps the data of every applied entry in order.
// Apply returns the number of entries applied so far. Its snapshot is the
// msgpack encoding of that list.
type MockFSM struct {
	sync.Mutex
	// logs holds the Data of each applied entry; guarded by the Mutex.
	logs [][]byte
	// configurations holds what a MockFSMConfigStore was given; guarded by
	// the Mutex.
	configurations []Configuration
}

var (
	_ FSM                = (*MockFSM)(nil)
	_ ConfigurationStore = (*MockFSMConfigStore)(nil)
)

// Apply implements FSM.
func (m *MockFSM) Apply(l *Log) interface{} {
	m.Lock()
	defer m.Unlock()
	m.logs = append(m.logs, l.Data)
	return len(m.logs)
}

// Snapshot implements FSM: it captures the entries applied so far.
func (m *MockFSM) Snapshot() (FSMSnapshot, error) {
	m.Lock()
	defer m.Unlock()
	return &MockSnapshot{logs: m.logs, maxIndex: len(m.logs)}, nil
}

// Restore implements FSM: it replaces the entries with the snapshot's.
func (m *MockFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var logs [][]byte
	if err := codec.NewDecoder(rc, &codec.MsgpackHandle{}).Decode(&logs); err != nil {
		return err
	}
	m.Lock()
	m.logs = logs
	m.Unlock()
	return nil
}

// Logs returns the data of the entries applied so far.
func (m *MockFSM) Logs() [][]byte {
	m.Lock()
	defer m.Unlock()
	return m.logs
}

// MockFSMConfigStore is a MockFSM (in its FSM field) that also records the
// configurations it is given, as a ConfigurationStore.
type MockFSMConfigStore struct {
	FSM
}

// StoreConfiguration implements ConfigurationStore. FSM must be a *MockFSM.
func (m *MockFSMConfigStore) StoreConfiguration(index uint64, c Configuration) {
	mock := m.FSM.(*MockFSM)
	mock.Lock()
	mock.configurations = append(mock.configurations, c)
	mock.Unlock()
}

// MockSnapshot is MockFSM's snapshot: the first maxIndex entries of logs.
type MockSnapshot struct {
	logs     [][]byte
	maxIndex int
}

// Persist implements FSMSnapshot.
func (s *MockSnapshot) Persist(sink SnapshotSink) error {
	if err := codec.NewEncoder(sink, &codec.MsgpackHandle{}).Encode(s.logs[:s.maxIndex]); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release implements FSMSnapshot.
func (s *MockSnapshot) Release() {}

// MockMonotonicLogStore wraps a LogStore and says it is monotonic (no gaps
// in the index after a snapshot restore). MakeClusterOpts.MonotonicLogs
// builds clusters on it.
type MockMonotonicLogStore struct {
	s LogStore
}

var _ MonotonicLogStore = (*MockMonotonicLogStore)(nil)

// IsMonotonic implements MonotonicLogStore.
func (m *MockMonotonicLogStore) IsMonotonic() bool { return true }

// FirstIndex implements LogStore.
func (m *MockMonotonicLogStore) FirstIndex() (uint64, error) { return m.s.FirstIndex() }

// LastIndex implements LogStore.
func (m *MockMonotonicLogStore) LastIndex() (uint64, error) { return m.s.LastIndex() }

// GetLog implements LogStore.
func (m *MockMonotonicLogStore) GetLog(index uint64, l *Log) error { return m.s.GetLog(index, l) }

// StoreLog implements LogStore.
func (m *MockMonotonicLogStore) StoreLog(l *Log) error { return m.s.StoreLog(l) }

// StoreLogs implements LogStore.
func (m *MockMonotonicLogStore) StoreLogs(logs []*Log) error { return m.s.StoreLogs(logs) }

// DeleteRange implements LogStore.
func (m *MockMonotonicLogStore) DeleteRange(min, max uint64) error { return m.s.DeleteRange(min, max) }

// InmemCommitTrackingStore is an InmemStore that also keeps the staged
// commit index, as a CommitTrackingLogStore. For tests only.
type InmemCommitTrackingStore struct {
	InmemStore
	commitIndex atomic.Uint64
}

var _ CommitTrackingLogStore = (*InmemCommitTrackingStore)(nil)

// NewInmemCommitTrackingStore returns an empty InmemCommitTrackingStore.
func NewInmemCommitTrackingStore() *InmemCommitTrackingStore {
	s := &InmemCommitTrackingStore{}
	// The embedded store is a value, as in hashicorp/raft; its maps are set
	// up by NewInmemStore, so copy a fresh one in (its lock is unheld).
	reflect.ValueOf(&s.InmemStore).Elem().Set(reflect.ValueOf(logstore.NewInmemStore()).Elem())
	return s
}

// StageCommitIndex implements CommitTrackingLogStore.
func (s *InmemCommitTrackingStore) StageCommitIndex(index uint64) error {
	s.commitIndex.Store(index)
	return nil
}

// GetCommitIndex implements CommitTrackingLogStore.
func (s *InmemCommitTrackingStore) GetCommitIndex() (uint64, error) {
	return s.commitIndex.Load(), nil
}
