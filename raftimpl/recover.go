package raftimpl

import (
	"fmt"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// RecoverCluster forces a new configuration onto a stopped node's stores,
// for manual recovery when a quorum is permanently lost. Run it on every
// surviving node with the same configuration, then start them. It restores
// the newest snapshot into fsm, applies every command after it (committed or
// not, since the node cannot know), writes a new snapshot at the last index
// holding the forced configuration (at configuration index 1), and deletes
// the log. The stores must hold state.
//
// This can lose or resurrect entries: it is a last resort, as in
// hashicorp/raft.
func RecoverCluster(conf *Config, fsm raft.FSM, logs logstore.LogStore, stable logstore.StableStore,
	snaps snapshot.SnapshotStore, trans transport.Transport, configuration raft.Configuration) error {
	if err := ValidateConfig(conf); err != nil {
		return err
	}
	if err := raft.CheckConfiguration(configuration); err != nil {
		return err
	}
	has, err := HasExistingState(logs, stable, snaps)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	if !has {
		return fmt.Errorf("recover: refused to recover cluster with no initial state, this is probably an operator error")
	}

	// Restore the newest snapshot that works.
	r := &Raft{conf: *conf, logger: conf.logger(), fsm: fsm, logs: logs, snaps: snaps}
	r.metrics = metricSink{blackholeMetrics()}
	snap, err := r.restoreOnStart()
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	lastIndex, lastTerm := snap.index, snap.term

	// Apply every command after it.
	first, err := logs.FirstIndex()
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	last, err := logs.LastIndex()
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for i := max(first, snap.index+1); i <= last && i > 0; i++ {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil {
			return fmt.Errorf("recover: reading log %d: %w", i, err)
		}
		if l.Type == raft.LogCommand {
			fsm.Apply(&l)
		}
		lastIndex, lastTerm = l.Index, l.Term
	}

	// Snapshot the result with the forced configuration.
	fs, err := fsm.Snapshot()
	if err != nil {
		return fmt.Errorf("recover: FSM snapshot failed: %w", err)
	}
	defer fs.Release()
	sink, err := snaps.Create(raft.SnapshotVersionMax, lastIndex, lastTerm, configuration, 1, trans)
	if err != nil {
		return fmt.Errorf("recover: creating snapshot: %w", err)
	}
	if err := fs.Persist(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("recover: persisting snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("recover: closing snapshot: %w", err)
	}

	// The snapshot replaces the log.
	if last > 0 && first > 0 {
		if err := logs.DeleteRange(first, last); err != nil {
			return fmt.Errorf("recover: compacting log: %w", err)
		}
	}
	return nil
}

// GetConfiguration returns the latest configuration held by a stopped node's
// stores, without starting it: the configuration of the newest entry in the
// log, or of the newest snapshot.
func GetConfiguration(conf *Config, fsm raft.FSM, logs logstore.LogStore, stable logstore.StableStore,
	snaps snapshot.SnapshotStore, trans transport.Transport) (raft.Configuration, error) {
	if err := ValidateConfig(conf); err != nil {
		return raft.Configuration{}, err
	}
	var snap snapshotInfo
	list, err := snaps.List()
	if err != nil {
		return raft.Configuration{}, fmt.Errorf("listing snapshots: %w", err)
	}
	if len(list) > 0 {
		snap = infoOf(list[0])
	}
	s, err := newLogStorage(logs, stable, snap)
	if err != nil {
		return raft.Configuration{}, err
	}
	_, cs, err := s.InitialState()
	if err != nil {
		return raft.Configuration{}, err
	}
	return cs.Latest, nil
}
