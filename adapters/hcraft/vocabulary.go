package raft

import pontoon "github.com/pontoon-raft/raft"

// The shared vocabulary: Pontoon's root package.

type (
	BatchingFSM        = pontoon.BatchingFSM
	Configuration      = pontoon.Configuration
	ConfigurationStore = pontoon.ConfigurationStore
	FSM                = pontoon.FSM
	FSMSnapshot        = pontoon.FSMSnapshot
	Future             = pontoon.Future
	Log                = pontoon.Log
	LogType            = pontoon.LogType
	ProtocolVersion    = pontoon.ProtocolVersion
	RaftState          = pontoon.RaftState
	Server             = pontoon.Server
	ServerAddress      = pontoon.ServerAddress
	ServerID           = pontoon.ServerID
	ServerSuffrage     = pontoon.ServerSuffrage
	SnapshotMeta       = pontoon.SnapshotMeta
	SnapshotSink       = pontoon.SnapshotSink
	SnapshotVersion    = pontoon.SnapshotVersion
)

const (
	LogCommand              = pontoon.LogCommand
	LogNoop                 = pontoon.LogNoop
	LogAddPeerDeprecated    = pontoon.LogAddPeerDeprecated
	LogRemovePeerDeprecated = pontoon.LogRemovePeerDeprecated
	LogBarrier              = pontoon.LogBarrier
	LogConfiguration        = pontoon.LogConfiguration
)

const (
	Follower  = pontoon.Follower
	Candidate = pontoon.Candidate
	Leader    = pontoon.Leader
	Shutdown  = pontoon.Shutdown
)

const (
	Voter    = pontoon.Voter
	Nonvoter = pontoon.Nonvoter
	Staging  = pontoon.Staging
)

const (
	ProtocolVersionMin   = pontoon.ProtocolVersionMin
	SnapshotVersionMin   = pontoon.SnapshotVersionMin
	SuggestedMaxDataSize = pontoon.SuggestedMaxDataSize
)

var (
	ErrAbortedByRestore                = pontoon.ErrAbortedByRestore
	ErrCantBootstrap                   = pontoon.ErrCantBootstrap
	ErrEnqueueTimeout                  = pontoon.ErrEnqueueTimeout
	ErrIncompatibleLogStore            = pontoon.ErrIncompatibleLogStore
	ErrLeader                          = pontoon.ErrLeader
	ErrLeadershipLost                  = pontoon.ErrLeadershipLost
	ErrLeadershipTransferInProgress    = pontoon.ErrLeadershipTransferInProgress
	ErrLogNotFound                     = pontoon.ErrLogNotFound
	ErrNotLeader                       = pontoon.ErrNotLeader
	ErrNotVoter                        = pontoon.ErrNotVoter
	ErrNothingNewToSnapshot            = pontoon.ErrNothingNewToSnapshot
	ErrPipelineReplicationNotSupported = pontoon.ErrPipelineReplicationNotSupported
	ErrPipelineShutdown                = pontoon.ErrPipelineShutdown
	ErrRaftShutdown                    = pontoon.ErrRaftShutdown
	ErrTransportShutdown               = pontoon.ErrTransportShutdown
	ErrUnsupportedProtocol             = pontoon.ErrUnsupportedProtocol
)

// EncodeConfiguration is pontoon.EncodeConfiguration.
func EncodeConfiguration(configuration Configuration) []byte {
	return pontoon.EncodeConfiguration(configuration)
}
