package raftimpl

import (
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/pontoon-raft/raft/logstore"
)

// compactChunk bounds the entries one compaction transaction deletes: a
// log of millions of entries (a busy cluster between two snapshots) deleted
// in one bbolt transaction held gigabytes of dirty pages and stalled the
// node's writes for seconds.
const compactChunk = 16384

// compactor deletes compacted log entries from the LogStore in bounded
// chunks on its own goroutine, so neither the driver's loop nor the log
// writer waits for a large deletion. The driver has already moved its first
// index past the range (the core never reads there again), and the range
// lies below every entry being written, so the deletion races nothing; a
// crash midway leaves a stored prefix that the next compaction removes.
type compactor struct {
	logs    logstore.LogStore
	logger  hclog.Logger
	metrics metricSink
	mu      sync.Mutex
	// lo, hi is the range still to delete (lo > hi: nothing).
	lo, hi uint64
	wake   chan struct{}
	stopCh chan struct{}
	done   chan struct{}
}

func newCompactor(logs logstore.LogStore, logger hclog.Logger, m metricSink) *compactor {
	c := &compactor{logs: logs, logger: logger, metrics: m, lo: 1, wake: make(chan struct{}, 1),
		stopCh: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// deleteRange asks for entries lo..hi to be deleted; it never blocks. A
// pending range is extended (ranges arrive in increasing order).
func (c *compactor) deleteRange(lo, hi uint64) {
	c.mu.Lock()
	if c.lo > c.hi {
		c.lo = lo
	}
	c.hi = max(c.hi, hi)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// pending reports whether entries remain to be deleted.
func (c *compactor) pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lo <= c.hi
}

func (c *compactor) run() {
	defer close(c.done)
	for {
		select {
		case <-c.wake:
		case <-c.stopCh:
			return
		}
		for {
			c.mu.Lock()
			lo, hi := c.lo, min(c.hi, c.lo+compactChunk-1)
			c.mu.Unlock()
			if lo > hi {
				break
			}
			if !c.paceFreePages() {
				return
			}
			start := time.Now()
			err := c.logs.DeleteRange(lo, hi)
			c.metrics.MeasureSince(keyRemoveOldLogs, start)
			if err != nil {
				// The entries stay stored below the first index; the next
				// compaction after a restart starts from them again.
				c.logger.Error("log compaction failed", "from", lo, "to", hi, "error", err)
			}
			c.mu.Lock()
			c.lo = hi + 1
			c.mu.Unlock()
			select {
			case <-c.stopCh:
				return
			default:
			}
		}
	}
}

// freePager is a LogStore that reports its free pages (BoltStore).
type freePager interface{ FreePages() int }

// Pacing of deletions against the store's free pages.
const (
	compactFreePageLimit = 1024
	compactPollInterval  = 20 * time.Millisecond
)

// paceFreePages waits, before a chunk is deleted, while the store holds more
// than compactFreePageLimit free pages: bbolt writes its whole freelist on
// every commit, so freeing millions of entries' pages at once made every
// later write slow and allocation-heavy (heap over 1 GB, throughput down
// from ~65k to ~8k ops/s) until the log grew back into them. Deleting only
// as appends reuse the freed pages keeps the freelist short. Deleting
// sooner would gain nothing: bbolt never shrinks its file, it only reuses
// free pages. It reports false if the compactor is stopping.
func (c *compactor) paceFreePages() bool {
	fp, ok := c.logs.(freePager)
	if !ok {
		return true
	}
	for fp.FreePages() > compactFreePageLimit {
		select {
		case <-c.stopCh:
			return false
		case <-time.After(compactPollInterval):
		}
	}
	return true
}

// stop ends the compactor after the chunk in progress.
func (c *compactor) stop() {
	close(c.stopCh)
	<-c.done
}
