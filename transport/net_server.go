package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	msgpack "github.com/hashicorp/go-msgpack/v2/codec"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/internal/codec"
)

// listen accepts connections until Close, retrying failed accepts with
// backoff (5ms doubling to 1s).
func (n *NetworkTransport) listen() {
	defer n.wg.Done()
	const baseDelay, maxDelay = 5 * time.Millisecond, time.Second
	var delay time.Duration
	for {
		conn, err := n.stream.Accept()
		if err != nil {
			if n.IsShutdown() {
				return
			}
			delay = min(max(2*delay, baseDelay), maxDelay)
			n.logger.Error("failed to accept connection", "error", err)
			t := time.NewTimer(delay)
			select {
			case <-n.shutdownCh:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		delay = 0
		n.mu.Lock()
		if n.mu.shutdown {
			n.mu.Unlock()
			_ = conn.Close()
			return
		}
		if len(n.mu.serverConns) >= n.lim.maxInboundConns {
			n.mu.Unlock()
			n.logger.Error("too many inbound connections, closing new one", "limit", n.lim.maxInboundConns, "remote-address", conn.RemoteAddr().String())
			_ = conn.Close()
			continue
		}
		n.mu.serverConns[conn] = struct{}{}
		n.wg.Add(1)
		n.mu.Unlock()
		n.logger.Debug("accepted connection", "local-address", n.LocalAddr(), "remote-address", conn.RemoteAddr().String())
		go n.serveConn(conn)
	}
}

// serverConn is the state of one accepted connection.
type serverConn struct {
	conn net.Conn
	sr   *codec.StreamReader
	// frame holds the request being read. An AppendEntries decoded by the
	// fast path keeps it (its entries point into it), so the next request
	// gets a new one of frameHint capacity; otherwise it is reused.
	frame     []byte
	body      []byte // frame without its type byte
	frameHint int
	// onFirst runs when a request's first byte arrives; started records it.
	onFirst func()
	started bool
	out     []byte // encoded reply, reused
	enc     *msgpack.Encoder
	dec     codec.BytesDecoder
	respCh  chan RPCResponse // reused: one request at a time
}

// errSnapshotNotDrained closes a connection whose InstallSnapshot data was
// not fully read by the handler: the stream is no longer at a frame start.
var errSnapshotNotDrained = errors.New("install snapshot: handler left data unread")

// serveConn handles the requests of one connection in order until it fails,
// idles out, or the transport closes.
func (n *NetworkTransport) serveConn(conn net.Conn) {
	defer n.wg.Done()
	defer func() {
		n.mu.Lock()
		delete(n.mu.serverConns, conn)
		n.mu.Unlock()
		_ = conn.Close()
	}()
	remote := conn.RemoteAddr().String()
	if hs, ok := conn.(interface {
		HandshakeContext(context.Context) error
	}); ok {
		_ = conn.SetDeadline(time.Now().Add(n.lim.timeout))
		if err := hs.HandshakeContext(context.Background()); err != nil {
			if !n.IsShutdown() {
				n.logger.Error("TLS handshake failed", "remote-address", remote, "error", err)
			}
			return
		}
		_ = conn.SetDeadline(time.Time{})
	}
	sc := &serverConn{
		conn:   conn,
		sr:     codec.NewStreamReader(conn),
		respCh: make(chan RPCResponse, 1),
	}
	// Once a request's first byte is in, the rest must arrive within Timeout.
	sc.onFirst = func() {
		sc.started = true
		_ = conn.SetReadDeadline(time.Now().Add(n.lim.timeout))
	}
	for {
		_ = conn.SetReadDeadline(time.Now().Add(n.lim.idleTimeout))
		typ, err := n.readRequestFrame(sc)
		if err != nil {
			if sc.started {
				n.logConnEnd(remote, err, "failed to read incoming request")
			} else {
				n.logConnEnd(remote, err, "")
			}
			return
		}
		if err := n.handleRequest(sc, typ); err != nil {
			n.logConnEnd(remote, err, "failed to handle incoming request")
			return
		}
		if cap(sc.frame) > maxRetainedScratch {
			sc.frame = nil
		}
		if cap(sc.out) > maxRetainedScratch {
			sc.out = nil
		}
	}
}

// logConnEnd logs why a server connection ends: quietly for EOF, idle
// timeouts and shutdown, as an error otherwise.
func (n *NetworkTransport) logConnEnd(remote string, err error, msg string) {
	switch {
	case n.IsShutdown(), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return
	case msg == "" && errors.Is(err, os.ErrDeadlineExceeded):
		n.logger.Debug("closing idle connection", "remote-address", remote)
		return
	}
	if msg == "" {
		msg = "failed to read incoming request"
	}
	n.logger.Error(msg, "remote-address", remote, "error", err)
}

// handleRequest reads the request after its type byte, dispatches it, waits
// for the answer and writes the reply. An error closes the connection.
func (n *NetworkTransport) handleRequest(sc *serverConn, typ uint8) error {
	rpc, snap, err := n.decodeRequest(sc, typ)
	if err != nil {
		return err
	}
	if snap != nil {
		_ = sc.conn.SetReadDeadline(time.Now().Add(n.lim.snapshotTimeout(snap.N, n.TimeoutScale)))
	}
	req, isAE := rpc.Command.(*AppendEntriesRequest)
	if fn := n.heartbeatFn.Load(); isAE && fn != nil && IsHeartbeat(req) {
		(*fn)(rpc)
	} else {
		select {
		case n.consumeCh <- rpc:
		case <-n.shutdownCh:
			return raft.ErrTransportShutdown
		}
	}
	var resp RPCResponse
	select {
	case resp = <-sc.respCh:
	case <-n.shutdownCh:
		return raft.ErrTransportShutdown
	}
	if err := n.writeReply(sc, resp); err != nil {
		return err
	}
	if snap != nil && snap.N > 0 {
		return fmt.Errorf("%w (%d bytes left)", errSnapshotNotDrained, snap.N)
	}
	return nil
}

// readRequestFrame reads the next request, [type byte][msgpack object],
// into sc.frame (and sc.body, the object) and returns its type. Errors wrap
// raft.ErrCorrupt or raft.ErrMessageTooLarge for bad input; io.EOF means
// the peer closed between requests.
func (n *NetworkTransport) readRequestFrame(sc *serverConn) (uint8, error) {
	if sc.frame == nil && sc.frameHint > 0 {
		sc.frame = make([]byte, 0, sc.frameHint)
	}
	sc.started = false
	frame, err := sc.sr.ReadFrame(sc.frame, 1, 1, n.lim.maxMessageSize, sc.onFirst)
	sc.frame = frame
	if err != nil {
		return 0, frameErr(err, n.lim.maxMessageSize)
	}
	sc.body = frame[1:]
	typ := frame[0]
	switch typ {
	case rpcAppendEntries, rpcRequestVote, rpcRequestPreVote, rpcTimeoutNow, rpcInstallSnapshot, rpcReadIndex:
		return typ, nil
	}
	return typ, fmt.Errorf("%w: unknown rpc type %d", raft.ErrCorrupt, typ)
}

// decodeRequest decodes sc.body as a request of type typ (known valid).
func (n *NetworkTransport) decodeRequest(sc *serverConn, typ uint8) (RPC, *io.LimitedReader, error) {
	rpc := RPC{RespChan: sc.respCh}
	var err error
	switch typ {
	case rpcAppendEntries:
		req := &AppendEntriesRequest{}
		rpc.Command, err = req, n.decodeAppendEntries(sc, req)
	case rpcRequestVote:
		req := &RequestVoteRequest{}
		rpc.Command, err = req, decodeGeneric(sc, req)
	case rpcRequestPreVote:
		req := &RequestPreVoteRequest{}
		rpc.Command, err = req, decodeGeneric(sc, req)
	case rpcTimeoutNow:
		req := &TimeoutNowRequest{}
		rpc.Command, err = req, decodeGeneric(sc, req)
	case rpcReadIndex:
		req := &ReadIndexRequest{}
		rpc.Command, err = req, decodeGeneric(sc, req)
	case rpcInstallSnapshot:
		req := &InstallSnapshotRequest{}
		if err = decodeGeneric(sc, req); err == nil && req.Size < 0 {
			err = fmt.Errorf("%w: install snapshot: negative size %d", raft.ErrCorrupt, req.Size)
		}
		rpc.Command = req
		if err == nil {
			snap := &io.LimitedReader{R: sc.sr, N: req.Size}
			rpc.Reader = snap
			return rpc, snap, nil
		}
	}
	return rpc, nil, err
}

// decodeAppendEntries decodes sc.frame into req (zero), by the fast path
// or go-msgpack, and enforces the entry limit.
func (n *NetworkTransport) decodeAppendEntries(sc *serverConn, req *AppendEntriesRequest) error {
	aliased, err := decodeAppendEntriesRequestFast(sc.body, req, n.lim.maxAppendEntries, true)
	if err == nil {
		if aliased {
			// req now owns the frame. Size the next one like this one.
			sc.frameHint = min(len(sc.frame)+len(sc.frame)/64+64, maxRetainedScratch)
			sc.frame, sc.body = nil, nil
		}
		return nil
	}
	if !errors.Is(err, errFallback) {
		return err
	}
	*req = AppendEntriesRequest{}
	if err := decodeGeneric(sc, req); err != nil {
		return err
	}
	if len(req.Entries) > n.lim.maxAppendEntries {
		return fmt.Errorf("%w: %d entries in AppendEntries, limit %d", raft.ErrMessageTooLarge, len(req.Entries), n.lim.maxAppendEntries)
	}
	return nil
}

func decodeGeneric(sc *serverConn, req interface{}) error {
	if err := sc.dec.Decode(sc.body, req); err != nil {
		return fmt.Errorf("%w: decode %T: %v", raft.ErrCorrupt, req, err)
	}
	return nil
}

// writeReply writes [error string][response] and flushes it.
func (n *NetworkTransport) writeReply(sc *serverConn, resp RPCResponse) error {
	var errText string
	if resp.Error != nil {
		errText = resp.Error.Error()
	}
	b := appendString(sc.out[:0], errText)
	var err error
	if ae, ok := resp.Response.(*AppendEntriesResponse); ok && ae != nil && !n.newTimeFormat {
		b = appendAppendEntriesResponse(b, ae)
	} else if resp.Response == nil {
		b = append(b, 0xc0)
	} else if b, err = encodeGeneric(b, &sc.enc, n.newTimeFormat, resp.Response); err != nil {
		sc.out = b
		return err
	}
	sc.out = b
	_ = sc.conn.SetWriteDeadline(time.Now().Add(n.lim.timeout))
	if _, err := sc.conn.Write(b); err != nil {
		return fmt.Errorf("write reply: %w", err)
	}
	return nil
}
