package raftimpl

import (
	"math/rand"
	"testing"

	raft "github.com/pontoon-raft/raft"
)

// TestEntryCacheModel checks the cache against a plain map of what was
// stored, through appends, truncations, compactions and resets.
func TestEntryCacheModel(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var c entryCache
	stored := map[uint64]*raft.Log{}
	var last uint64
	for step := 0; step < 20000; step++ {
		switch op := rng.Intn(10); {
		case op < 6: // append, maybe replacing a suffix
			first := last + 1
			if last > 0 && rng.Intn(5) == 0 {
				first = last - uint64(rng.Intn(int(min(last, 50))))
			}
			if first <= last {
				c.truncateFrom(first)
				for i := first; i <= last; i++ {
					delete(stored, i)
				}
			}
			n := 1 + rng.Intn(300)
			ents := make([]*raft.Log, n)
			for i := range ents {
				ents[i] = &raft.Log{Index: first + uint64(i), Term: uint64(step), Data: make([]byte, rng.Intn(20000))}
				stored[ents[i].Index] = ents[i]
			}
			c.add(ents)
			last = first + uint64(n) - 1
		case op < 8: // compact
			if last > 0 {
				upTo := last - uint64(rng.Intn(int(min(last, 3000))))
				c.dropBefore(upTo + 1)
				for i := range stored {
					if i <= upTo {
						delete(stored, i)
					}
				}
			}
		case op < 9:
			c.clear()
		}
		if c.bytes < 0 || (!c.empty() && c.hi-c.lo+1 > entryCacheLen) {
			t.Fatalf("step %d: bounds broken: lo %d hi %d bytes %d", step, c.lo, c.hi, c.bytes)
		}
		for i := last + 1; i > 0 && i+4000 > last+1; i-- {
			e, ok := c.get(i)
			if ok && stored[i] != e {
				t.Fatalf("step %d: index %d: cached %v, stored %v", step, i, e, stored[i])
			}
		}
		sum := 0
		for i := c.lo; !c.empty() && i <= c.hi; i++ {
			sum += len(c.ring[i%entryCacheLen].Data)
		}
		if sum != c.bytes || c.bytes > entryCacheBytes {
			t.Fatalf("step %d: bytes %d, cached data %d", step, c.bytes, sum)
		}
		if !c.empty() {
			if _, ok := c.get(c.hi); !ok || c.hi != last {
				t.Fatalf("step %d: newest entry %d not cached (last %d)", step, c.hi, last)
			}
		}
	}
}
