package raft

import "github.com/pontoon-raft/raft/raftimpl"

// The engine: Pontoon's raftimpl package.

type (
	ApplyFuture                 = raftimpl.ApplyFuture
	Config                      = raftimpl.Config
	ConfigurationChangeCommand  = raftimpl.ConfigurationChangeCommand
	ConfigurationFuture         = raftimpl.ConfigurationFuture
	FailedHeartbeatObservation  = raftimpl.FailedHeartbeatObservation
	FilterFn                    = raftimpl.FilterFn
	IndexFuture                 = raftimpl.IndexFuture
	LeaderObservation           = raftimpl.LeaderObservation
	Observation                 = raftimpl.Observation
	Observer                    = raftimpl.Observer
	PeerObservation             = raftimpl.PeerObservation
	Raft                        = raftimpl.Raft
	ReloadableConfig            = raftimpl.ReloadableConfig
	ResumedHeartbeatObservation = raftimpl.ResumedHeartbeatObservation
	SnapshotFuture              = raftimpl.SnapshotFuture
)

const (
	AddVoter     = raftimpl.AddVoter
	AddNonvoter  = raftimpl.AddNonvoter
	DemoteVoter  = raftimpl.DemoteVoter
	RemoveServer = raftimpl.RemoveServer
)

// NewRaft is raftimpl.NewRaft.
func NewRaft(conf *Config, fsm FSM, logs LogStore, stable StableStore, snaps SnapshotStore, trans Transport) (*Raft, error) {
	return raftimpl.NewRaft(conf, fsm, logs, stable, snaps, trans)
}

// DefaultConfig is raftimpl.DefaultConfig.
func DefaultConfig() *Config {
	return raftimpl.DefaultConfig()
}

// ValidateConfig is raftimpl.ValidateConfig.
func ValidateConfig(conf *Config) error {
	return raftimpl.ValidateConfig(conf)
}

// BootstrapCluster is raftimpl.BootstrapCluster.
func BootstrapCluster(conf *Config, logs LogStore, stable StableStore, snaps SnapshotStore, trans Transport, configuration Configuration) error {
	return raftimpl.BootstrapCluster(conf, logs, stable, snaps, trans, configuration)
}

// RecoverCluster is raftimpl.RecoverCluster.
func RecoverCluster(conf *Config, fsm FSM, logs LogStore, stable StableStore, snaps SnapshotStore, trans Transport, configuration Configuration) error {
	return raftimpl.RecoverCluster(conf, fsm, logs, stable, snaps, trans, configuration)
}

// GetConfiguration is raftimpl.GetConfiguration.
func GetConfiguration(conf *Config, fsm FSM, logs LogStore, stable StableStore, snaps SnapshotStore, trans Transport) (Configuration, error) {
	return raftimpl.GetConfiguration(conf, fsm, logs, stable, snaps, trans)
}

// HasExistingState is raftimpl.HasExistingState.
func HasExistingState(logs LogStore, stable StableStore, snaps SnapshotStore) (bool, error) {
	return raftimpl.HasExistingState(logs, stable, snaps)
}

// NewObserver is raftimpl.NewObserver.
func NewObserver(channel chan Observation, blocking bool, filter FilterFn) *Observer {
	return raftimpl.NewObserver(channel, blocking, filter)
}
