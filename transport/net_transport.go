package transport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"

	raft "github.com/pontoon-raft/raft"
)

// StreamLayer is the connection layer under a NetworkTransport: a listener
// for incoming connections and a dialer for outgoing ones (TCP, TLS, or
// anything stream-shaped). Its Addr is the address peers dial.
type StreamLayer interface {
	net.Listener

	// Dial opens a connection to address, giving up after timeout.
	Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error)
}

// NetworkTransportConfig configures a NetworkTransport. The first seven
// fields are hashicorp/raft's; the rest are Pontoon's limits. Zero values
// select the defaults documented on each field.
type NetworkTransportConfig struct {
	// ServerAddressProvider, if set, maps server IDs to the address to dial,
	// overriding the address a caller passes.
	ServerAddressProvider ServerAddressProvider

	// Logger receives the transport's logs. Nil means an hclog logger named
	// "raft-net" writing to stderr.
	Logger hclog.Logger

	// Stream is the connection layer. Required.
	Stream StreamLayer

	// MaxPool is how many idle connections are kept per peer (and, apart,
	// per peer for heartbeats). 0 keeps none.
	MaxPool int

	// MaxRPCsInFlight is how many AppendEntries one pipeline may have
	// outstanding: 0 means DefaultMaxRPCsInFlight (8; hashicorp's is 2), 1
	// disables pipelining (AppendEntriesPipeline then returns
	// raft.ErrPipelineReplicationNotSupported).
	MaxRPCsInFlight int

	// Timeout bounds every network operation of one RPC: dial, write, and
	// the wait for the reply. InstallSnapshot gets Timeout per TimeoutScale
	// bytes. On the server side it bounds the time to receive one request
	// once its first byte has arrived, and the time from accepting a
	// connection to its first complete request (a connection that sends
	// nothing is closed after Timeout, not IdleTimeout). 0 means
	// DefaultTimeout.
	Timeout time.Duration

	// MsgpackUseNewTimeFormat writes Log.AppendedAt in the msgpack timestamp
	// layout instead of time.MarshalBinary bytes. Leave false to talk to
	// hashicorp/raft nodes with their default settings.
	MsgpackUseNewTimeFormat bool

	// MaxMessageSize bounds one msgpack request or reply in bytes (snapshot
	// data excluded). A peer that sends more has its connection closed. 0
	// means DefaultMaxMessageSize.
	MaxMessageSize int

	// MaxAppendEntries bounds the entries of one AppendEntries, sent or
	// received. 0 means DefaultMaxAppendEntries.
	MaxAppendEntries int

	// IdleTimeout closes a server-side connection that receives no request
	// for this long. 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration

	// MaxInboundConns bounds the accepted connections served at once. At
	// the limit a new connection is admitted by closing an idle one: first
	// the oldest that has not yet delivered a complete request, else the
	// one with nothing outstanding that was active longest ago; only when
	// every connection has a request in the engine is the new one closed.
	// So connections that never send anything cannot lock a cluster peer
	// out. 0 means DefaultMaxInboundConns.
	MaxInboundConns int

	// ServerReadAhead bounds how many requests of one connection the server
	// has handed to the engine and not yet answered: it reads and decodes
	// a pipeline's next AppendEntries while earlier ones are being
	// persisted, and writes the replies in request order. 0 means
	// DefaultServerReadAhead; 1 serves one request at a time.
	ServerReadAhead int

	// Metrics receives the transport's metrics (raft.net.getRPCType,
	// rpcDecode, rpcEnqueue, rpcRespond, as hashicorp/raft's). Nil means
	// go-metrics' global instance, looked up per request as hashicorp's
	// global calls do; while that is still the library's initial black hole
	// the transport skips the timing altogether.
	Metrics *metrics.Metrics
}

// NetworkTransport is a Transport over a StreamLayer whose frames are
// byte-compatible with hashicorp/raft's NetworkTransport: a Pontoon node and
// a hashicorp node can talk in either direction.
//
// Wire format (no length prefix, no version byte): a request is one type
// byte (AppendEntries 0, RequestVote 1, InstallSnapshot 2, TimeoutNow 3,
// RequestPreVote 4) and one msgpack map keyed by field name; InstallSnapshot
// is followed by exactly Size raw bytes. A reply is a msgpack string (the
// remote error, "" if none) and the msgpack response (nil after an error).
// AppendEntries and its response are encoded and decoded by hand on the hot
// path, producing go-msgpack's bytes exactly; every other form goes through
// go-msgpack (internal/codec).
//
// Client side: connections are pooled per target; heartbeats use a pool of
// their own so they never wait behind replication. Each RPC gets Timeout for
// the whole exchange. Server side: per accepted connection, a reader hands
// requests to Consumer (heartbeats to the heartbeat handler), up to
// ServerReadAhead ahead of their replies, and a writer writes the replies
// in request order.
//
// Limits: a request or reply larger than MaxMessageSize, an AppendEntries
// with more than MaxAppendEntries entries, an unknown type byte or malformed
// msgpack closes the connection (logged, errors wrapping
// raft.ErrMessageTooLarge or raft.ErrCorrupt). A frame is delimited before
// it is decoded, and a declared length is checked against the limit before
// anything is allocated for it, so a tiny frame claiming a 4 GiB string
// costs nothing. A server connection idle for IdleTimeout, or whose request
// does not arrive within Timeout of its first byte, is closed; so is a new
// connection that has not delivered a complete request within Timeout of
// being accepted. At MaxInboundConns, idle connections are evicted to admit
// new ones (see the field). Floods are reported at WARN at most every 10 s.
type NetworkTransport struct {
	// TimeoutScale is the snapshot size per Timeout an InstallSnapshot is
	// allowed (DefaultTimeoutScale). Set it before the transport is used.
	TimeoutScale int

	// Immutable after construction.
	stream        StreamLayer
	logger        hclog.Logger
	lim           limits
	maxPool       int
	maxInFlight   int
	newTimeFormat bool
	addrProvider  ServerAddressProvider
	metrics       *metrics.Metrics // nil: go-metrics' global (metricsFor)

	// consumeCh carries incoming RPCs to the engine (unbuffered).
	consumeCh chan RPC
	// shutdownCh is closed by Close.
	shutdownCh chan struct{}
	// wg counts every goroutine the transport started; Close waits for it.
	wg sync.WaitGroup

	heartbeatFn atomic.Pointer[func(RPC)]

	// flood reports connection floods, rate-limited.
	flood floodLog

	mu struct {
		sync.Mutex
		shutdown bool
		// pool holds idle client connections, most recently returned last.
		pool map[poolKey][]*clientConn
		// clientConns holds every open client connection, idle or in use,
		// so Close can fail pending calls.
		clientConns map[*clientConn]struct{}
		// serverConns holds every accepted connection still being served,
		// at most lim.maxInboundConns.
		serverConns map[net.Conn]*connTrack
		// pipelines holds every open pipeline.
		pipelines map[*netPipeline]struct{}
		// noReadIndex holds the targets found not to answer ReadIndex, with
		// when (see ReadIndex); created on first use.
		noReadIndex map[raft.ServerAddress]time.Time
	}
}

var (
	_ Transport   = (*NetworkTransport)(nil)
	_ WithPreVote = (*NetworkTransport)(nil)
	_ WithClose   = (*NetworkTransport)(nil)

	_ WithReadIndex        = (*NetworkTransport)(nil)
	_ WithReadIndexSupport = (*NetworkTransport)(nil)
)

// NewNetworkTransportWithConfig starts a transport on config.Stream. It
// serves the stream at once; Close stops it.
func NewNetworkTransportWithConfig(config *NetworkTransportConfig) *NetworkTransport {
	logger := config.Logger
	if logger == nil {
		logger = hclog.New(&hclog.LoggerOptions{Name: "raft-net", Output: hclog.DefaultOutput, Level: hclog.DefaultLevel})
	}
	maxInFlight := config.MaxRPCsInFlight
	if maxInFlight == 0 {
		maxInFlight = DefaultMaxRPCsInFlight
	}
	n := &NetworkTransport{
		TimeoutScale:  DefaultTimeoutScale,
		stream:        config.Stream,
		logger:        logger,
		lim:           newLimits(config),
		maxPool:       config.MaxPool,
		maxInFlight:   maxInFlight,
		newTimeFormat: config.MsgpackUseNewTimeFormat,
		addrProvider:  config.ServerAddressProvider,
		metrics:       config.Metrics,
		consumeCh:     make(chan RPC),
		shutdownCh:    make(chan struct{}),
	}
	n.mu.pool = make(map[poolKey][]*clientConn)
	n.mu.clientConns = make(map[*clientConn]struct{})
	n.mu.serverConns = make(map[net.Conn]*connTrack)
	n.flood.logger = logger
	n.flood.limit, n.flood.interval = n.lim.maxInboundConns, floodLogInterval
	n.mu.pipelines = make(map[*netPipeline]struct{})
	n.wg.Add(1)
	go n.listen()
	return n
}

// NewNetworkTransport starts a transport on stream, logging to logOutput
// (stderr if nil).
func NewNetworkTransport(stream StreamLayer, maxPool int, timeout time.Duration, logOutput io.Writer) *NetworkTransport {
	if logOutput == nil {
		logOutput = os.Stderr
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft-net", Output: logOutput, Level: hclog.DefaultLevel})
	return NewNetworkTransportWithLogger(stream, maxPool, timeout, logger)
}

// NewNetworkTransportWithLogger starts a transport on stream with logger.
func NewNetworkTransportWithLogger(stream StreamLayer, maxPool int, timeout time.Duration, logger hclog.Logger) *NetworkTransport {
	return NewNetworkTransportWithConfig(&NetworkTransportConfig{Stream: stream, MaxPool: maxPool, Timeout: timeout, Logger: logger})
}

// SetHeartbeatHandler implements Transport. cb runs on the connection's
// goroutine and must respond promptly.
func (n *NetworkTransport) SetHeartbeatHandler(cb func(rpc RPC)) {
	if cb == nil {
		n.heartbeatFn.Store(nil)
		return
	}
	n.heartbeatFn.Store(&cb)
}

// Consumer implements Transport.
func (n *NetworkTransport) Consumer() <-chan RPC { return n.consumeCh }

// LocalAddr implements Transport: the stream's (advertised) address.
func (n *NetworkTransport) LocalAddr() raft.ServerAddress {
	return raft.ServerAddress(n.stream.Addr().String())
}

// EncodePeer implements Transport: the address bytes, after any
// ServerAddressProvider override.
func (n *NetworkTransport) EncodePeer(id raft.ServerID, addr raft.ServerAddress) []byte {
	return []byte(n.resolve(id, addr))
}

// DecodePeer implements Transport.
func (n *NetworkTransport) DecodePeer(buf []byte) raft.ServerAddress {
	return raft.ServerAddress(buf)
}

// IsShutdown reports whether Close has been called.
func (n *NetworkTransport) IsShutdown() bool {
	select {
	case <-n.shutdownCh:
		return true
	default:
		return false
	}
}

// Close implements WithClose: it stops accepting, closes every connection
// (failing pending calls with raft.ErrTransportShutdown) and every pipeline,
// and waits for every goroutine the transport started. A heartbeat handler
// that never responds would keep it waiting. Idempotent.
func (n *NetworkTransport) Close() error {
	n.mu.Lock()
	if n.mu.shutdown {
		n.mu.Unlock()
		return nil
	}
	n.mu.shutdown = true
	close(n.shutdownCh)
	clients := make([]*clientConn, 0, len(n.mu.clientConns))
	for c := range n.mu.clientConns {
		clients = append(clients, c)
	}
	servers := make([]net.Conn, 0, len(n.mu.serverConns))
	for c := range n.mu.serverConns {
		servers = append(servers, c)
	}
	pipes := make([]*netPipeline, 0, len(n.mu.pipelines))
	for p := range n.mu.pipelines {
		pipes = append(pipes, p)
	}
	n.mu.pool = make(map[poolKey][]*clientConn)
	n.mu.Unlock()

	err := n.stream.Close()
	for _, c := range clients {
		_ = c.conn.Close()
	}
	for _, c := range servers {
		_ = c.Close()
	}
	for _, p := range pipes {
		_ = p.Close()
	}
	n.wg.Wait()
	n.flood.stop()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close stream: %w", err)
	}
	return nil
}

// CloseStreams closes every idle pooled connection and every accepted
// connection, so later RPCs start on fresh connections. The transport keeps
// running.
func (n *NetworkTransport) CloseStreams() {
	n.mu.Lock()
	var idle []*clientConn
	for k, conns := range n.mu.pool {
		idle = append(idle, conns...)
		delete(n.mu.pool, k)
	}
	for _, c := range idle {
		delete(n.mu.clientConns, c)
	}
	servers := make([]net.Conn, 0, len(n.mu.serverConns))
	for c := range n.mu.serverConns {
		servers = append(servers, c)
	}
	n.mu.Unlock()
	for _, c := range idle {
		_ = c.conn.Close()
	}
	for _, c := range servers {
		_ = c.Close()
	}
}

// resolve returns the address to use for id: the provider's, or addr.
func (n *NetworkTransport) resolve(id raft.ServerID, addr raft.ServerAddress) raft.ServerAddress {
	if n.addrProvider == nil {
		return addr
	}
	a, err := n.addrProvider.ServerAddr(id)
	if err != nil {
		n.logger.Warn("unable to get address for server, using fallback address", "id", id, "fallback", addr, "error", err)
		return addr
	}
	return a
}

// wrapIOErr turns an I/O failure into the error a caller sees:
// raft.ErrTransportShutdown if the transport closed under it.
func (n *NetworkTransport) wrapIOErr(err error) error {
	if n.IsShutdown() && !errors.Is(err, raft.ErrTransportShutdown) {
		return fmt.Errorf("%w: %w", raft.ErrTransportShutdown, err)
	}
	return err
}

// MaxRPCsInFlight reports how many AppendEntries one pipeline may have
// outstanding. An engine that sends no more than this never blocks in
// AppendPipeline.AppendEntries, and can merge what queues meanwhile.
func (n *NetworkTransport) MaxRPCsInFlight() int { return n.maxInFlight }
