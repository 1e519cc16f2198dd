package snapshot

import (
	"errors"
	"io"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/transport"
)

// errDiscardOpen is returned by DiscardSnapshotStore.Open.
var errDiscardOpen = errors.New("snapshot: the discard store keeps no snapshots")

// DiscardSnapshotStore keeps nothing: its sinks accept and drop every
// byte, List is always empty and Open always fails. It is for tests and
// for services that never snapshot.
type DiscardSnapshotStore struct{}

// NewDiscardSnapshotStore returns a DiscardSnapshotStore.
func NewDiscardSnapshotStore() *DiscardSnapshotStore { return &DiscardSnapshotStore{} }

// Create implements SnapshotStore. The sink's ID is "discard".
func (*DiscardSnapshotStore) Create(version raft.SnapshotVersion, index, term uint64,
	configuration raft.Configuration, configurationIndex uint64, trans transport.Transport) (raft.SnapshotSink, error) {
	return discardSink{}, nil
}

// List implements SnapshotStore: always empty.
func (*DiscardSnapshotStore) List() ([]*raft.SnapshotMeta, error) { return nil, nil }

// Open implements SnapshotStore: always an error.
func (*DiscardSnapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	return nil, nil, errDiscardOpen
}

type discardSink struct{}

func (discardSink) Write(p []byte) (int, error) { return len(p), nil }
func (discardSink) Close() error                { return nil }
func (discardSink) ID() string                  { return "discard" }
func (discardSink) Cancel() error               { return nil }
