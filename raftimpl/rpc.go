package raftimpl

import (
	"fmt"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
	"github.com/pontoon-raft/raft/transport"
)

// errUnexpectedCommand is the reply to an unknown RPC; hashicorp/raft peers
// read "unexpected command" on a pre-vote as "pre-vote not supported".
var errUnexpectedCommand = fmt.Errorf("unexpected command")

// header returns the RPC header this node sends.
// Its byte slices are shared by every message: they are never modified.
func (r *Raft) header() transport.RPCHeader {
	r.hdrOnce.Do(func() {
		r.hdr = transport.RPCHeader{
			ProtocolVersion: r.conf.ProtocolVersion,
			ID:              []byte(r.localID),
			Addr:            r.trans.EncodePeer(r.localID, r.localAddr),
		}
	})
	return r.hdr
}

// senderID returns the ServerID of a request's sender, learning its address.
func (d *driver) senderID(h transport.RPCHeader, legacy []byte) raft.ServerID {
	addrBytes := h.Addr
	if len(addrBytes) == 0 {
		addrBytes = legacy
	}
	id := raft.ServerID(h.ID)
	if id == "" {
		id = raft.ServerID(d.r.trans.DecodePeer(addrBytes))
	}
	if len(addrBytes) > 0 {
		if _, known := d.addrs[id]; !known {
			d.addrs[id] = d.r.trans.DecodePeer(addrBytes)
		}
	}
	return id
}

// handleRPC turns a request from a peer into a core message. The answer is
// sent by respond when the core produces it.
func (d *driver) handleRPC(rpc transport.RPC) {
	r := d.r
	if h, ok := rpc.Command.(transport.WithRPCHeader); ok {
		v := h.GetRPCHeader().ProtocolVersion
		if v < r.conf.ProtocolVersion-1 || v > raft.ProtocolVersionMax {
			rpc.Respond(nil, raft.ErrUnsupportedProtocol)
			return
		}
	}
	var m core.Message
	switch req := rpc.Command.(type) {
	case *transport.AppendEntriesRequest:
		from := d.senderID(req.RPCHeader, req.Leader)
		if transport.IsHeartbeat(req) {
			m = core.Message{Type: core.MsgHeartbeat, From: from, Term: req.Term}
		} else {
			m = core.Message{Type: core.MsgApp, From: from, Term: req.Term,
				PrevLogIndex: req.PrevLogEntry, PrevLogTerm: req.PrevLogTerm,
				Entries: req.Entries, Commit: req.LeaderCommitIndex}
		}
	case *transport.RequestVoteRequest:
		r.observe(*req)
		m = core.Message{Type: core.MsgVote, From: d.senderID(req.RPCHeader, req.Candidate), Term: req.Term,
			LastLogIndex: req.LastLogIndex, LastLogTerm: req.LastLogTerm, LeadershipTransfer: req.LeadershipTransfer}
	case *transport.RequestPreVoteRequest:
		r.observe(*req)
		m = core.Message{Type: core.MsgPreVote, From: d.senderID(req.RPCHeader, nil), Term: req.Term,
			LastLogIndex: req.LastLogIndex, LastLogTerm: req.LastLogTerm}
	case *transport.TimeoutNowRequest:
		m = core.Message{Type: core.MsgTimeoutNow, From: d.senderID(req.RPCHeader, nil), Term: d.core.Status().Term}
	case *transport.InstallSnapshotRequest:
		d.receiveSnapshot(rpc, req)
		return
	case *transport.ReadIndexRequest:
		m = core.Message{Type: core.MsgReadIndex, From: d.senderID(req.RPCHeader, nil), Term: req.Term}
	default:
		rpc.Respond(nil, errUnexpectedCommand)
		return
	}
	d.nextID++
	m.Context = d.nextID
	m.To = r.localID
	d.rpcs[m.Context] = pendingRPC{rpc: rpc, req: m, started: time.Now()}
	d.step(m)
}

// respond answers the pending request a core response belongs to.
func (d *driver) respond(m core.Message) {
	p, ok := d.rpcs[m.Context]
	if !ok {
		return // already expired
	}
	delete(d.rpcs, m.Context)
	d.noteRPC(p.req, p.started)
	r := d.r
	h := r.header()
	switch m.Type {
	case core.MsgAppResp, core.MsgHeartbeatResp:
		if m.Success {
			r.lastContact.Store(time.Now().UnixNano())
		}
		p.rpc.Respond(&transport.AppendEntriesResponse{RPCHeader: h, Term: m.Term, LastLog: m.LastLog,
			Success: m.Success, NoRetryBackoff: m.NoRetryBackoff}, nil)
	case core.MsgVoteResp:
		if m.Granted {
			r.lastContact.Store(time.Now().UnixNano())
		}
		p.rpc.Respond(&transport.RequestVoteResponse{RPCHeader: h, Term: m.Term, Granted: m.Granted}, nil)
	case core.MsgPreVoteResp:
		p.rpc.Respond(&transport.RequestPreVoteResponse{RPCHeader: h, Term: m.Term, Granted: m.Granted}, nil)
	case core.MsgTimeoutNowResp:
		p.rpc.Respond(&transport.TimeoutNowResponse{RPCHeader: h}, nil)
	case core.MsgSnapResp:
		if m.Success {
			r.lastContact.Store(time.Now().UnixNano())
		}
		p.rpc.Respond(&transport.InstallSnapshotResponse{RPCHeader: h, Term: m.Term, Success: m.Success}, nil)
	case core.MsgReadIndexResp:
		p.rpc.Respond(&transport.ReadIndexResponse{RPCHeader: h, Term: m.Term, Index: m.Index, Success: m.Success}, nil)
	default:
		p.rpc.Respond(nil, fmt.Errorf("internal error: unexpected response type %d", m.Type))
	}
}
