package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	metrics "github.com/hashicorp/go-metrics"
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
		ok, evicted := n.admitLocked()
		if !ok {
			n.mu.Unlock()
			n.logger.Debug("too many inbound connections, all busy: closing new one", "limit", n.lim.maxInboundConns, "remote-address", conn.RemoteAddr().String())
			_ = conn.Close()
			n.flood.note(floodRefused)
			continue
		}
		ct := &connTrack{conn: conn, acceptedAt: time.Now()}
		n.mu.serverConns[conn] = ct
		n.wg.Add(1)
		n.mu.Unlock()
		if evicted != nil {
			_ = evicted.Close()
			n.logger.Debug("inbound connection limit reached: closed an idle connection", "limit", n.lim.maxInboundConns, "closed", evicted.RemoteAddr().String())
			n.flood.note(floodEvicted)
		}
		n.logger.Debug("accepted connection", "local-address", n.LocalAddr(), "remote-address", conn.RemoteAddr().String())
		go n.serveConn(ct)
	}
}

// serverConn is the state of one accepted connection. Two goroutines serve
// it: the reader (serveConn) reads and decodes requests and hands them to the
// engine, up to readAhead of them ahead of the replies; the writer
// (writeReplies) writes the replies strictly in request order. The reader
// owns sr, frame, body, frameHint, onFirst, started and dec; the writer owns
// out and enc.
type serverConn struct {
	conn net.Conn
	// track is what the accept loop sees of this connection.
	track *connTrack
	sr    *codec.StreamReader
	// frame holds the request being read. An AppendEntries decoded by the
	// fast path keeps it (its entries point into it), so the next request
	// gets a new one of frameHint capacity; otherwise it is reused.
	frame     []byte
	body      []byte // frame without its type byte
	frameHint int
	// onFirst runs when a request's first byte arrives; started records it.
	onFirst func()
	started bool
	// m receives the current request's metrics (nil: none); waitStart is
	// when the reader began waiting for it, decodeStart when its first
	// byte arrived.
	m           *metrics.Metrics
	waitStart   time.Time
	decodeStart time.Time
	out         []byte // encoded replies of one Write, reused
	// inline holds a heartbeat reply the reader writes itself
	// (heartbeatInline), reused.
	inline []byte
	enc    *msgpack.Encoder
	dec    codec.BytesDecoder

	// free holds the reply channels not in use: a request takes one before
	// it is handed to the engine and the writer returns it after writing
	// the reply, so at most cap(free) requests are outstanding.
	free chan chan RPCResponse
	// queue carries the outstanding requests, in order, to the writer.
	queue chan pendingReply
	// writerDone is closed when the writer exits (after a write error, or
	// once queue is closed and drained).
	writerDone chan struct{}
	// writeErr is the writer's error, readable after writerDone.
	writeErr error
}

// pendingReply is one request waiting for its reply to be written.
type pendingReply struct {
	respCh chan RPCResponse
	// written, when not nil, is signalled once the reply is written: the
	// reader waits for it before reading past an InstallSnapshot.
	written chan struct{}
	// m, when not nil, receives raft.net.rpcRespond for this request,
	// labelled labels, timed from handedAt (just before its hand-off to the
	// engine).
	m        *metrics.Metrics
	labels   []metrics.Label
	handedAt time.Time
}

// errSnapshotNotDrained closes a connection whose InstallSnapshot data was
// not fully read by the handler: the stream is no longer at a frame start.
var errSnapshotNotDrained = errors.New("install snapshot: handler left data unread")

// serveConn handles the requests of one connection until it fails, idles
// out, or the transport closes. Requests are decoded and handed to the
// engine while earlier ones are still being handled (up to the read-ahead
// bound), so an engine that drains its queue persists several pipelined
// AppendEntries at once; replies go out in request order.
func (n *NetworkTransport) serveConn(ct *connTrack) {
	defer n.wg.Done()
	conn := ct.conn
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
		_ = conn.SetDeadline(ct.acceptedAt.Add(n.lim.timeout))
		if err := hs.HandshakeContext(context.Background()); err != nil {
			switch {
			case n.IsShutdown(), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
			case errors.Is(err, os.ErrDeadlineExceeded):
				// A silent connection: part of a flood, reported in sum.
				n.logger.Debug("TLS handshake timed out", "remote-address", remote)
				n.flood.note(floodSilent)
			default:
				n.logger.Error("TLS handshake failed", "remote-address", remote, "error", err)
			}
			return
		}
		_ = conn.SetDeadline(time.Time{})
	}
	depth := n.lim.readAhead
	sc := &serverConn{
		conn:       conn,
		track:      ct,
		sr:         codec.NewStreamReader(conn),
		free:       make(chan chan RPCResponse, depth),
		queue:      make(chan pendingReply, depth),
		writerDone: make(chan struct{}),
	}
	for i := 0; i < depth; i++ {
		sc.free <- make(chan RPCResponse, 1)
	}
	// Once a request's first byte is in, the rest must arrive within
	// Timeout; the first request keeps its deadline from the accept.
	sc.onFirst = func() {
		sc.started = true
		now := time.Now()
		ct.lastActive.Store(now.UnixNano())
		if sc.m != nil {
			sc.m.MeasureSince(keyGetRPCType, sc.waitStart)
			sc.decodeStart = now
		}
		if ct.served.Load() {
			_ = conn.SetReadDeadline(now.Add(n.lim.timeout))
		}
	}
	go n.writeReplies(sc)
	err := n.readRequests(sc)
	close(sc.queue)
	if err != nil {
		// NB: closing the connection stops the writer too if it is
		// blocked writing; replies still owed are dropped with it.
		_ = conn.Close()
	}
	<-sc.writerDone
	switch {
	case sc.writeErr != nil:
		n.logConnEnd(remote, sc.writeErr, "failed to handle incoming request")
	case errors.Is(err, errHandled):
		// Logged by readRequests already.
	case err != nil && sc.started:
		n.logConnEnd(remote, err, "failed to read incoming request")
	case err != nil && !errors.Is(err, errHandled):
		if !ct.served.Load() && errors.Is(err, os.ErrDeadlineExceeded) && !n.IsShutdown() {
			n.logger.Debug("closing connection that sent no request in time", "remote-address", remote, "timeout", n.lim.timeout)
			n.flood.note(floodSilent)
			return
		}
		n.logConnEnd(remote, err, "")
	}
}

// errHandled marks a failure that readRequests has already logged.
var errHandled = errors.New("handled")

// readRequests is the reader's loop; it returns why it stopped.
func (n *NetworkTransport) readRequests(sc *serverConn) error {
	remote := sc.conn.RemoteAddr().String()
	for {
		// Take a reply slot first: this is the read-ahead bound.
		respCh, ok := n.takeSlot(sc)
		if !ok {
			return nil
		}
		sc.m = n.metricsFor()
		now := time.Now()
		sc.waitStart = now
		if sc.track.served.Load() {
			_ = sc.conn.SetReadDeadline(now.Add(n.lim.idleTimeout))
		} else {
			_ = sc.conn.SetReadDeadline(sc.track.acceptedAt.Add(n.lim.timeout))
		}
		typ, err := n.readRequestFrame(sc)
		if err != nil {
			return err
		}
		if err := n.dispatchRequest(sc, typ, respCh); err != nil {
			n.logConnEnd(remote, err, "failed to handle incoming request")
			return errHandled
		}
		if cap(sc.frame) > maxRetainedScratch {
			sc.frame = nil
		}
	}
}

// takeSlot takes a free reply slot, waiting while the read-ahead bound is
// reached; false if the writer or the transport stopped meanwhile.
func (n *NetworkTransport) takeSlot(sc *serverConn) (chan RPCResponse, bool) {
	// NB: a slot is usually free; the non-blocking receive spares the
	// three-case select (selectgo locks every channel it names).
	select {
	case respCh := <-sc.free:
		return respCh, true
	default:
	}
	select {
	case respCh := <-sc.free:
		return respCh, true
	case <-sc.writerDone:
	case <-n.shutdownCh:
	}
	return nil, false
}

// dispatchRequest decodes the request after its type byte, queues its reply
// slot for the writer and hands it to the engine. An InstallSnapshot's
// handler reads the data from the stream, so for one it returns only once
// the reply is written. An error closes the connection.
func (n *NetworkTransport) dispatchRequest(sc *serverConn, typ uint8, respCh chan RPCResponse) error {
	rpc, snap, err := n.decodeRequest(sc, typ)
	if err != nil {
		return err
	}
	rpc.RespChan = respCh
	pr := pendingReply{respCh: respCh}
	var labels []metrics.Label
	var enqStart time.Time
	if m := sc.m; m != nil {
		req, isAE := rpc.Command.(*AppendEntriesRequest)
		labels = rpcTypeLabels(typ, isAE && IsHeartbeat(req))
		m.MeasureSinceWithLabels(keyRPCDecode, sc.decodeStart, labels)
		enqStart = time.Now()
	}
	// NB: loaded before this request counts: 0 means every earlier reply
	// is written and the writer is idle.
	idle := sc.track.outstanding.Load() == 0
	sc.track.outstanding.Add(1)
	if !sc.track.served.Load() {
		sc.track.served.Store(true)
	}
	if snap != nil {
		_ = sc.conn.SetReadDeadline(time.Now().Add(n.lim.snapshotTimeout(snap.N, n.TimeoutScale)))
		pr.written = make(chan struct{})
	}
	if sc.m != nil {
		pr.m, pr.labels, pr.handedAt = sc.m, labels, time.Now()
	}
	if snap == nil && idle {
		if fn := n.heartbeatFn.Load(); fn != nil {
			if req, ok := rpc.Command.(*AppendEntriesRequest); ok && IsHeartbeat(req) {
				return n.heartbeatInline(sc, rpc, *fn, pr, enqStart)
			}
		}
	}
	// Never blocks: the queue has room for every reply slot. NB: queued
	// before the hand-off, so the writer knows of every request the engine
	// may already have answered and writes all answered replies at once.
	sc.queue <- pr
	if err := n.handOff(rpc); err != nil {
		return err
	}
	if m := sc.m; m != nil {
		m.MeasureSinceWithLabels(keyRPCEnqueue, enqStart, labels)
	}
	if snap != nil {
		select {
		case <-pr.written:
		case <-sc.writerDone:
			return nil // the reader stops at its next slot
		case <-n.shutdownCh:
			return raft.ErrTransportShutdown
		}
		if snap.N > 0 {
			return fmt.Errorf("%w (%d bytes left)", errSnapshotNotDrained, snap.N)
		}
	}
	return nil
}

// heartbeatInline hands a heartbeat to the heartbeat handler when no
// earlier reply of the connection is outstanding. If the handler answered
// before returning (an engine's fast path), the reader writes the reply
// itself, sparing the hand-off to the writer goroutine: nothing is queued
// before it, so replies stay in request order, and the writer, idle, does
// not touch the connection or sc.enc meanwhile (its last write finished
// before outstanding dropped to 0). Otherwise the writer takes the reply
// as usual.
func (n *NetworkTransport) heartbeatInline(sc *serverConn, rpc RPC, fn func(RPC), pr pendingReply, enqStart time.Time) error {
	fn(rpc)
	if m := sc.m; m != nil {
		m.MeasureSinceWithLabels(keyRPCEnqueue, enqStart, pr.labels)
	}
	var resp RPCResponse
	select {
	case resp = <-pr.respCh:
	default:
		sc.queue <- pr // never blocks: the queue has room for every slot
		return nil
	}
	b, err := n.appendReply(sc.inline[:0], sc, resp)
	if err == nil {
		err = n.writeOut(sc, b)
	}
	if cap(b) <= maxRetainedScratch {
		sc.inline = b[:0]
	}
	if err != nil {
		return err // closes the connection
	}
	sc.track.outstanding.Add(-1)
	if pr.m != nil {
		pr.m.MeasureSinceWithLabels(keyRPCRespond, pr.handedAt, pr.labels)
	}
	sc.free <- pr.respCh // never blocks: it came from free
	return nil
}

// handOff gives rpc to the heartbeat handler if it is a heartbeat and one
// is set, else to the engine through Consumer.
func (n *NetworkTransport) handOff(rpc RPC) error {
	req, isAE := rpc.Command.(*AppendEntriesRequest)
	if fn := n.heartbeatFn.Load(); isAE && fn != nil && IsHeartbeat(req) {
		(*fn)(rpc)
		return nil
	}
	// NB: the engine is usually already waiting on Consumer; the
	// non-blocking send then spares a two-case select.
	select {
	case n.consumeCh <- rpc:
		return nil
	default:
	}
	select {
	case n.consumeCh <- rpc:
		return nil
	case <-n.shutdownCh:
		return raft.ErrTransportShutdown
	}
}

// maxCoalescedReplies bounds the bytes of replies the writer gathers into
// one Write. Replies are small (an AppendEntriesResponse is under 100
// bytes), so this only stops a run of unusually large ones from growing the
// buffer past what the retained-scratch bound would then drop.
const maxCoalescedReplies = 64 << 10

// writeReplies is the writer: it waits for each queued request's reply, in
// order, and writes it. Replies that are already available behind it (the
// engine often answers several pipelined AppendEntries at once, after one
// fsync) go out in the same Write; the writer never waits for a reply that
// is not ready just to batch it. It exits when the queue is closed and
// drained, on a write error, or when the transport closes.
func (n *NetworkTransport) writeReplies(sc *serverConn) {
	defer close(sc.writerDone)
	var (
		batch []pendingReply // the replies of one Write, in order; reused
		head  pendingReply   // next in order: taken from the queue, not yet written
		held  bool           // head is set
	)
	for {
		if !held {
			var ok bool
			if head, ok = <-sc.queue; !ok {
				return
			}
		}
		resp, err := n.awaitReply(head)
		if err != nil {
			n.failWriter(sc, err)
			return
		}
		var encErr error
		batch, head, held, encErr = n.encodeReady(sc, batch[:0], head, resp)
		if err := n.flushReplies(sc, batch); err != nil {
			n.failWriter(sc, err)
			return
		}
		if encErr != nil {
			n.failWriter(sc, encErr)
			return
		}
	}
}

// encodeReady encodes into sc.out the reply resp to head and, behind it,
// every queued reply that is available now, in order, up to
// maxCoalescedReplies bytes. It stops at the first request still waiting
// for its reply and returns it as the next head (held true). batch returns
// the requests whose replies sc.out holds whole: if a reply fails to
// encode, sc.out and batch end before it and the error is returned (that
// reply is lost with the connection, which the caller closes).
func (n *NetworkTransport) encodeReady(sc *serverConn, batch []pendingReply, head pendingReply, resp RPCResponse) (_ []pendingReply, next pendingReply, held bool, err error) {
	b := sc.out[:0]
	defer func() { sc.out = b }()
	for {
		mark := len(b)
		if b, err = n.appendReply(b, sc, resp); err != nil {
			b = b[:mark]
			return batch, pendingReply{}, false, err
		}
		batch = append(batch, head)
		if len(b) >= maxCoalescedReplies {
			return batch, pendingReply{}, false, nil
		}
		var ok bool
		select {
		case head, ok = <-sc.queue:
		default:
		}
		if !ok {
			return batch, pendingReply{}, false, nil // nothing queued, or closed
		}
		select {
		case resp = <-head.respCh:
		default:
			return batch, head, true, nil
		}
	}
}

// flushReplies writes the encoded replies of batch in one Write, then
// signals their waiters and returns their slots, so the reader may run that
// much further ahead again.
func (n *NetworkTransport) flushReplies(sc *serverConn, batch []pendingReply) error {
	if len(sc.out) > 0 {
		if err := n.writeOut(sc, sc.out); err != nil {
			return err
		}
	}
	sc.track.outstanding.Add(-int32(len(batch)))
	for i, pr := range batch {
		if pr.m != nil {
			pr.m.MeasureSinceWithLabels(keyRPCRespond, pr.handedAt, pr.labels)
		}
		if pr.written != nil {
			close(pr.written)
		}
		sc.free <- pr.respCh // never blocks: it came from free
		batch[i] = pendingReply{}
	}
	if cap(sc.out) > maxRetainedScratch {
		sc.out = nil
	}
	return nil
}

// awaitReply waits for pr's reply, or the transport's shutdown.
func (n *NetworkTransport) awaitReply(pr pendingReply) (RPCResponse, error) {
	// NB: a one-case select with default is a plain non-blocking receive;
	// the two-case select below costs a full selectgo, so it is taken only
	// when the reply is not there yet.
	select {
	case resp := <-pr.respCh:
		return resp, nil
	default:
	}
	select {
	case resp := <-pr.respCh:
		return resp, nil
	case <-n.shutdownCh:
		return RPCResponse{}, raft.ErrTransportShutdown
	}
}

// failWriter records why the writer stops and closes the connection, which
// also stops the reader.
func (n *NetworkTransport) failWriter(sc *serverConn, err error) {
	sc.writeErr = err
	_ = sc.conn.Close()
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
	var rpc RPC
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

// appendReply appends resp's encoding, [error string][response], to b.
func (n *NetworkTransport) appendReply(b []byte, sc *serverConn, resp RPCResponse) ([]byte, error) {
	var errText string
	if resp.Error != nil {
		errText = resp.Error.Error()
	}
	b = appendString(b, errText)
	switch ae, ok := resp.Response.(*AppendEntriesResponse); {
	case ok && ae != nil && !n.newTimeFormat:
		return appendAppendEntriesResponse(b, ae), nil
	case resp.Response == nil:
		return append(b, 0xc0), nil
	}
	return encodeGeneric(b, &sc.enc, n.newTimeFormat, resp.Response)
}

// writeOut writes encoded replies in one Write, under the write deadline.
func (n *NetworkTransport) writeOut(sc *serverConn, b []byte) error {
	_ = sc.conn.SetWriteDeadline(time.Now().Add(n.lim.timeout))
	if _, err := sc.conn.Write(b); err != nil {
		return fmt.Errorf("write reply: %w", err)
	}
	return nil
}
