package logstore_test

import (
	"errors"
	"sync/atomic"
	"testing"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/logstore/storetest"
)

// countingStore counts GetLog calls and can fail writes.
type countingStore struct {
	*logstore.InmemStore
	gets      atomic.Int64
	failWrite atomic.Bool
}

var errInjected = errors.New("injected write failure")

func (s *countingStore) GetLog(index uint64, log *raft.Log) error {
	s.gets.Add(1)
	return s.InmemStore.GetLog(index, log)
}

func (s *countingStore) StoreLogs(logs []*raft.Log) error {
	if s.failWrite.Load() {
		return errInjected
	}
	return s.InmemStore.StoreLogs(logs)
}

func (s *countingStore) StoreLog(log *raft.Log) error { return s.StoreLogs([]*raft.Log{log}) }

func TestLogCacheHitsSkipStore(t *testing.T) {
	store := &countingStore{InmemStore: logstore.NewInmemStore()}
	c := newCache(t, 8, store)
	var batch []*raft.Log
	for i := uint64(1); i <= 20; i++ {
		batch = append(batch, storetest.MakeLog(i, 8))
	}
	mustNoErr(t, c.StoreLogs(batch))
	var l raft.Log
	for i := uint64(13); i <= 20; i++ { // the last 8 are cached
		mustNoErr(t, c.GetLog(i, &l))
		storetest.RequireLogEqual(t, storetest.MakeLog(i, 8), &l)
	}
	if n := store.gets.Load(); n != 0 {
		t.Fatalf("%d store reads for cache hits", n)
	}
	mustNoErr(t, c.GetLog(5, &l)) // evicted: read through
	if n := store.gets.Load(); n != 1 {
		t.Fatalf("%d store reads for one miss", n)
	}
	// A miss does not fill the cache.
	mustNoErr(t, c.GetLog(5, &l))
	if n := store.gets.Load(); n != 2 {
		t.Fatalf("%d store reads after two misses", n)
	}
}

func TestLogCacheDeleteRangeCoherent(t *testing.T) {
	store := &countingStore{InmemStore: logstore.NewInmemStore()}
	c := newCache(t, 100, store)
	for i := uint64(1); i <= 10; i++ {
		mustNoErr(t, c.StoreLog(storetest.MakeLog(i, 8)))
	}
	mustNoErr(t, c.DeleteRange(4, 7))
	var l raft.Log
	for i := uint64(4); i <= 7; i++ {
		if err := c.GetLog(i, &l); err != raft.ErrLogNotFound { //nolint:errorlint
			t.Fatalf("GetLog(%d) after delete = %v", i, err)
		}
	}
	// Entries outside the range stay cached.
	before := store.gets.Load()
	mustNoErr(t, c.GetLog(3, &l))
	mustNoErr(t, c.GetLog(8, &l))
	if store.gets.Load() != before {
		t.Fatal("DeleteRange evicted entries outside the range")
	}
	// A rewritten index is served with the new content.
	nl := storetest.MakeLog(5, 3)
	nl.Term = 77
	mustNoErr(t, c.StoreLog(nl))
	mustNoErr(t, c.GetLog(5, &l))
	storetest.RequireLogEqual(t, nl, &l)
}

func TestLogCacheFailedWriteNotCached(t *testing.T) {
	store := &countingStore{InmemStore: logstore.NewInmemStore()}
	c := newCache(t, 100, store)
	mustNoErr(t, c.StoreLog(storetest.MakeLog(1, 8)))
	store.failWrite.Store(true)
	nl := storetest.MakeLog(1, 8)
	nl.Term = 99
	if err := c.StoreLogs([]*raft.Log{nl, storetest.MakeLog(2, 8)}); !errors.Is(err, errInjected) {
		t.Fatalf("StoreLogs = %v", err)
	}
	var l raft.Log
	mustNoErr(t, c.GetLog(1, &l))
	storetest.RequireLogEqual(t, storetest.MakeLog(1, 8), &l)
	if err := c.GetLog(2, &l); err != raft.ErrLogNotFound { //nolint:errorlint
		t.Fatalf("GetLog(2) = %v", err)
	}
}

func TestLogCacheBatchLargerThanCapacity(t *testing.T) {
	store := &countingStore{InmemStore: logstore.NewInmemStore()}
	c := newCache(t, 4, store)
	var batch []*raft.Log
	for i := uint64(1); i <= 10; i++ {
		batch = append(batch, storetest.MakeLog(i, 8))
	}
	mustNoErr(t, c.StoreLogs(batch))
	var l raft.Log
	for i := uint64(7); i <= 10; i++ {
		mustNoErr(t, c.GetLog(i, &l))
		storetest.RequireLogEqual(t, batch[i-1], &l)
	}
	if store.gets.Load() != 0 {
		t.Fatal("the newest entries of an oversized batch were not cached")
	}
}

func TestLogCacheMonotonicAndErrors(t *testing.T) {
	if _, err := logstore.NewLogCache(0, logstore.NewInmemStore()); err == nil {
		t.Fatal("capacity 0 accepted")
	}
	if _, err := logstore.NewLogCache(1, nil); err == nil {
		t.Fatal("nil store accepted")
	}
	if newCache(t, 1, logstore.NewInmemStore()).IsMonotonic() {
		t.Fatal("InmemStore is not monotonic, the cache says it is")
	}
	if !newCache(t, 1, openBolt(t)).IsMonotonic() {
		t.Fatal("BoltStore is monotonic, the cache says it is not")
	}
}
