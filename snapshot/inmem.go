package snapshot

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/transport"
)

// InmemSnapshotStore keeps the latest snapshot in memory. It is for tests.
type InmemSnapshotStore struct {
	mu struct {
		sync.RWMutex
		// latest is the newest closed snapshot, nil if none; hasSnapshot is
		// true once one has been closed.
		latest      *inmemSnapshotSink
		hasSnapshot bool
	}
}

// NewInmemSnapshotStore returns an empty store.
func NewInmemSnapshotStore() *InmemSnapshotStore {
	return &InmemSnapshotStore{}
}

// Create implements SnapshotStore. Only version 1 is accepted.
func (s *InmemSnapshotStore) Create(version raft.SnapshotVersion, index, term uint64,
	configuration raft.Configuration, configurationIndex uint64, trans transport.Transport) (raft.SnapshotSink, error) {
	if version != 1 {
		return nil, fmt.Errorf("unsupported snapshot version %d", version)
	}
	name := fmt.Sprintf("%d-%d-inmem", term, index)
	return &inmemSnapshotSink{
		store: s,
		meta: raft.SnapshotMeta{
			Version:            version,
			ID:                 name,
			Index:              index,
			Term:               term,
			Configuration:      configuration.Clone(),
			ConfigurationIndex: configurationIndex,
		},
	}, nil
}

// List implements SnapshotStore.
func (s *InmemSnapshotStore) List() ([]*raft.SnapshotMeta, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.mu.hasSnapshot {
		return []*raft.SnapshotMeta{}, nil
	}
	m := s.mu.latest.meta
	return []*raft.SnapshotMeta{&m}, nil
}

// Open implements SnapshotStore.
func (s *InmemSnapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.mu.hasSnapshot || s.mu.latest.meta.ID != id {
		return nil, nil, fmt.Errorf("[ERR] snapshot: failed to open snapshot id: %s", id)
	}
	m := s.mu.latest.meta
	return &m, io.NopCloser(bytes.NewReader(s.mu.latest.contents.Bytes())), nil
}

type inmemSnapshotSink struct {
	store    *InmemSnapshotStore
	meta     raft.SnapshotMeta
	contents bytes.Buffer
	done     bool
}

func (s *inmemSnapshotSink) Write(p []byte) (int, error) {
	if s.done {
		return 0, fmt.Errorf("snapshot sink %s is closed", s.meta.ID)
	}
	n, err := s.contents.Write(p)
	s.meta.Size += int64(n)
	return n, err
}

func (s *inmemSnapshotSink) Close() error {
	if s.done {
		return nil
	}
	s.done = true
	s.store.mu.Lock()
	s.store.mu.latest = s
	s.store.mu.hasSnapshot = true
	s.store.mu.Unlock()
	return nil
}

func (s *inmemSnapshotSink) ID() string { return s.meta.ID }

func (s *inmemSnapshotSink) Cancel() error {
	s.done = true
	return nil
}
