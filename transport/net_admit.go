package transport

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// connTrack is what the accept loop knows of one served connection, to pick
// a connection to evict when MaxInboundConns is reached. The reader and
// writer of the connection update it; the accept loop reads it under n.mu.
type connTrack struct {
	conn net.Conn
	// acceptedAt is when the connection was accepted. Immutable.
	acceptedAt time.Time
	// served is set once the connection delivered its first complete
	// request. Until then it is a candidate for eviction before any other.
	served atomic.Bool
	// lastActive is the UnixNano time a request last began to arrive (its
	// first byte); 0 before the first.
	lastActive atomic.Int64
	// outstanding counts requests handed to the engine whose replies are not
	// yet written. A connection with outstanding requests is never evicted.
	outstanding atomic.Int32
}

// admitLocked makes room for one more connection if the limit is reached,
// by evicting an idle one (evictionRank orders the candidates). It returns
// false if every connection is busy (the new one is then refused). The
// caller closes the evicted connection (if not nil) after releasing n.mu.
// n.mu must be held.
//
// NB: a cluster peer writes its first request right after dialing, so its
// new connection is served long before a flood evicts it: among the
// connections that have sent nothing it is the youngest, and the oldest go
// first.
func (n *NetworkTransport) admitLocked() (ok bool, evicted net.Conn) {
	if len(n.mu.serverConns) < n.lim.maxInboundConns {
		return true, nil
	}
	var (
		victim   *connTrack
		bestRank = numEvictionRanks
		bestKey  int64
	)
	for _, ct := range n.mu.serverConns {
		rank, key := ct.evictionRank()
		if rank < bestRank || (rank == bestRank && key < bestKey) {
			victim, bestRank, bestKey = ct, rank, key
		}
	}
	if victim == nil {
		return false, nil
	}
	// NB: removed here, not by its reader when it exits, so the slot is
	// free at once; the reader's delete is then a no-op.
	delete(n.mu.serverConns, victim.conn)
	return true, victim.conn
}

// Eviction ranks, most evictable first.
const (
	// evictSilent: no byte of any request received yet.
	evictSilent = iota
	// evictUnserved: a first request begun but not complete.
	evictUnserved
	// evictIdle: served before, nothing outstanding now.
	evictIdle
	// numEvictionRanks also marks a connection that is never evicted: it
	// has requests in the engine.
	numEvictionRanks
)

// evictionRank returns how evictable ct is and, within the rank, a key
// ordering the candidates (smaller goes first): the accept time for
// connections that were never served, the last activity for idle ones.
func (ct *connTrack) evictionRank() (rank int, key int64) {
	switch {
	case !ct.served.Load() && ct.lastActive.Load() == 0:
		return evictSilent, ct.acceptedAt.UnixNano()
	case !ct.served.Load():
		return evictUnserved, ct.acceptedAt.UnixNano()
	case ct.outstanding.Load() == 0:
		return evictIdle, ct.lastActive.Load()
	}
	return numEvictionRanks, 0
}

// floodKind is one kind of event a connection flood causes.
type floodKind int

const (
	// floodEvicted: an idle connection was closed to admit a new one.
	floodEvicted floodKind = iota
	// floodRefused: a new connection was closed, every other one busy.
	floodRefused
	// floodSilent: a connection delivered no complete request within
	// Timeout of being accepted.
	floodSilent
	numFloodKinds
)

// floodLogInterval is the least time between two flood reports.
const floodLogInterval = 10 * time.Second

// floodLog reports connection-flood events at WARN, at most once per
// floodLogInterval, with the counts since the last report, so a flood of
// thousands of connections gives a few lines rather than one per
// connection (those are at DEBUG). The first event is reported at once;
// events within the interval are reported together when it ends.
type floodLog struct {
	logger hclog.Logger
	mu     struct {
		sync.Mutex
		// last is when the last report was written (zero: never).
		last time.Time
		// counts are the events since the last report, by kind.
		counts [numFloodKinds]int
		// flush, when not nil, reports the counts when the interval ends.
		flush *time.Timer
		// stopped is set by stop: no more timers.
		stopped bool
	}
	// limit is MaxInboundConns, for the report; interval the least time
	// between reports (floodLogInterval). Immutable.
	limit    int
	interval time.Duration
}

// note counts one event and reports if the interval has passed, else
// makes sure a report follows when it does.
func (f *floodLog) note(kind floodKind) {
	f.mu.Lock()
	f.mu.counts[kind]++
	now := time.Now()
	if wait := f.interval - now.Sub(f.mu.last); !f.mu.last.IsZero() && wait > 0 {
		if f.mu.flush == nil && !f.mu.stopped {
			f.mu.flush = time.AfterFunc(wait, f.report)
		}
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	f.report()
}

// report writes the counts since the last report, if any.
func (f *floodLog) report() {
	f.mu.Lock()
	c := f.mu.counts
	f.mu.counts = [numFloodKinds]int{}
	f.mu.flush = nil
	if c == ([numFloodKinds]int{}) {
		f.mu.Unlock()
		return
	}
	f.mu.last = time.Now()
	f.mu.Unlock()
	f.logger.Warn("inbound connection flood: connections that sent no request are being closed",
		"evicted-idle", c[floodEvicted], "refused", c[floodRefused],
		"no-request-in-time", c[floodSilent], "limit", f.limit,
		"next-report-in", f.interval)
}

// stop cancels a pending report (the transport is closing).
func (f *floodLog) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.stopped = true
	if f.mu.flush != nil {
		f.mu.flush.Stop()
		f.mu.flush = nil
	}
}
