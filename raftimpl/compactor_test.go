package raftimpl

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
)

// rangeRecorder records DeleteRange calls.
type rangeRecorder struct {
	*logstore.InmemStore
	mu     sync.Mutex
	ranges [][2]uint64
}

func (r *rangeRecorder) DeleteRange(lo, hi uint64) error {
	r.mu.Lock()
	r.ranges = append(r.ranges, [2]uint64{lo, hi})
	r.mu.Unlock()
	return r.InmemStore.DeleteRange(lo, hi)
}

// A large compaction is deleted in bounded chunks, in order, covering the
// whole range once, and requests made meanwhile extend it.
func TestCompactorDeletesInChunks(t *testing.T) {
	store := &rangeRecorder{InmemStore: logstore.NewInmemStore()}
	const n = 3*compactChunk + 100
	logs := make([]*raft.Log, n)
	for i := range logs {
		logs[i] = &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand}
	}
	if err := store.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	c := newCompactor(store, hclog.NewNullLogger(), metricSink{})
	c.deleteRange(1, 2*compactChunk)
	c.deleteRange(1, n-50)
	waitFor(t, 5*time.Second, "the compaction to finish", func() bool { return !c.pending() })
	c.stop()
	store.mu.Lock()
	defer store.mu.Unlock()
	next := uint64(1)
	for _, r := range store.ranges {
		if r[0] != next || r[1] < r[0] || r[1]-r[0]+1 > compactChunk {
			t.Fatalf("ranges %v: %v is not the next chunk from %d", store.ranges, r, next)
		}
		next = r[1] + 1
	}
	if next != n-50+1 {
		t.Fatalf("ranges %v end at %d, want %d", store.ranges, next-1, n-50)
	}
	if first, _ := store.FirstIndex(); first != n-50+1 {
		t.Fatalf("first index %d after compaction, want %d", first, n-50+1)
	}
}

// stop returns promptly even with a large range pending.
func TestCompactorStops(t *testing.T) {
	store := &rangeRecorder{InmemStore: logstore.NewInmemStore()}
	c := newCompactor(store, hclog.NewNullLogger(), metricSink{})
	c.deleteRange(1, 1<<40)
	c.stop()
}

// pagedStore reports a settable number of free pages.
type pagedStore struct {
	*rangeRecorder
	free atomic.Int64
}

func (p *pagedStore) FreePages() int { return int(p.free.Load()) }

// Deletions wait while the store holds many free pages, and go on once
// appends have reused them.
func TestCompactorPacesByFreePages(t *testing.T) {
	store := &pagedStore{rangeRecorder: &rangeRecorder{InmemStore: logstore.NewInmemStore()}}
	store.free.Store(compactFreePageLimit + 5000)
	c := newCompactor(store, hclog.NewNullLogger(), metricSink{})
	defer c.stop()
	c.deleteRange(1, 2*compactChunk)
	// Free pages shrink (appends reuse them) but stay above the limit:
	// nothing is deleted meanwhile.
	for i := 0; i < 20; i++ {
		store.free.Add(-100)
		time.Sleep(compactPollInterval / 2)
		store.mu.Lock()
		n := len(store.ranges)
		store.mu.Unlock()
		if n != 0 {
			t.Fatalf("deleted %d chunks while %d pages were free", n, store.free.Load())
		}
	}
	store.free.Store(compactFreePageLimit)
	waitFor(t, 5*time.Second, "the compaction to finish", func() bool { return !c.pending() })
}
