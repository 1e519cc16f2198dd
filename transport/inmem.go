package transport

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// NewInmemAddr returns a new random in-memory address.
func NewInmemAddr() raft.ServerAddress {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return raft.ServerAddress(hex.EncodeToString(b[:]))
}

// InmemTransport is an in-process LoopbackTransport for tests. Requests and
// responses are passed by pointer, without serialization: receivers must not
// modify them. Peers are connected with Connect; Disconnect models a
// partition (one direction: disconnect both ends for a symmetric one).
type InmemTransport struct {
	consumerCh chan RPC
	localAddr  raft.ServerAddress
	timeout    time.Duration

	mu struct {
		sync.RWMutex
		peers     map[raft.ServerAddress]*InmemTransport
		pipelines []*inmemPipeline
		heartbeat func(RPC)
		closed    bool
	}
	// shutdownCh is closed by Close.
	shutdownCh chan struct{}
	closeOnce  sync.Once
}

// NewInmemTransport returns a transport with a 500ms timeout. An empty addr
// gets a random one.
func NewInmemTransport(addr raft.ServerAddress) (raft.ServerAddress, *InmemTransport) {
	return NewInmemTransportWithTimeout(addr, 500*time.Millisecond)
}

// NewInmemTransportWithTimeout returns a transport with the given timeout.
func NewInmemTransportWithTimeout(addr raft.ServerAddress, timeout time.Duration) (raft.ServerAddress, *InmemTransport) {
	if addr == "" {
		addr = NewInmemAddr()
	}
	t := &InmemTransport{
		consumerCh: make(chan RPC, 16),
		localAddr:  addr,
		timeout:    timeout,
		shutdownCh: make(chan struct{}),
	}
	t.mu.peers = make(map[raft.ServerAddress]*InmemTransport)
	return addr, t
}

// SetHeartbeatHandler implements Transport.
func (t *InmemTransport) SetHeartbeatHandler(cb func(RPC)) {
	t.mu.Lock()
	t.mu.heartbeat = cb
	t.mu.Unlock()
}

// Consumer implements Transport.
func (t *InmemTransport) Consumer() <-chan RPC { return t.consumerCh }

// LocalAddr implements Transport.
func (t *InmemTransport) LocalAddr() raft.ServerAddress { return t.localAddr }

// AppendEntriesPipeline implements Transport.
func (t *InmemTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (AppendPipeline, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return nil, raft.ErrTransportShutdown
	}
	peer, ok := t.mu.peers[target]
	if !ok {
		return nil, fmt.Errorf("failed to connect to peer: %v", target)
	}
	p := newInmemPipeline(t, peer, target)
	t.mu.pipelines = append(t.mu.pipelines, p)
	return p, nil
}

// AppendEntries implements Transport.
func (t *InmemTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *AppendEntriesRequest, resp *AppendEntriesResponse) error {
	out, err := t.makeRPC(target, args, nil, t.timeout)
	if err != nil {
		return err
	}
	*resp = *out.(*AppendEntriesResponse)
	return nil
}

// RequestVote implements Transport.
func (t *InmemTransport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *RequestVoteRequest, resp *RequestVoteResponse) error {
	out, err := t.makeRPC(target, args, nil, t.timeout)
	if err != nil {
		return err
	}
	*resp = *out.(*RequestVoteResponse)
	return nil
}

// RequestPreVote implements WithPreVote.
func (t *InmemTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *RequestPreVoteRequest, resp *RequestPreVoteResponse) error {
	out, err := t.makeRPC(target, args, nil, t.timeout)
	if err != nil {
		return err
	}
	*resp = *out.(*RequestPreVoteResponse)
	return nil
}

// ReadIndex implements WithReadIndex.
func (t *InmemTransport) ReadIndex(id raft.ServerID, target raft.ServerAddress, args *ReadIndexRequest, resp *ReadIndexResponse) error {
	out, err := t.makeRPC(target, args, nil, t.timeout)
	if err != nil {
		return err
	}
	*resp = *out.(*ReadIndexResponse)
	return nil
}

// InstallSnapshot implements Transport.
func (t *InmemTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *InstallSnapshotRequest, resp *InstallSnapshotResponse, data io.Reader) error {
	out, err := t.makeRPC(target, args, data, 10*t.timeout)
	if err != nil {
		return err
	}
	*resp = *out.(*InstallSnapshotResponse)
	return nil
}

// TimeoutNow implements Transport.
func (t *InmemTransport) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *TimeoutNowRequest, resp *TimeoutNowResponse) error {
	out, err := t.makeRPC(target, args, nil, 10*t.timeout)
	if err != nil {
		return err
	}
	*resp = *out.(*TimeoutNowResponse)
	return nil
}

func (t *InmemTransport) peer(target raft.ServerAddress) (*InmemTransport, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.mu.closed {
		return nil, raft.ErrTransportShutdown
	}
	peer, ok := t.mu.peers[target]
	if !ok {
		return nil, fmt.Errorf("failed to connect to peer: %v", target)
	}
	return peer, nil
}

// makeRPC delivers a request to target and waits for its response, both
// within timeout.
func (t *InmemTransport) makeRPC(target raft.ServerAddress, args interface{}, r io.Reader, timeout time.Duration) (interface{}, error) {
	peer, err := t.peer(target)
	if err != nil {
		return nil, err
	}
	respCh := make(chan RPCResponse, 1)
	req := RPC{Command: args, Reader: r, RespChan: respCh}

	var timer <-chan time.Time
	if timeout > 0 {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		timer = tm.C
	}

	if ae, ok := args.(*AppendEntriesRequest); ok && IsHeartbeat(ae) {
		peer.mu.RLock()
		hb := peer.mu.heartbeat
		peer.mu.RUnlock()
		if hb != nil {
			hb(req)
			goto wait
		}
	}
	select {
	case peer.consumerCh <- req:
	case <-timer:
		return nil, fmt.Errorf("send timed out")
	case <-peer.shutdownCh:
		return nil, raft.ErrTransportShutdown
	case <-t.shutdownCh:
		return nil, raft.ErrTransportShutdown
	}
wait:
	select {
	case rpcResp := <-respCh:
		if rpcResp.Error != nil {
			return nil, rpcResp.Error
		}
		return rpcResp.Response, nil
	case <-timer:
		return nil, fmt.Errorf("command timed out")
	case <-t.shutdownCh:
		return nil, raft.ErrTransportShutdown
	}
}

// EncodePeer implements Transport.
func (t *InmemTransport) EncodePeer(id raft.ServerID, p raft.ServerAddress) []byte {
	return []byte(p)
}

// DecodePeer implements Transport.
func (t *InmemTransport) DecodePeer(buf []byte) raft.ServerAddress {
	return raft.ServerAddress(buf)
}

// Connect routes requests for peer to trans, which must be an
// *InmemTransport.
func (t *InmemTransport) Connect(peer raft.ServerAddress, trans Transport) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.peers[peer] = trans.(*InmemTransport)
}

// Disconnect removes the route to peer and closes pipelines to it.
func (t *InmemTransport) Disconnect(peer raft.ServerAddress) {
	t.mu.Lock()
	delete(t.mu.peers, peer)
	var keep []*inmemPipeline
	var closing []*inmemPipeline
	for _, p := range t.mu.pipelines {
		if p.peerAddr == peer {
			closing = append(closing, p)
		} else {
			keep = append(keep, p)
		}
	}
	t.mu.pipelines = keep
	t.mu.Unlock()
	for _, p := range closing {
		p.Close()
	}
}

// DisconnectAll removes every route and closes every pipeline.
func (t *InmemTransport) DisconnectAll() {
	t.mu.Lock()
	t.mu.peers = make(map[raft.ServerAddress]*InmemTransport)
	pipes := t.mu.pipelines
	t.mu.pipelines = nil
	t.mu.Unlock()
	for _, p := range pipes {
		p.Close()
	}
}

// Close implements WithClose: it disconnects every peer and fails pending and
// later calls with raft.ErrTransportShutdown.
func (t *InmemTransport) Close() error {
	t.DisconnectAll()
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.mu.closed = true
		t.mu.Unlock()
		close(t.shutdownCh)
	})
	return nil
}
