package raftboltdb

import (
	pontoon "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"go.etcd.io/bbolt"
)

// ErrKeyNotFound is returned by Get and GetUint64 for a missing key; it is
// Pontoon's raft.ErrKeyNotFound itself (text "not found").
var ErrKeyNotFound = pontoon.ErrKeyNotFound

// Options are raft-boltdb/v2's options.
type Options struct {
	// Path is the bbolt file to open or create.
	Path string

	// BoltOptions are passed to bbolt.Open; nil means Pontoon's defaults.
	BoltOptions *bbolt.Options

	// NoSync skips fsync on commit: a machine crash may lose acknowledged
	// writes. For tests only.
	NoSync bool

	// MsgpackUseNewTimeFormat asks raft-boltdb to write Log.AppendedAt in
	// go-msgpack's newer time encoding. It has no effect here: Pontoon
	// always writes the older encoding, which hashicorp/raft's wire format
	// uses too, and every reader (raft-boltdb, Pontoon) decodes both.
	MsgpackUseNewTimeFormat bool
}

// BoltStore is a LogStore and StableStore on a bbolt file, in
// raft-boltdb/v2's layout. Its methods are those of the embedded
// logstore.BoltStore (RunMetrics emits raft-boltdb's raft.boltdb.* names to
// go-metrics' global instance, as raft-boltdb does).
type BoltStore struct {
	*logstore.BoltStore
}

// New opens or creates the store that options describe.
func New(options Options) (*BoltStore, error) {
	s, err := logstore.New(logstore.Options{
		Path:        options.Path,
		BoltOptions: options.BoltOptions,
		NoSync:      options.NoSync,
	})
	if err != nil {
		return nil, err
	}
	return &BoltStore{BoltStore: s}, nil
}

// NewBoltStore opens or creates the store at path with default options.
func NewBoltStore(path string) (*BoltStore, error) {
	return New(Options{Path: path})
}
