package transport

import (
	"errors"
	"fmt"
	"io"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// AppendEntries implements Transport. A heartbeat (IsHeartbeat) travels on a
// connection from the heartbeat pool, so it never waits behind replication.
func (n *NetworkTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *AppendEntriesRequest, resp *AppendEntriesResponse) error {
	return n.genericRPC(id, target, rpcAppendEntries, IsHeartbeat(args), args, resp)
}

// RequestVote implements Transport.
func (n *NetworkTransport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *RequestVoteRequest, resp *RequestVoteResponse) error {
	return n.genericRPC(id, target, rpcRequestVote, false, args, resp)
}

// RequestPreVote implements WithPreVote.
func (n *NetworkTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *RequestPreVoteRequest, resp *RequestPreVoteResponse) error {
	return n.genericRPC(id, target, rpcRequestPreVote, false, args, resp)
}

// TimeoutNow implements Transport.
func (n *NetworkTransport) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *TimeoutNowRequest, resp *TimeoutNowResponse) error {
	return n.genericRPC(id, target, rpcTimeoutNow, false, args, resp)
}

// genericRPC sends one request on a pooled connection and waits for the
// reply, all within one Timeout. A remote error string is returned as
// errors.New(text) and the connection goes back to the pool; any other
// failure closes the connection.
func (n *NetworkTransport) genericRPC(id raft.ServerID, target raft.ServerAddress, typ uint8, heartbeat bool, args, resp interface{}) error {
	c, err := n.getConn(id, target, heartbeat)
	if err != nil {
		return err
	}
	_ = c.conn.SetDeadline(time.Now().Add(n.lim.timeout))
	if err := c.send(n, typ, args, true); err != nil {
		n.discardConn(c)
		return err
	}
	rpcErr, err := c.receive(n, resp)
	if err != nil {
		n.discardConn(c)
		return err
	}
	n.releaseConn(c)
	if rpcErr != "" {
		return errors.New(rpcErr)
	}
	return nil
}

// InstallSnapshot implements Transport: it sends the request, streams
// exactly args.Size bytes from data, and waits for the reply. The
// connection is closed afterwards. The deadline is Timeout per TimeoutScale
// bytes, at least Timeout.
func (n *NetworkTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *InstallSnapshotRequest, resp *InstallSnapshotResponse, data io.Reader) error {
	if args.Size < 0 {
		return fmt.Errorf("install snapshot: negative size %d", args.Size)
	}
	c, err := n.getConn(id, target, false)
	if err != nil {
		return err
	}
	defer n.discardConn(c)
	_ = c.conn.SetDeadline(time.Now().Add(n.lim.snapshotTimeout(args.Size, n.TimeoutScale)))
	if err := c.send(n, rpcInstallSnapshot, args, false); err != nil {
		return err
	}
	copied, err := io.CopyN(c.bw, data, args.Size)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("install snapshot: data ended after %d of %d bytes", copied, args.Size)
		}
		return n.wrapIOErr(fmt.Errorf("install snapshot: send data: %w", err))
	}
	if err := c.bw.Flush(); err != nil {
		return n.wrapIOErr(fmt.Errorf("install snapshot: send data: %w", err))
	}
	rpcErr, err := c.receive(n, resp)
	if err != nil {
		return err
	}
	if rpcErr != "" {
		return errors.New(rpcErr)
	}
	return nil
}

// AppendEntriesPipeline implements Transport. The pipeline owns one
// connection, dialled by its first AppendEntries (so a dial error surfaces
// there); up to MaxRPCsInFlight requests may await replies on it.
func (n *NetworkTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (AppendPipeline, error) {
	if n.maxInFlight < minInFlightForPipelining {
		return nil, raft.ErrPipelineReplicationNotSupported
	}
	p := newNetPipeline(n, id, target, n.maxInFlight)
	n.mu.Lock()
	if n.mu.shutdown {
		n.mu.Unlock()
		return nil, raft.ErrTransportShutdown
	}
	n.mu.pipelines[p] = struct{}{}
	n.wg.Add(1)
	n.mu.Unlock()
	go p.decodeLoop()
	return p, nil
}
