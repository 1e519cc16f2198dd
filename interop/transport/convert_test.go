package transport

import (
	"fmt"

	hraft "github.com/hashicorp/raft"

	raft "github.com/pontoon-raft/raft"
	pt "github.com/pontoon-raft/raft/transport"
)

// Field-by-field conversions between Pontoon's and hashicorp's RPC types.
// Tests compare in Pontoon's types with reflect.DeepEqual, so nil and empty
// slices, times and every field must survive the wire exactly.

func hHeader(h pt.RPCHeader) hraft.RPCHeader {
	return hraft.RPCHeader{ProtocolVersion: hraft.ProtocolVersion(h.ProtocolVersion), ID: h.ID, Addr: h.Addr}
}

func pHeader(h hraft.RPCHeader) pt.RPCHeader {
	return pt.RPCHeader{ProtocolVersion: raft.ProtocolVersion(h.ProtocolVersion), ID: h.ID, Addr: h.Addr}
}

func hLogs(in []*raft.Log) []*hraft.Log {
	if in == nil {
		return nil
	}
	out := make([]*hraft.Log, len(in))
	for i, l := range in {
		out[i] = &hraft.Log{Index: l.Index, Term: l.Term, Type: hraft.LogType(l.Type), Data: l.Data, Extensions: l.Extensions, AppendedAt: l.AppendedAt}
	}
	return out
}

func pLogs(in []*hraft.Log) []*raft.Log {
	if in == nil {
		return nil
	}
	out := make([]*raft.Log, len(in))
	for i, l := range in {
		out[i] = &raft.Log{Index: l.Index, Term: l.Term, Type: raft.LogType(l.Type), Data: l.Data, Extensions: l.Extensions, AppendedAt: l.AppendedAt}
	}
	return out
}

// toHashi converts a Pontoon request or response to hashicorp's type.
func toHashi(v interface{}) interface{} {
	switch x := v.(type) {
	case *pt.AppendEntriesRequest:
		return &hraft.AppendEntriesRequest{RPCHeader: hHeader(x.RPCHeader), Term: x.Term, Leader: x.Leader,
			PrevLogEntry: x.PrevLogEntry, PrevLogTerm: x.PrevLogTerm, Entries: hLogs(x.Entries), LeaderCommitIndex: x.LeaderCommitIndex}
	case *pt.AppendEntriesResponse:
		return &hraft.AppendEntriesResponse{RPCHeader: hHeader(x.RPCHeader), Term: x.Term, LastLog: x.LastLog, Success: x.Success, NoRetryBackoff: x.NoRetryBackoff}
	case *pt.RequestVoteRequest:
		return &hraft.RequestVoteRequest{RPCHeader: hHeader(x.RPCHeader), Term: x.Term, Candidate: x.Candidate,
			LastLogIndex: x.LastLogIndex, LastLogTerm: x.LastLogTerm, LeadershipTransfer: x.LeadershipTransfer}
	case *pt.RequestVoteResponse:
		return &hraft.RequestVoteResponse{RPCHeader: hHeader(x.RPCHeader), Term: x.Term, Peers: x.Peers, Granted: x.Granted}
	case *pt.RequestPreVoteRequest:
		return &hraft.RequestPreVoteRequest{RPCHeader: hHeader(x.RPCHeader), Term: x.Term, LastLogIndex: x.LastLogIndex, LastLogTerm: x.LastLogTerm}
	case *pt.RequestPreVoteResponse:
		return &hraft.RequestPreVoteResponse{RPCHeader: hHeader(x.RPCHeader), Term: x.Term, Granted: x.Granted}
	case *pt.InstallSnapshotRequest:
		return &hraft.InstallSnapshotRequest{RPCHeader: hHeader(x.RPCHeader), SnapshotVersion: hraft.SnapshotVersion(x.SnapshotVersion),
			Term: x.Term, Leader: x.Leader, LastLogIndex: x.LastLogIndex, LastLogTerm: x.LastLogTerm, Peers: x.Peers,
			Configuration: x.Configuration, ConfigurationIndex: x.ConfigurationIndex, Size: x.Size}
	case *pt.InstallSnapshotResponse:
		return &hraft.InstallSnapshotResponse{RPCHeader: hHeader(x.RPCHeader), Term: x.Term, Success: x.Success}
	case *pt.TimeoutNowRequest:
		return &hraft.TimeoutNowRequest{RPCHeader: hHeader(x.RPCHeader)}
	case *pt.TimeoutNowResponse:
		return &hraft.TimeoutNowResponse{RPCHeader: hHeader(x.RPCHeader)}
	}
	panic(fmt.Sprintf("toHashi: %T", v))
}

// fromHashi converts a hashicorp request or response to Pontoon's type.
func fromHashi(v interface{}) interface{} {
	switch x := v.(type) {
	case *hraft.AppendEntriesRequest:
		return &pt.AppendEntriesRequest{RPCHeader: pHeader(x.RPCHeader), Term: x.Term, Leader: x.Leader,
			PrevLogEntry: x.PrevLogEntry, PrevLogTerm: x.PrevLogTerm, Entries: pLogs(x.Entries), LeaderCommitIndex: x.LeaderCommitIndex}
	case *hraft.AppendEntriesResponse:
		return &pt.AppendEntriesResponse{RPCHeader: pHeader(x.RPCHeader), Term: x.Term, LastLog: x.LastLog, Success: x.Success, NoRetryBackoff: x.NoRetryBackoff}
	case *hraft.RequestVoteRequest:
		return &pt.RequestVoteRequest{RPCHeader: pHeader(x.RPCHeader), Term: x.Term, Candidate: x.Candidate,
			LastLogIndex: x.LastLogIndex, LastLogTerm: x.LastLogTerm, LeadershipTransfer: x.LeadershipTransfer}
	case *hraft.RequestVoteResponse:
		return &pt.RequestVoteResponse{RPCHeader: pHeader(x.RPCHeader), Term: x.Term, Peers: x.Peers, Granted: x.Granted}
	case *hraft.RequestPreVoteRequest:
		return &pt.RequestPreVoteRequest{RPCHeader: pHeader(x.RPCHeader), Term: x.Term, LastLogIndex: x.LastLogIndex, LastLogTerm: x.LastLogTerm}
	case *hraft.RequestPreVoteResponse:
		return &pt.RequestPreVoteResponse{RPCHeader: pHeader(x.RPCHeader), Term: x.Term, Granted: x.Granted}
	case *hraft.InstallSnapshotRequest:
		return &pt.InstallSnapshotRequest{RPCHeader: pHeader(x.RPCHeader), SnapshotVersion: raft.SnapshotVersion(x.SnapshotVersion),
			Term: x.Term, Leader: x.Leader, LastLogIndex: x.LastLogIndex, LastLogTerm: x.LastLogTerm, Peers: x.Peers,
			Configuration: x.Configuration, ConfigurationIndex: x.ConfigurationIndex, Size: x.Size}
	case *hraft.InstallSnapshotResponse:
		return &pt.InstallSnapshotResponse{RPCHeader: pHeader(x.RPCHeader), Term: x.Term, Success: x.Success}
	case *hraft.TimeoutNowRequest:
		return &pt.TimeoutNowRequest{RPCHeader: pHeader(x.RPCHeader)}
	case *hraft.TimeoutNowResponse:
		return &pt.TimeoutNowResponse{RPCHeader: pHeader(x.RPCHeader)}
	}
	panic(fmt.Sprintf("fromHashi: %T", v))
}
