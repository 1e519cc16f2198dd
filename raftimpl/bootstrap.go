package raftimpl

import (
	"errors"
	"fmt"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// HasExistingState reports whether the stores hold any Raft state: a term,
// a log entry or a snapshot.
func HasExistingState(logs logstore.LogStore, stable logstore.StableStore, snaps snapshot.SnapshotStore) (bool, error) {
	term, err := getUint64(stable, keyCurrentTerm)
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", keyCurrentTerm, err)
	}
	if term > 0 {
		return true, nil
	}
	last, err := logs.LastIndex()
	if err != nil {
		return false, fmt.Errorf("reading last index: %w", err)
	}
	if last > 0 {
		return true, nil
	}
	list, err := snaps.List()
	if err != nil {
		return false, fmt.Errorf("listing snapshots: %w", err)
	}
	return len(list) > 0, nil
}

// BootstrapCluster writes the initial state of a new cluster to the stores of
// one node: term 1 and a configuration entry at index 1. Run it before
// NewRaft, on one node (or on every node with the same configuration). It
// returns raft.ErrCantBootstrap if the stores already hold state.
func BootstrapCluster(conf *Config, logs logstore.LogStore, stable logstore.StableStore,
	snaps snapshot.SnapshotStore, trans transport.Transport, configuration raft.Configuration) error {
	if err := ValidateConfig(conf); err != nil {
		return err
	}
	return bootstrapStores(logs, stable, snaps, configuration)
}

func bootstrapStores(logs logstore.LogStore, stable logstore.StableStore, snaps snapshot.SnapshotStore,
	configuration raft.Configuration) error {
	if err := raft.CheckConfiguration(configuration); err != nil {
		return err
	}
	has, err := HasExistingState(logs, stable, snaps)
	if err != nil {
		return err
	}
	if has {
		return raft.ErrCantBootstrap
	}
	if err := stable.SetUint64(keyCurrentTerm, 1); err != nil {
		return fmt.Errorf("bootstrap: persisting term: %w", err)
	}
	entry := &raft.Log{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(configuration)}
	if err := logs.StoreLog(entry); err != nil {
		return fmt.Errorf("bootstrap: storing configuration entry: %w", err)
	}
	return nil
}

// bootstrapReq asks the driver loop to bootstrap a running node.
type bootstrapReq struct {
	configuration raft.Configuration
	future        *opFuture
}

func (b bootstrapReq) respond(err error) { b.future.respond(err, 0, nil) }

// BootstrapCluster bootstraps a running node that has no state yet (see the
// package function). It fails with raft.ErrNotVoter if this node is not a
// voter in configuration, and raft.ErrCantBootstrap if it has state.
func (r *Raft) BootstrapCluster(configuration raft.Configuration) Future {
	f := newOpFuture(waiter{}, r.loopDone)
	select {
	case r.ctrlCh <- bootstrapReq{configuration: configuration, future: f}:
		return f
	case <-r.shutdownCh:
		return errorFuture{raft.ErrRaftShutdown}
	}
}

// bootstrap runs on the loop: write the initial state, then restart the core
// from it.
func (d *driver) bootstrap(c raft.Configuration) error {
	if !raft.HasVote(c, d.r.localID) {
		if err := raft.CheckConfiguration(c); err != nil {
			return err
		}
		return raft.ErrNotVoter
	}
	if d.soft.Role != raft.Follower {
		return raft.ErrCantBootstrap
	}
	if err := bootstrapStores(d.r.logs, d.r.stable, d.r.snaps, c); err != nil {
		if errors.Is(err, raft.ErrCantBootstrap) {
			return err
		}
		return fmt.Errorf("bootstrap: %w", err)
	}
	storage, err := newLogStorage(commitStaging(d.r.logs, &d.r.commitIndex), d.r.stable, snapshotInfo{})
	if err != nil {
		return err
	}
	storage.compactor = d.storage.compactor // the loop's, stopped with it
	d.storage = storage
	return d.newCore()
}
