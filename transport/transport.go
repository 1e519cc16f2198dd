package transport

import (
	"io"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// Transport carries RPCs between nodes. Implementations must be safe for
// concurrent use: the engine calls the client methods from several
// goroutines at once (one per peer, plus heartbeats).
//
// Client methods block until the response arrives, the transport's timeout
// passes, or the transport is closed (raft.ErrTransportShutdown). An error
// string returned by the remote handler comes back as an error; the response
// is then the zero value.
type Transport interface {
	// Consumer returns the channel of incoming RPCs. The engine reads it for
	// its whole life; every RPC taken from it must be answered with Respond.
	Consumer() <-chan RPC

	// LocalAddr returns the address peers use to reach this transport.
	LocalAddr() raft.ServerAddress

	// AppendEntriesPipeline returns a pipeline to target, or
	// raft.ErrPipelineReplicationNotSupported, in which case the engine
	// replicates with AppendEntries.
	AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (AppendPipeline, error)

	// AppendEntries sends one AppendEntries request and waits for the reply.
	AppendEntries(id raft.ServerID, target raft.ServerAddress, args *AppendEntriesRequest, resp *AppendEntriesResponse) error

	// RequestVote sends a RequestVote request and waits for the reply.
	RequestVote(id raft.ServerID, target raft.ServerAddress, args *RequestVoteRequest, resp *RequestVoteResponse) error

	// InstallSnapshot sends the request followed by exactly args.Size bytes
	// read from data, streaming them, and waits for the reply.
	InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *InstallSnapshotRequest, resp *InstallSnapshotResponse, data io.Reader) error

	// EncodePeer encodes a server's address for RPCHeader.Addr and the legacy
	// fields. DecodePeer reverses it.
	EncodePeer(id raft.ServerID, addr raft.ServerAddress) []byte
	DecodePeer([]byte) raft.ServerAddress

	// SetHeartbeatHandler installs a fast path for heartbeats: a heartbeat
	// AppendEntries (see IsHeartbeat) is handed to cb on the receiving
	// goroutine instead of the Consumer channel. cb must not block for long.
	// A nil cb removes the handler.
	SetHeartbeatHandler(cb func(rpc RPC))

	// TimeoutNow asks target to start an election at once.
	TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *TimeoutNowRequest, resp *TimeoutNowResponse) error
}

// WithPreVote is a Transport that can carry pre-vote requests. Without it the
// engine does not use pre-vote.
type WithPreVote interface {
	RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *RequestPreVoteRequest, resp *RequestPreVoteResponse) error
}

// WithReadIndex is a Transport that can carry Pontoon's ReadIndex RPC, which
// lets a follower serve linearizable reads. Without it, reads on followers
// fail with raft.ErrNotLeader.
type WithReadIndex interface {
	ReadIndex(id raft.ServerID, target raft.ServerAddress, args *ReadIndexRequest, resp *ReadIndexResponse) error
}

// WithReadIndexSupport is a WithReadIndex transport that can tell a peer
// that does not answer ReadIndex (a hashicorp/raft node) from one that
// failed: the engine then fails a follower's read at once instead of
// retrying it until the caller's deadline.
type WithReadIndexSupport interface {
	// ReadIndexUnsupported returns an error wrapping
	// raft.ErrReadIndexUnsupported if ReadIndex to the server recently
	// showed that it does not answer ReadIndex, else nil. It does no I/O.
	ReadIndexUnsupported(id raft.ServerID, target raft.ServerAddress) error
}

// WithClose is a Transport that can be closed. The engine closes it when it
// shuts down.
type WithClose interface {
	// Close stops every goroutine the transport started and fails pending and
	// later calls with raft.ErrTransportShutdown. It is idempotent.
	Close() error
}

// WithPeers is a Transport whose peers are connected by hand (in-memory
// transports in tests).
type WithPeers interface {
	Connect(peer raft.ServerAddress, t Transport)
	Disconnect(peer raft.ServerAddress)
	DisconnectAll()
}

// LoopbackTransport is a fully featured in-process transport.
type LoopbackTransport interface {
	Transport
	WithPeers
	WithClose
	WithPreVote
}

// AppendPipeline sends several AppendEntries on one connection without waiting
// for each reply; replies come back in order on Consumer.
//
// AppendEntries and Close may be called from one goroutine while another
// reads Consumer.
type AppendPipeline interface {
	// AppendEntries sends a request and returns its future without waiting for
	// the reply. It blocks while the in-flight limit is reached. The request
	// and response are owned by the pipeline until the future is done.
	AppendEntries(args *AppendEntriesRequest, resp *AppendEntriesResponse) (AppendFuture, error)

	// Consumer returns the futures in the order they were sent, as their
	// replies arrive.
	Consumer() <-chan AppendFuture

	// Close stops the pipeline; pending futures fail with
	// raft.ErrPipelineShutdown.
	Close() error
}

// AppendFuture is one pipelined AppendEntries.
type AppendFuture interface {
	raft.Future
	// Start is when the request was sent.
	Start() time.Time
	// Request and Response are the objects passed to AppendEntries.
	Request() *AppendEntriesRequest
	Response() *AppendEntriesResponse
}

// ServerAddressProvider maps a server ID to its current address; a transport
// configured with one dials the provided address instead of the one given.
type ServerAddressProvider interface {
	ServerAddr(id raft.ServerID) (raft.ServerAddress, error)
}

// IsHeartbeat reports whether req qualifies for the heartbeat fast path, by
// hashicorp/raft's rule: a term, a leader address, and nothing else.
func IsHeartbeat(req *AppendEntriesRequest) bool {
	return req.Term != 0 && (req.Addr != nil || req.Leader != nil) &&
		req.PrevLogEntry == 0 && req.PrevLogTerm == 0 &&
		len(req.Entries) == 0 && req.LeaderCommitIndex == 0
}
