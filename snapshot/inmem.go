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
		// seq numbers the sinks, so every ID is unique.
		seq uint64
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
	s.mu.Lock()
	s.mu.seq++
	name := fmt.Sprintf("%d-%d-inmem-%d", term, index, s.mu.seq)
	s.mu.Unlock()
	return &inmemSnapshotSink{
		store: s,
		meta: raft.SnapshotMeta{
			Version:            version,
			ID:                 name,
			Index:              index,
			Term:               term,
			Peers:              encodePeers(configuration, trans),
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
	m := s.mu.latest.copyMeta()
	return []*raft.SnapshotMeta{&m}, nil
}

// Open implements SnapshotStore.
func (s *InmemSnapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.mu.hasSnapshot || s.mu.latest.meta.ID != id {
		return nil, nil, fmt.Errorf("[ERR] snapshot: failed to open snapshot id: %s", id)
	}
	m := s.mu.latest.copyMeta()
	return &m, io.NopCloser(bytes.NewReader(s.mu.latest.contents.Bytes())), nil
}

// inmemSnapshotSink is a snapshot being written to, or kept by, an
// InmemSnapshotStore. Once done it is immutable: meta and contents are only
// read.
type inmemSnapshotSink struct {
	store *InmemSnapshotStore
	// mu guards meta, contents and done until done is set.
	mu       sync.Mutex
	meta     raft.SnapshotMeta
	contents bytes.Buffer
	done     bool
}

func (s *inmemSnapshotSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return 0, fmt.Errorf("snapshot sink %s is closed", s.meta.ID)
	}
	n, err := s.contents.Write(p)
	s.meta.Size += int64(n)
	return n, err
}

func (s *inmemSnapshotSink) Close() error {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return nil
	}
	s.done = true
	s.mu.Unlock()
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	// Sinks may close out of order: keep the newest (term, then index).
	if l := s.store.mu.latest; s.store.mu.hasSnapshot &&
		(l.meta.Term > s.meta.Term || (l.meta.Term == s.meta.Term && l.meta.Index > s.meta.Index)) {
		return nil
	}
	s.store.mu.latest = s
	s.store.mu.hasSnapshot = true
	return nil
}

// copyMeta returns a copy of the meta that shares no slices with it.
func (s *inmemSnapshotSink) copyMeta() raft.SnapshotMeta {
	m := s.meta
	m.Peers = append([]byte(nil), s.meta.Peers...)
	m.Configuration = s.meta.Configuration.Clone()
	return m
}

func (s *inmemSnapshotSink) ID() string { return s.meta.ID }

func (s *inmemSnapshotSink) Cancel() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	return nil
}
