package transport

import (
	"math"
	"time"
)

// Defaults of NetworkTransportConfig's fields.
const (
	// DefaultMaxRPCsInFlight is how many pipelined AppendEntries may be
	// outstanding on one pipeline when MaxRPCsInFlight is 0. hashicorp/raft's
	// default is 2; Pontoon's engine keeps two requests outstanding while
	// they are small and uses the rest for full ones (MaxAppendEntries
	// each), so that with hashicorp's MaxAppendEntries of 64 more than 128
	// entries can be on their way to a follower under load. Larger values
	// help on links with a long round trip; 1 turns pipelining off.
	DefaultMaxRPCsInFlight = 8

	// DefaultServerReadAhead is how many requests of one connection the
	// server hands to the engine before their replies are written when
	// ServerReadAhead is 0. Pipelined AppendEntries that reach the engine
	// together are persisted together (one fsync).
	DefaultServerReadAhead = 16

	// DefaultTimeoutScale is the snapshot size per multiple of Timeout an
	// InstallSnapshot is given (hashicorp's value).
	DefaultTimeoutScale = 256 * 1024

	// DefaultMaxMessageSize bounds one msgpack request or response (not
	// InstallSnapshot data, which streams).
	DefaultMaxMessageSize = 64 << 20

	// DefaultMaxAppendEntries bounds the entries of one AppendEntries. It is
	// the highest MaxAppendEntries hashicorp/raft's ValidateConfig accepts.
	DefaultMaxAppendEntries = 1024

	// DefaultIdleTimeout is how long a server-side connection may sit between
	// requests before it is closed. Pontoon clients drop pooled connections
	// idle for half of it, so they never reuse one the server is about to
	// close. hashicorp/raft clients do not: their next RPC on such a
	// connection fails once and is retried, which is why the default is
	// long.
	DefaultIdleTimeout = 5 * time.Minute

	// DefaultMaxInboundConns bounds the connections a server serves at once.
	// A peer uses up to MaxPool pooled connections, as many again for
	// heartbeats, one per pipeline and one per snapshot, so this leaves room
	// for clusters of well over a hundred nodes.
	DefaultMaxInboundConns = 1024

	// DefaultTimeout is used when Timeout is 0: every network read and write
	// gets a deadline, so a silent peer cannot hold a caller forever.
	DefaultTimeout = 10 * time.Second

	// minInFlightForPipelining is the smallest MaxRPCsInFlight that enables
	// pipelining.
	minInFlightForPipelining = 2

	// Buffer sizes per connection.
	connReadBufferSize  = 16 * 1024
	connWriteBufferSize = 256 * 1024

	// maxRetainedScratch is the largest frame buffer a connection keeps
	// between messages; larger ones are dropped after use.
	maxRetainedScratch = 1 << 20
)

// limits are the normalized bounds a transport enforces.
type limits struct {
	maxMessageSize   int
	maxAppendEntries int
	idleTimeout      time.Duration
	timeout          time.Duration
	maxInboundConns  int
	readAhead        int
}

func newLimits(c *NetworkTransportConfig) limits {
	l := limits{
		maxMessageSize:   c.MaxMessageSize,
		maxAppendEntries: c.MaxAppendEntries,
		idleTimeout:      c.IdleTimeout,
		timeout:          c.Timeout,
		maxInboundConns:  c.MaxInboundConns,
		readAhead:        c.ServerReadAhead,
	}
	if l.readAhead <= 0 {
		l.readAhead = DefaultServerReadAhead
	}
	if l.maxInboundConns <= 0 {
		l.maxInboundConns = DefaultMaxInboundConns
	}
	if l.maxMessageSize <= 0 {
		l.maxMessageSize = DefaultMaxMessageSize
	}
	if l.maxAppendEntries <= 0 {
		l.maxAppendEntries = DefaultMaxAppendEntries
	}
	if l.idleTimeout <= 0 {
		l.idleTimeout = DefaultIdleTimeout
	}
	if l.timeout <= 0 {
		l.timeout = DefaultTimeout
	}
	return l
}

// snapshotTimeout is the deadline for an InstallSnapshot carrying size bytes:
// timeout per scale bytes, never less than timeout.
func (l limits) snapshotTimeout(size int64, scale int) time.Duration {
	if scale <= 0 {
		scale = DefaultTimeoutScale
	}
	mult := size / int64(scale)
	if mult > 0 && mult > int64(math.MaxInt64/l.timeout) {
		return time.Duration(math.MaxInt64) // no overflow into a past deadline
	}
	t := l.timeout * time.Duration(mult)
	if t < l.timeout {
		t = l.timeout
	}
	return t
}
