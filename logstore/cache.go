package logstore

import (
	"errors"
	"sync"

	raft "github.com/pontoon-raft/raft"
)

// LogCache keeps the most recently stored entries in memory in front of a
// LogStore, so the engine's reads of recent entries (replication, apply)
// never reach the disk.
//
// It is write-through: StoreLogs writes to the store first and caches the
// entries only once the store has them. A cache hit never touches the
// store; a miss reads the store and does not fill the cache. Memory is
// bounded by capacity entries (plus their Data and Extensions). DeleteRange
// drops the deleted indexes from the cache before deleting them from the
// store, so the cache always holds a subset of what the store holds.
//
// LogCache is only a LogStore: it does not pass StableStore calls through.
// Give the engine the underlying store as its StableStore. IsMonotonic asks
// the wrapped store. The slices of an entry returned by GetLog may be shared
// with the cache: treat them as read-only, as with every LogStore.
//
// Writes (StoreLogs, DeleteRange) are serialized with each other; reads run
// concurrently with them and with each other.
type LogCache struct {
	// store is the wrapped store. Immutable.
	store LogStore
	// writeMu serializes StoreLogs and DeleteRange, so a write's store
	// update and cache update are not interleaved with another write's.
	writeMu sync.Mutex

	mu struct {
		sync.RWMutex
		// ring holds entry i at ring[i%len(ring)]; a slot is valid iff its
		// ok is true, and then log.Index is the entry's index. len(ring) is
		// the capacity and never changes.
		ring []cacheSlot
	}
}

// cacheSlot is one entry of the ring. log's slices point into a buffer the
// slot owns alone and never reuses, so entries handed out stay intact.
type cacheSlot struct {
	log raft.Log
	ok  bool
}

// NewLogCache returns a cache of capacity entries in front of store.
func NewLogCache(capacity int, store LogStore) (*LogCache, error) {
	if capacity <= 0 {
		return nil, errors.New("log cache: capacity must be positive")
	}
	if store == nil {
		return nil, errors.New("log cache: nil store")
	}
	c := &LogCache{store: store}
	c.mu.ring = make([]cacheSlot, capacity)
	return c, nil
}

// IsMonotonic implements MonotonicLogStore by asking the wrapped store.
func (c *LogCache) IsMonotonic() bool {
	if m, ok := c.store.(MonotonicLogStore); ok {
		return m.IsMonotonic()
	}
	return false
}

// FreePages reports the wrapped store's FreePages (0 if it has none): the
// engine paces log compaction by it.
func (c *LogCache) FreePages() int {
	if fp, ok := c.store.(interface{ FreePages() int }); ok {
		return fp.FreePages()
	}
	return 0
}

// GetLog implements LogStore.
func (c *LogCache) GetLog(index uint64, log *raft.Log) error {
	c.mu.RLock()
	slot := &c.mu.ring[index%uint64(len(c.mu.ring))]
	if slot.ok && slot.log.Index == index {
		*log = slot.log
		c.mu.RUnlock()
		return nil
	}
	c.mu.RUnlock()
	return c.store.GetLog(index, log)
}

// StoreLog implements LogStore.
func (c *LogCache) StoreLog(log *raft.Log) error {
	return c.StoreLogs([]*raft.Log{log})
}

// StoreLogs implements LogStore.
func (c *LogCache) StoreLogs(logs []*raft.Log) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.store.StoreLogs(logs); err != nil {
		return err
	}
	// Only the last capacity entries can stay in the ring.
	if n := len(c.mu.ring); len(logs) > n {
		logs = logs[len(logs)-n:]
	}
	copies := make([]raft.Log, len(logs))
	for i, l := range logs {
		copies[i] = copyLog(l)
	}
	c.mu.Lock()
	for i := range copies {
		c.mu.ring[copies[i].Index%uint64(len(c.mu.ring))] = cacheSlot{log: copies[i], ok: true}
	}
	c.mu.Unlock()
	return nil
}

// copyLog returns a copy of l whose Data and Extensions share one new
// buffer. nil stays nil.
func copyLog(l *raft.Log) raft.Log {
	c := *l
	buf := make([]byte, len(l.Data)+len(l.Extensions))
	copy(buf, l.Data)
	copy(buf[len(l.Data):], l.Extensions)
	if l.Data != nil {
		c.Data = buf[:len(l.Data):len(l.Data)]
	}
	if l.Extensions != nil {
		c.Extensions = buf[len(l.Data):]
	}
	return c
}

// FirstIndex implements LogStore.
func (c *LogCache) FirstIndex() (uint64, error) { return c.store.FirstIndex() }

// LastIndex implements LogStore.
func (c *LogCache) LastIndex() (uint64, error) { return c.store.LastIndex() }

// DeleteRange implements LogStore.
func (c *LogCache) DeleteRange(min, max uint64) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if min <= max {
		c.mu.Lock()
		for i := range c.mu.ring {
			s := &c.mu.ring[i]
			if s.ok && s.log.Index >= min && s.log.Index <= max {
				*s = cacheSlot{}
			}
		}
		c.mu.Unlock()
	}
	return c.store.DeleteRange(min, max)
}
