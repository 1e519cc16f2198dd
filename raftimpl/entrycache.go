package raftimpl

import raft "github.com/pontoon-raft/raft"

// Bounds of the entry cache: the newest entries appended, up to this many
// and this many Data bytes.
const (
	entryCacheLen   = 2048 // a power of two
	entryCacheBytes = 16 << 20
)

// entryCache holds the newest appended log entries, contiguous by index, so
// the core's reads of what it has just persisted (the entries of the next
// AppendEntries, the term of the entry before them) do not each open a
// LogStore read transaction on the driver's loop.
//
// Invariant: the cached entries are exactly the stored entries lo..hi
// (lo > hi when empty); logStorage keeps it through every write.
type entryCache struct {
	ring   [entryCacheLen]*raft.Log
	lo, hi uint64
	bytes  int
}

func (c *entryCache) empty() bool { return c.lo > c.hi || c.hi == 0 }

// clear forgets everything.
func (c *entryCache) clear() {
	for i := c.lo; i <= c.hi && i != 0; i++ {
		c.ring[i%entryCacheLen] = nil
	}
	c.lo, c.hi, c.bytes = 1, 0, 0
}

// truncateFrom forgets entries at index i and after.
func (c *entryCache) truncateFrom(i uint64) {
	if c.empty() || i > c.hi {
		return
	}
	if i <= c.lo {
		c.clear()
		return
	}
	for j := i; j <= c.hi; j++ {
		c.bytes -= len(c.ring[j%entryCacheLen].Data)
		c.ring[j%entryCacheLen] = nil
	}
	c.hi = i - 1
}

// dropBefore forgets entries below index i.
func (c *entryCache) dropBefore(i uint64) {
	for !c.empty() && c.lo < i {
		c.evictOldest()
	}
}

func (c *entryCache) evictOldest() {
	e := c.ring[c.lo%entryCacheLen]
	c.bytes -= len(e.Data)
	c.ring[c.lo%entryCacheLen] = nil
	c.lo++
	if c.lo > c.hi {
		c.lo, c.hi, c.bytes = 1, 0, 0
	}
}

// add caches entries just stored; they continue the cached ones or replace
// the cache. Oldest entries go when a bound is passed.
func (c *entryCache) add(entries []*raft.Log) {
	if len(entries) == 0 {
		return
	}
	if !c.empty() && entries[0].Index != c.hi+1 {
		c.clear()
	}
	for _, e := range entries {
		// NB: evict first: the new entry may take the oldest one's slot.
		for !c.empty() && (e.Index-c.lo+1 > entryCacheLen || c.bytes+len(e.Data) > entryCacheBytes) {
			c.evictOldest()
		}
		if c.empty() {
			c.lo, c.bytes = e.Index, 0
		}
		c.hi = e.Index
		c.ring[e.Index%entryCacheLen] = e
		c.bytes += len(e.Data)
	}
}

// get returns entry i if cached.
func (c *entryCache) get(i uint64) (*raft.Log, bool) {
	if c.empty() || i < c.lo || i > c.hi {
		return nil, false
	}
	return c.ring[i%entryCacheLen], true
}
