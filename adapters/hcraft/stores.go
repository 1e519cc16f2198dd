package raft

import (
	"io"

	"github.com/hashicorp/go-hclog"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
)

// Log, stable and snapshot stores: Pontoon's logstore and snapshot packages.

type (
	CommitTrackingLogStore = logstore.CommitTrackingLogStore
	InmemStore             = logstore.InmemStore
	LogCache               = logstore.LogCache
	LogStore               = logstore.LogStore
	MonotonicLogStore      = logstore.MonotonicLogStore
	StableStore            = logstore.StableStore

	DiscardSnapshotStore = snapshot.DiscardSnapshotStore
	FileSnapshotStore    = snapshot.FileSnapshotStore
	InmemSnapshotStore   = snapshot.InmemSnapshotStore
	SnapshotStore        = snapshot.SnapshotStore
)

// NewInmemStore is logstore.NewInmemStore.
func NewInmemStore() *InmemStore {
	return logstore.NewInmemStore()
}

// NewLogCache is logstore.NewLogCache.
func NewLogCache(capacity int, store LogStore) (*LogCache, error) {
	return logstore.NewLogCache(capacity, store)
}

// NewDiscardSnapshotStore is snapshot.NewDiscardSnapshotStore.
func NewDiscardSnapshotStore() *DiscardSnapshotStore {
	return snapshot.NewDiscardSnapshotStore()
}

// NewFileSnapshotStore is snapshot.NewFileSnapshotStore.
func NewFileSnapshotStore(base string, retain int, logOutput io.Writer) (*FileSnapshotStore, error) {
	return snapshot.NewFileSnapshotStore(base, retain, logOutput)
}

// NewFileSnapshotStoreWithLogger is snapshot.NewFileSnapshotStoreWithLogger.
func NewFileSnapshotStoreWithLogger(base string, retain int, logger hclog.Logger) (*FileSnapshotStore, error) {
	return snapshot.NewFileSnapshotStoreWithLogger(base, retain, logger)
}

// NewInmemSnapshotStore is snapshot.NewInmemSnapshotStore.
func NewInmemSnapshotStore() *InmemSnapshotStore {
	return snapshot.NewInmemSnapshotStore()
}
