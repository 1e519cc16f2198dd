package transport

import (
	"io"

	raft "github.com/pontoon-raft/raft"
)

// RPCHeader is embedded in every request and response. Its fields are
// flattened into the msgpack map on the wire.
type RPCHeader struct {
	// ProtocolVersion is the sender's protocol version. Always set it:
	// hashicorp/raft rejects requests below its own version minus one.
	ProtocolVersion raft.ProtocolVersion
	// ID is the sender's ServerID as bytes.
	ID []byte
	// Addr is the sender's EncodePeer(id, address).
	Addr []byte
}

// WithRPCHeader is implemented by every RPC request and response type.
type WithRPCHeader interface {
	GetRPCHeader() RPCHeader
}

// AppendEntriesRequest replicates entries (or, with no entries, is a
// heartbeat or a commit-index update).
type AppendEntriesRequest struct {
	RPCHeader

	// Term is the leader's term.
	Term uint64
	// Leader is the deprecated leader address; still sent for old peers.
	Leader []byte

	// PrevLogEntry and PrevLogTerm identify the entry just before Entries.
	PrevLogEntry uint64
	PrevLogTerm  uint64

	// Entries to append. The receiver does not retain the slice or the logs
	// beyond the handling of the request unless it copies them.
	Entries []*raft.Log

	// LeaderCommitIndex is the leader's commit index.
	LeaderCommitIndex uint64
}

// GetRPCHeader implements WithRPCHeader.
func (r *AppendEntriesRequest) GetRPCHeader() RPCHeader { return r.RPCHeader }

// AppendEntriesResponse answers an AppendEntriesRequest.
type AppendEntriesResponse struct {
	RPCHeader

	// Term is the receiver's current term.
	Term uint64
	// LastLog is the receiver's last index (max of last log and snapshot).
	LastLog uint64
	// Success is true if the entries were appended (and are durable).
	Success bool
	// NoRetryBackoff tells the leader not to back off before retrying: the
	// failure was a log mismatch, not an unreachable peer.
	NoRetryBackoff bool
}

// GetRPCHeader implements WithRPCHeader.
func (r *AppendEntriesResponse) GetRPCHeader() RPCHeader { return r.RPCHeader }

// RequestVoteRequest asks for a vote.
type RequestVoteRequest struct {
	RPCHeader

	Term uint64
	// Candidate is the deprecated candidate address; still sent.
	Candidate []byte

	LastLogIndex uint64
	LastLogTerm  uint64

	// LeadershipTransfer is set when the election was started by TimeoutNow;
	// voters then grant it even though they know a leader.
	LeadershipTransfer bool
}

// GetRPCHeader implements WithRPCHeader.
func (r *RequestVoteRequest) GetRPCHeader() RPCHeader { return r.RPCHeader }

// RequestVoteResponse answers a RequestVoteRequest.
type RequestVoteResponse struct {
	RPCHeader

	Term uint64
	// Peers is the legacy peer list; set only with protocol < 2.
	Peers   []byte
	Granted bool
}

// GetRPCHeader implements WithRPCHeader.
func (r *RequestVoteResponse) GetRPCHeader() RPCHeader { return r.RPCHeader }

// RequestPreVoteRequest asks whether a vote would be granted at Term (the
// candidate's current term + 1) without changing any state.
type RequestPreVoteRequest struct {
	RPCHeader

	Term         uint64
	LastLogIndex uint64
	LastLogTerm  uint64
}

// GetRPCHeader implements WithRPCHeader.
func (r *RequestPreVoteRequest) GetRPCHeader() RPCHeader { return r.RPCHeader }

// RequestPreVoteResponse answers a RequestPreVoteRequest.
type RequestPreVoteResponse struct {
	RPCHeader

	Term    uint64
	Granted bool
}

// GetRPCHeader implements WithRPCHeader.
func (r *RequestPreVoteResponse) GetRPCHeader() RPCHeader { return r.RPCHeader }

// InstallSnapshotRequest precedes exactly Size bytes of snapshot data.
type InstallSnapshotRequest struct {
	RPCHeader
	SnapshotVersion raft.SnapshotVersion

	Term   uint64
	Leader []byte

	// LastLogIndex and LastLogTerm are the snapshot's index and term.
	LastLogIndex uint64
	LastLogTerm  uint64

	// Peers is the legacy peer list.
	Peers []byte

	// Configuration is raft.EncodeConfiguration of the snapshot's
	// configuration, set at ConfigurationIndex.
	Configuration      []byte
	ConfigurationIndex uint64

	// Size is the number of data bytes that follow.
	Size int64
}

// GetRPCHeader implements WithRPCHeader.
func (r *InstallSnapshotRequest) GetRPCHeader() RPCHeader { return r.RPCHeader }

// InstallSnapshotResponse answers an InstallSnapshotRequest.
type InstallSnapshotResponse struct {
	RPCHeader

	Term    uint64
	Success bool
}

// GetRPCHeader implements WithRPCHeader.
func (r *InstallSnapshotResponse) GetRPCHeader() RPCHeader { return r.RPCHeader }

// TimeoutNowRequest tells the target to start an election at once
// (leadership transfer).
type TimeoutNowRequest struct {
	RPCHeader
}

// GetRPCHeader implements WithRPCHeader.
func (r *TimeoutNowRequest) GetRPCHeader() RPCHeader { return r.RPCHeader }

// TimeoutNowResponse answers a TimeoutNowRequest.
type TimeoutNowResponse struct {
	RPCHeader
}

// GetRPCHeader implements WithRPCHeader.
func (r *TimeoutNowResponse) GetRPCHeader() RPCHeader { return r.RPCHeader }

// RPC is an incoming request handed to the engine through
// Transport.Consumer (or the heartbeat handler).
type RPC struct {
	// Command is one of the *...Request types of this package.
	Command interface{}
	// Reader carries the snapshot data of an InstallSnapshotRequest; the
	// handler must read exactly Size bytes from it before responding.
	Reader io.Reader
	// RespChan receives exactly one RPCResponse. It must be buffered so
	// Respond never blocks.
	RespChan chan<- RPCResponse
}

// Respond sends the response (or the error) for this RPC. Call it exactly
// once.
func (r *RPC) Respond(resp interface{}, err error) {
	r.RespChan <- RPCResponse{Response: resp, Error: err}
}

// RPCResponse is the reply to an RPC.
type RPCResponse struct {
	Response interface{}
	Error    error
}

// ReadIndexRequest asks the leader for a read index: the leader confirms its
// leadership with a heartbeat round and answers with its commit index. It is
// a Pontoon extension: hashicorp/raft nodes do not understand it.
type ReadIndexRequest struct {
	RPCHeader

	Term uint64
}

// GetRPCHeader implements WithRPCHeader.
func (r *ReadIndexRequest) GetRPCHeader() RPCHeader { return r.RPCHeader }

// ReadIndexResponse answers a ReadIndexRequest.
type ReadIndexResponse struct {
	RPCHeader

	Term uint64
	// Index is the leader's commit index when its leadership was confirmed.
	Index uint64
	// Success is false when the receiver could not confirm leadership.
	Success bool
}

// GetRPCHeader implements WithRPCHeader.
func (r *ReadIndexResponse) GetRPCHeader() RPCHeader { return r.RPCHeader }
